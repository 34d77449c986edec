"""The book's run-to-run spread: ``#tbl-replicates`` and the sentences that say which
differences from the study exceed it.

Numbers come from the committed replicate records (``data/replicates/*.csv``, written by
``flygnn replicate``) through :mod:`flygnn.analysis.replicates`; the words come from the
template ``templates/replicates.qmd.j2``. Python computes, the template words it. What the
stimulus changes, read from the same records, is :mod:`flygnn.report.stimulus`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from flygnn.analysis.replicates import Spread, is_replicate_of, summarize
from flygnn.metric_format import format_value
from flygnn.metric_names import UPSTREAM_METRICS, W_CORRECTED_R2
from flygnn.report.summary import value_at
from flygnn.report.template import render

REPLICATE_RECIPE = "fast"
NOT_PUBLISHED = "—"


def score_text(value: float | None) -> str:
    """Five decimals: the runs of one recipe differ in the fourth (τ R² 0.99963 against 0.99970)."""
    return format_value(value) if value is None or not math.isfinite(value) else f"{value:.5f}"


def _deviation(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2g}"


def spread_text(spread: Spread) -> str:
    if spread.n == 0:
        return "n/a"
    if spread.n == 1:
        return "one run"
    return f"{score_text(spread.low)}–{score_text(spread.high)}"


def runs_text(runs: Spread) -> str:
    """The range of the runs and their number; the one value when there is one run."""
    return f"{spread_text(runs)} (n = {runs.n})" if runs.n > 1 else f"{score_text(runs.mean)} (n = 1)"


def separation(base: Spread, other: Spread) -> str:
    """How one group of runs lies against another (``base``): "higher" / "lower" when the ranges do
    not overlap (only with two runs or more in each), "overlap" when they do, "n/a" otherwise."""
    if base.n < 2 or other.n < 2:
        return "n/a"
    if other.low > base.high:
        return "higher"
    if other.high < base.low:
        return "lower"
    return "overlap"


def where_published_lies(spread: Spread, published: float | None) -> str:
    """Where a published value lies against a spread: "within", "above" or "below"; "n/a" when the
    spread has fewer than two runs, "" when nothing was published."""
    inside = spread.contains(published)
    if inside is None or published is None or spread.n < 2:  # (``inside`` is None without a published value)
        return "" if published is None else "n/a"
    if inside:
        return "within"
    return "above" if published > spread.high else "below"


def spreads_by_sigma(
    rows: Sequence[Mapping[str, Any]], recipe: str = REPLICATE_RECIPE
) -> dict[float, dict[str, Spread]]:
    """σ → metric → the :class:`Spread` of the recipe's replicates on the natural stimulus at that σ
    (only the σ with a record)."""
    replicates = [row for row in rows if is_replicate_of(row, recipe)]
    return {float(group["sigma"]): group["spreads"] for group in summarize(replicates, UPSTREAM_METRICS)}


def replicate_table(
    rows: Sequence[Mapping[str, Any]],
    published: Mapping[str, Mapping[float, float]],
    labels: Mapping[str, str],
    recipe: str = REPLICATE_RECIPE,
) -> list[dict[str, Any]]:
    """The rows of ``#tbl-replicates``: per σ, per metric, the spread of the recipe's replicates
    on the natural stimulus and where the published value lies against it (all as text)."""
    replicates = [row for row in rows if is_replicate_of(row, recipe)]
    groups = []
    for group in summarize(replicates, UPSTREAM_METRICS):
        sigma = float(group["sigma"])
        table_rows, beyond, within = [], [], []
        for metric in UPSTREAM_METRICS:
            spread = group["spreads"][metric]
            value = value_at(published.get(metric, {}), sigma)
            verdict = where_published_lies(spread, value)
            table_rows.append(
                {
                    "label": labels[metric],
                    "n": spread.n,
                    "mean": score_text(spread.mean),
                    "std": _deviation(spread.std),
                    "spread": spread_text(spread),
                    "published": NOT_PUBLISHED if value is None else score_text(value),
                    "verdict": verdict,
                }
            )
            if verdict in ("above", "below"):
                beyond.append(f"{labels[metric]} ({score_text(value)}) lies {verdict} the spread {spread_text(spread)}")
            elif verdict == "within":
                within.append(labels[metric])
        groups.append(
            {
                "label": f"σ = {sigma:g}",
                "n_runs": len(group["runs"]),
                "apart": seeds_apart(group["runs"], W_CORRECTED_R2, labels[W_CORRECTED_R2]),
                "rows": table_rows,
                "beyond": beyond,
                "within": within,
            }
        )
    return groups


# a seed lies apart when its runs leave at least this factor more (or less) of the variance
# unexplained (1 − R²) than every run of the other seeds, and the gap is wider than their range
APART_FACTOR = 2.0


def seeds_apart(runs: Sequence[Mapping[str, Any]], metric: str, label: str) -> list[str]:
    """The training seeds whose runs lie apart from every run of the other seeds on the R²
    ``metric`` — 1 − R² at least :data:`APART_FACTOR` times that of every other run (or at most
    1/APART_FACTOR of it), by a gap wider than the others' own range — as sentences: a spread
    that is two groups, not one bell (needs two runs of other seeds)."""
    by_seed: dict[int, list[float]] = {}
    datasets: dict[int, set[int]] = {}
    for run in runs:
        value = float(run[metric])
        if math.isfinite(value):
            by_seed.setdefault(int(run["train_seed"]), []).append(value)
            datasets.setdefault(int(run["train_seed"]), set()).add(int(run["simulation_seed"]))
    sentences = []
    for seed, values in sorted(by_seed.items()):
        others = [v for s, vs in by_seed.items() if s != seed for v in vs]
        if len(others) < 2:
            continue
        width = max(others) - min(others)
        if min(others) - max(values) > width and 1 - max(values) >= APART_FACTOR * (1 - min(others)):
            side = "below"
        elif min(values) - max(others) > width and APART_FACTOR * (1 - min(values)) <= 1 - max(others):
            side = "above"
        else:
            continue
        runs_text = f"its {len(values)} runs" if len(values) > 1 else "its run"
        if len(datasets[seed]) > 1:
            runs_text += f" (on {len(datasets[seed])} simulated datasets: the seed sets it, not one dataset)"
        sentences.append(
            f"training seed {seed} lies {side} every other seed on {label}: {runs_text} "
            f"{_range_text(values)} against {_range_text(others)} for the {len(others)} others"
        )
    return sentences


def _range_text(values: Sequence[float]) -> str:
    return score_text(values[0]) if len(values) == 1 else f"{score_text(min(values))}–{score_text(max(values))}"


def _runs_sentence(rows: Sequence[Mapping[str, Any]], recipe: str) -> str:
    replicates = [row for row in rows if is_replicate_of(row, recipe)]
    by_sigma: dict[float, list[Mapping[str, Any]]] = {}
    for row in replicates:
        by_sigma.setdefault(float(row["sigma"]), []).append(row)
    parts = []
    for sigma, runs in sorted(by_sigma.items()):
        seeds = sorted({int(r["train_seed"]) for r in runs})
        datasets = sorted({int(r["simulation_seed"]) for r in runs})
        minutes = [float(r["training_minutes"]) for r in runs]
        low, high = f"{min(minutes):.0f}", f"{max(minutes):.0f}"
        parts.append(
            f"σ = {sigma:g}: {len(runs)} run{'s' if len(runs) > 1 else ''}, "
            f"training seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}, "
            f"{len(datasets)} simulated dataset{'s' if len(datasets) > 1 else ''}, "
            + (f"{low} min of training" if low == high else f"{low}–{high} min of training each")
        )
    return "; ".join(parts)


def replicates_part(
    rows: Sequence[Mapping[str, Any]],
    published: Mapping[str, Mapping[float, float]],
    labels: Mapping[str, str],
    recipe: str = REPLICATE_RECIPE,
    recipe_description: str = "",
) -> str:
    """``chapters/_generated/replicates.qmd``: the table and the sentences beside it."""
    return render(
        "replicates.qmd.j2",
        groups=replicate_table(rows, published, labels, recipe),
        recipe=recipe,
        recipe_description=recipe_description,
        runs_sentence=_runs_sentence(rows, recipe),
    )


def project_replicates_part(layout, published) -> str:
    """:func:`replicates_part` for a project: its records (``data/replicates``), its published table."""
    from flygnn.replicate_runs import REPLICATES_FOLDER, load_recipe, read_replicates

    rows = read_replicates(layout.root / REPLICATES_FOLDER)
    values = {row.metric: row.published for row in published.rows}
    labels = published.labels
    description = _recipe_description(load_recipe, rows)
    return replicates_part(rows, values, labels, REPLICATE_RECIPE, description)


def _recipe_description(load_recipe, rows: Sequence[Mapping[str, Any]]) -> str:
    """Per σ of the records: B, iterations and rate steps of the replicate recipe."""
    parts = []
    for sigma in sorted({float(row["sigma"]) for row in rows if is_replicate_of(row, REPLICATE_RECIPE)}):
        recipe = load_recipe(REPLICATE_RECIPE, sigma)
        steps = ", ".join(
            f"×{f} from {int(i):,}" for i, f in (step.split(":") for step in recipe.lr_steps.split(",") if step)
        )
        parts.append(
            f"σ = {sigma:g}: B = {recipe.batch_size}, {recipe.iterations:,} iterations"
            + (f", rates {steps}" if steps else "")
        )
    return "; ".join(parts)
