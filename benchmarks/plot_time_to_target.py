"""Draw time-to-target runs side by side: each recovery score against iterations.

    python benchmarks/plot_time_to_target.py benchmarks/measured/time-to-target-*.csv \
        --out benchmarks/measured/time-to-target-sigma-0p5.png

Reads the score history that ``bench_time_to_target.py --history`` writes (or any CSV with
an ``iteration`` column and the metric columns); rows without scores are skipped. The dashed
lines are the published σ = 0.5 values (the benchmark's targets).
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from bench_time_to_target import TARGETS

PANELS = {"W_corrected_R2": "W corrected R²", "tau_R2": "τ R²", "V_rest_R2": "V_rest R²"}


def read_scores(path: Path) -> list[dict[str, float]]:
    rows = []
    with path.open() as handle:
        for row in csv.DictReader(handle):
            try:
                values = {k: float(row[k]) for k in ("iteration", *PANELS)}
            except (KeyError, ValueError):
                continue
            if all(math.isfinite(v) for v in values.values()):
                rows.append(values)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("histories", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from flygnn.atomic import atomic_path

    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.0 * len(PANELS), 3.6))
    for path in args.histories:
        rows = [r for r in read_scores(path) if r["iteration"] > 0]
        if not rows:
            raise SystemExit(f"{path}: no scored rows")
        label = path.stem.removeprefix("time-to-target-")
        for ax, metric in zip(axes, PANELS, strict=False):
            # 1 − R² on a log axis: the last digits are where the runs differ
            ax.plot([r["iteration"] for r in rows], [1 - r[metric] for r in rows], marker="o", ms=3, label=label)
    for ax, (metric, title) in zip(axes, PANELS.items(), strict=False):
        ax.axhline(1 - TARGETS[metric], color="0.3", ls="--", lw=1, label="published")
        ax.set_yscale("log")
        ax.set_title(f"1 − {title} (published {TARGETS[metric]})")
        ax.set_xlabel("iteration")
    # one legend for the three panels, below them, so that no curve hides behind it
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), fontsize=8, frameon=False)
    fig.suptitle("σ = 0.5, cpu preset, from a fresh start: scores by upstream's rules (lower is better)")
    fig.tight_layout(rect=(0, 0.06 + 0.04 * math.ceil(len(labels) / 3), 1, 1))
    with atomic_path(args.out) as tmp:
        fig.savefig(tmp, dpi=120, format=args.out.suffix.lstrip("."))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
