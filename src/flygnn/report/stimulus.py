"""What the stimulus changes: the replicate recipe on another stimulus beside the natural movies.

``#fig-stimulus-ablation`` and ``#tbl-stimulus-ablation`` compare the five scores of runs on
the two stimuli, paired by seeds (docs/design.md, section 11); ``#tbl-stimulus-types`` breaks
τ R² down by cell type where the runs have per-type records (``data/replicates/per-type/``):
the types that carry most of what τ R² misses on the natural runs, their τ̂ and their voltage
range on each stimulus, and whether the stimulus that moves a type's voltage more also
recovers its τ better. Numbers come from the records; the words from the template
``templates/stimulus.qmd.j2``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flygnn.analysis.per_type import VOLTAGE_SD
from flygnn.analysis.replicates import is_replicate_of, spread
from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.report.markdown import escape_markdown
from flygnn.report.replicates import REPLICATE_RECIPE, runs_text, separation
from flygnn.report.template import render

DEFAULT_STIMULUS = "natural"
STIMULUS_FIGURE = "stimulus-ablation"


def _stimulus_runs(rows: Sequence[Mapping[str, Any]], recipe: str) -> dict[float, dict[str, list[Mapping[str, Any]]]]:
    """σ → stimulus → the recipe's runs at σ's own configuration, only the σ that have runs on the
    default stimulus and on at least one other."""
    by_sigma: dict[float, dict[str, list[Mapping[str, Any]]]] = {}
    for row in rows:
        if is_replicate_of(row, recipe, str(row["stimulus"])):
            by_sigma.setdefault(float(row["sigma"]), {}).setdefault(str(row["stimulus"]), []).append(row)
    return {
        sigma: dict(sorted(runs.items(), key=lambda item: (item[0] != DEFAULT_STIMULUS, item[0])))
        for sigma, runs in sorted(by_sigma.items())
        if DEFAULT_STIMULUS in runs and len(runs) > 1
    }


def _pairs(natural: Sequence[Mapping[str, Any]], other: Sequence[Mapping[str, Any]], metric: str) -> list[float]:
    """other − natural for the runs with the same training and simulation seed, by training seed."""
    key = ("train_seed", "simulation_seed")
    base = {tuple(int(r[k]) for k in key): float(r[metric]) for r in natural}
    return [
        float(r[metric]) - base[seeds]
        for r in sorted(other, key=lambda r: int(r["train_seed"]))
        if (seeds := tuple(int(r[k]) for k in key)) in base
    ]


def stimulus_table(
    rows: Sequence[Mapping[str, Any]], labels: Mapping[str, str], recipe: str = REPLICATE_RECIPE
) -> list[dict[str, Any]]:
    """The rows of ``#tbl-stimulus-ablation``: per σ and other stimulus, per metric, the spreads on
    both stimuli, the paired differences (same seeds) and whether the ranges separate."""
    groups = []
    for sigma, by_stimulus in _stimulus_runs(rows, recipe).items():
        natural = by_stimulus[DEFAULT_STIMULUS]
        for stimulus, runs in by_stimulus.items():
            if stimulus == DEFAULT_STIMULUS:
                continue
            table_rows = []
            for metric in UPSTREAM_METRICS:
                a = spread(float(r[metric]) for r in natural)
                b = spread(float(r[metric]) for r in runs)
                table_rows.append(
                    {
                        "metric": metric,
                        "label": labels[metric],
                        "natural": runs_text(a),
                        "other": runs_text(b),
                        "paired": ", ".join(f"{d:+.5f}" for d in _pairs(natural, runs, metric)) or "—",
                        "verdict": separation(a, b),
                    }
                )
            groups.append(
                {
                    "sigma": sigma,
                    "label": f"σ = {sigma:g}",
                    "stimulus": stimulus,
                    "rows": table_rows,
                    "clauses": _stimulus_clauses(table_rows, stimulus, len(natural), len(runs)),
                }
            )
    return groups


def _stimulus_clauses(
    table_rows: Sequence[Mapping[str, Any]], stimulus: str, n_natural: int, n_other: int
) -> list[str]:
    """What one σ's table rows say, as clauses: which metrics the stimulus moves beyond the
    run-to-run spread, which it does not, and which have too few runs to tell."""
    clauses = [
        f"{row['label']} is {row['verdict']} on the {stimulus} stimulus than on every natural run"
        for row in table_rows
        if row["verdict"] in ("higher", "lower")
    ]
    overlap = [row["label"] for row in table_rows if row["verdict"] == "overlap"]
    if overlap:
        clauses.append(
            f"the runs on the two stimuli overlap on {', '.join(overlap)}: no change beyond run-to-run spread"
        )
    unknown = [row["label"] for row in table_rows if row["verdict"] == "n/a"]
    if unknown:
        clauses.append(f"too few runs to tell for {', '.join(unknown)} ({n_natural} natural, {n_other} {stimulus})")
    return clauses


def stimulus_part(
    rows: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
    figure: str | None,
    recipe: str = REPLICATE_RECIPE,
    per_type: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> str:
    """``chapters/_generated/stimulus.qmd``: ``#fig-stimulus-ablation`` (``figure``: its path, None
    without one), the table and the sentences that answer "does the stimulus move it?", and where
    runs on both stimuli have per-type records (``per_type``: run name → its rows,
    :func:`flygnn.replicate_runs.read_per_type_records`), ``#tbl-stimulus-types``."""
    groups = stimulus_table(rows, labels, recipe)
    type_groups = stimulus_type_table(rows, per_type or {}, recipe)
    with_types = {group["label"] for group in type_groups}
    return render(
        "stimulus.qmd.j2",
        groups=groups,
        figure=figure,
        recipe=recipe,
        type_groups=type_groups,
        without_types=list(dict.fromkeys(g["label"] for g in groups if g["label"] not in with_types)),
        top=TOP_TYPES,
    )


def stimulus_points(
    rows: Sequence[Mapping[str, Any]], recipe: str = REPLICATE_RECIPE
) -> dict[float, dict[str, dict[str, tuple[list[float], list[str]]]]]:
    """σ → stimulus → metric → (values, pairing keys) of the runs the stimulus figure draws; runs
    with the same key (training and simulation seed) on two stimuli are a pair."""
    return {
        sigma: {
            stimulus: {
                metric: (
                    [float(r[metric]) for r in runs],
                    [f"{int(r['train_seed'])}/{int(r['simulation_seed'])}" for r in runs],
                )
                for metric in UPSTREAM_METRICS
            }
            for stimulus, runs in by_stimulus.items()
        }
        for sigma, by_stimulus in _stimulus_runs(rows, recipe).items()
    }


# --- which cell types the stimulus changes: the per-type records of the same runs ---

TOP_TYPES = 5  # the types shown: those that carry most of what τ R² misses on the natural runs
TAU_SHARE = "tau_residual_share"


def _mean(values: Iterable[float]) -> float:
    finite = [float(v) for v in values if math.isfinite(float(v))]
    return sum(finite) / len(finite) if finite else math.nan


def _records(
    runs: Sequence[Mapping[str, Any]], per_type: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[dict[str, Mapping[str, Any]]]:
    """Type name → row, for each of ``runs`` that has a per-type record."""
    return [{str(row["type"]): row for row in per_type[run["run"]]} for run in runs if run["run"] in per_type]


def _over_runs(records: Sequence[Mapping[str, Mapping[str, Any]]], name: str) -> dict[str, float]:
    """A type's mean over the runs of its τ residual share, τ̂, voltage SD and relative τ̂ error |τ̂ − τ|/τ."""
    rows = [record[name] for record in records if name in record]
    return {
        "share": _mean(row[TAU_SHARE] for row in rows),
        "tau": _mean(row["tau_recovered"] for row in rows),
        "sd": _mean(row[VOLTAGE_SD] for row in rows),
        "error": _mean(
            abs(row["tau_recovered"] - row["tau_true"]) / row["tau_true"] for row in rows if row["tau_true"] > 0
        ),
    }


def _percent(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100 * value:.0f} %"


def _fixed(value: float, digits: int) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


# below these a difference is a tie: voltage SDs within 5 % of each other (0.143 against 0.142 is
# no larger range), τ̂ errors within one percentage point (the resolution the sentence prints)
SAME_SD = 0.05
SAME_ERROR = 0.01


def _judged(name: str, natural: Mapping[str, float], other: Mapping[str, float], stimulus: str) -> tuple[str, str]:
    """(verdict, clause) for one type: "agrees" when the stimulus with the larger voltage SD also
    has the smaller τ̂ error, "disagrees" when it has the larger one, "undecided" on a tie (voltage
    SDs within :data:`SAME_SD` of each other, errors within :data:`SAME_ERROR`) or a gap."""
    on = {DEFAULT_STIMULUS: natural, stimulus: other}
    values = [natural["sd"], other["sd"], natural["error"], other["error"]]
    if (
        not all(math.isfinite(v) for v in values)
        or abs(natural["sd"] - other["sd"]) <= SAME_SD * max(natural["sd"], other["sd"])
        or abs(natural["error"] - other["error"]) < SAME_ERROR
    ):
        return "undecided", name
    larger = stimulus if other["sd"] > natural["sd"] else DEFAULT_STIMULUS
    smaller = DEFAULT_STIMULUS if larger == stimulus else stimulus
    better = stimulus if other["error"] < natural["error"] else DEFAULT_STIMULUS
    clause = (
        f"{name} (voltage SD {_fixed(on[larger]['sd'], 3)} on {larger}, {_fixed(on[smaller]['sd'], 3)} on "
        f"{smaller}; τ̂ off by {_percent(on[larger]['error'])} and {_percent(on[smaller]['error'])})"
    )
    return ("agrees" if better == larger else "disagrees"), clause


def stimulus_type_table(
    rows: Sequence[Mapping[str, Any]],
    per_type: Mapping[str, Sequence[Mapping[str, Any]]],
    recipe: str = REPLICATE_RECIPE,
    top: int = TOP_TYPES,
) -> list[dict[str, Any]]:
    """The groups of ``#tbl-stimulus-types``: per σ and other stimulus where runs on both stimuli
    have a per-type record (``per_type``: run name → its rows), the ``top`` types by τ residual
    share averaged over the natural runs, per stimulus their τ share, τ̂ and voltage SD (means over
    the runs), and per type whether the stimulus that moves its voltage more also recovers its τ
    better (smaller mean |τ̂ − τ|/τ): ``agrees``, ``disagrees`` (clauses with the numbers) and
    ``undecided`` (names)."""
    groups = []
    for sigma, by_stimulus in _stimulus_runs(rows, recipe).items():
        natural = _records(by_stimulus[DEFAULT_STIMULUS], per_type)
        for stimulus, runs in by_stimulus.items():
            other = _records(runs, per_type)
            if stimulus == DEFAULT_STIMULUS or not natural or not other:
                continue
            names = list(natural[0])
            on_natural = {name: _over_runs(natural, name) for name in names}
            ranked = sorted(
                (n for n in names if math.isfinite(on_natural[n]["share"])), key=lambda n: -on_natural[n]["share"]
            )
            table_rows: list[dict[str, Any]] = []
            verdicts: dict[str, list[str]] = {"agrees": [], "disagrees": [], "undecided": []}
            for name in ranked[:top]:
                here, there = on_natural[name], _over_runs(other, name)
                shown = escape_markdown(name)
                verdict, clause = _judged(shown, here, there, stimulus)
                verdicts[verdict].append(clause)
                table_rows.append(
                    {
                        "type": shown,
                        "tau_true": _fixed(natural[0][name]["tau_true"], 4),
                        "tau": [_fixed(here["tau"], 4), _fixed(there["tau"], 4)],
                        "share": [_percent(here["share"]), _percent(there["share"])],
                        "sd": [_fixed(here["sd"], 3), _fixed(there["sd"], 3)],
                    }
                )
            groups.append(
                {
                    "sigma": sigma,
                    "label": f"σ = {sigma:g}",
                    "stimulus": stimulus,
                    "n_natural": len(natural),
                    "n_other": len(other),
                    "rows": table_rows,
                    "types": [row["type"] for row in table_rows],
                    "top_share": _percent(sum(on_natural[n]["share"] for n in ranked[:top])),
                    **verdicts,
                }
            )
    return groups
