"""How reliably a recipe reaches the published row: time to target across replicate runs.

``bench_time_to_target.py`` times one training run. One run is an anecdote: this script
reads the committed score histories of every replicate run of a recipe at one σ
(``data/replicates/histories/*.csv``, scored by upstream's rules every 1,000 iterations
while they trained) and prints, for each published value, in how many runs and at which
iteration it was first reached, and each run's final scores. Nothing is trained.

Iterations, not the runs' own wall times, are what compares: the replicates trained on one
thread beside other jobs. To read an iteration as minutes on the idle 2-core machine,
divide by the measured rate (``--rate``, default 8.9 iterations/s at B = 4 on 2 threads:
``measured/time-to-target-sigma-0p5-cpu-2-threads-B4-schedule.txt``).

    python benchmarks/replicate_time_to_target.py                    # fast recipe, σ = 0.5
    python benchmarks/replicate_time_to_target.py --sigma 0.05 --stimulus mixed
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
from pathlib import Path

from flygnn.replicate_runs import read_replicates

ROOT = Path(__file__).resolve().parents[1]
# |slope − 1| within this of the published |slope − 1| counts as reached (bench_time_to_target.py's rule)
SLOPE_TOLERANCE = 0.02


def published_row(sigma: float) -> dict[str, float]:
    """metric → the study's value at ``sigma`` (data/published.yaml)."""
    import yaml

    rows = yaml.safe_load((ROOT / "data" / "published.yaml").read_text())["rows"]
    return {
        row["metric"]: float(value)
        for row in rows
        for s, value in (row.get("published") or {}).items()
        if math.isclose(float(s), sigma)
    }


def reached(metric: str, value: float, target: float) -> bool:
    if metric.endswith("slope"):
        return abs(value - 1.0) <= SLOPE_TOLERANCE
    return value >= target


def first_reached(history: Path, targets: dict[str, float]) -> tuple[dict[str, int | None], dict[str, float]]:
    """metric → the first scored iteration at which the target was met (None: never), and the last scores."""
    with history.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("tau_R2")]
    first: dict[str, int | None] = dict.fromkeys(targets)
    for row in rows:
        for metric, target in targets.items():
            if first[metric] is None and reached(metric, float(row[metric]), target):
                first[metric] = int(row["iteration"])
    last = {metric: float(rows[-1][metric]) for metric in targets} if rows else {}
    return first, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--stimulus", default="natural")
    parser.add_argument("--rate", type=float, default=8.9, help="iterations/s on the idle 2-core machine")
    args = parser.parse_args()

    folder = ROOT / "data" / "replicates"
    runs = [
        row
        for row in read_replicates(folder)
        if row["recipe"] == args.recipe
        and math.isclose(float(row["sigma"]), args.sigma)
        and row["stimulus"] == args.stimulus
        and math.isclose(float(row["configuration"]), args.sigma)
    ]
    targets = published_row(args.sigma)
    if not runs or not targets:
        raise SystemExit(f"no {args.recipe} runs at σ = {args.sigma:g} ({args.stimulus}) or no published row there")
    print(
        f"recipe {args.recipe}, σ = {args.sigma:g}, {args.stimulus} stimulus: {len(runs)} runs; an iteration is "
        f"read as minutes at {args.rate:g} it/s (2 threads, idle machine)"
    )
    results = {}
    for run in sorted(runs, key=lambda r: (int(r["simulation_seed"]), int(r["train_seed"]))):
        history = folder / "histories" / f"{run['run']}.csv"
        results[run["run"]] = first_reached(history, targets)
    header = "".join(f"{metric:>20}" for metric in targets)
    print(f"\nfirst iteration at which each published value is reached ('—': never)\n{'run':<40}{header}")
    for name, (first, _) in results.items():
        print(f"{name:<40}" + "".join(f"{'—' if first[m] is None else f'{first[m]:,}':>20}" for m in targets))
    print(f"\nfinal scores\n{'run':<40}{header}")
    for name, (_, last) in results.items():
        print(f"{name:<40}" + "".join(f"{last.get(m, math.nan):>20.5f}" for m in targets))
    print(f"\n{'published value':<28}{'target':>10}{'runs':>8}{'median it':>12}{'median min':>12}{'latest it':>12}")
    for metric, target in targets.items():
        hits = [first[metric] for first, _ in results.values() if first[metric] is not None]
        shown = f"|s−1|≤{SLOPE_TOLERANCE:g}" if metric.endswith("slope") else f"{target:.4f}"
        if hits:
            median = statistics.median(hits)
            print(
                f"{metric:<28}{shown:>10}{f'{len(hits)}/{len(results)}':>8}{median:>12,.0f}"
                f"{median / args.rate / 60:>12.1f}{max(hits):>12,}"
            )
        else:
            print(f"{metric:<28}{shown:>10}{f'0/{len(results)}':>8}{'—':>12}{'—':>12}{'—':>12}")
    whole = sum(all(first[m] is not None for m in targets) for first, _ in results.values())
    print(f"\nruns that reached the whole published row: {whole} of {len(results)}")


if __name__ == "__main__":
    main()
