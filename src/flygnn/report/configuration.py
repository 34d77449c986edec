"""Noise or configuration: ``#tbl-configuration-ablation``.

The study trains σ = 0 with a configuration of its own (d = 4, no anchor, no L1 on W) and
every σ > 0 with another (d = 2, anchor, L1). A gap between σ = 0 and σ = 0.05 may then be
the noise's or the configuration's. Runs of σ = 0.05 with σ = 0's configuration (the plan's
``configuration: 0.0`` runs) separate the two: against σ = 0's own runs only the noise
differs, against σ = 0.05's own runs only the configuration does. Numbers come from the
replicate records (``data/replicates/*.csv``); the words from the template
``templates/configuration.qmd.j2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from flygnn.analysis.replicates import Spread, spread
from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.report.markdown import listed
from flygnn.report.replicates import REPLICATE_RECIPE, runs_text, separation
from flygnn.report.template import render

NOISELESS = 0.0  # the σ whose configuration the ablation runs borrow
NOISY = 0.05  # the σ the ablation runs are simulated at


def _runs(
    rows: Sequence[Mapping[str, Any]], sigma: float, configuration: float, recipe: str
) -> list[Mapping[str, Any]]:
    """The recipe's runs on the natural stimulus at ``sigma``, trained with ``configuration``'s settings."""
    return [
        row
        for row in rows
        if row["recipe"] == recipe
        and row["stimulus"] == "natural"
        and math.isclose(float(row["sigma"]), sigma, abs_tol=1e-9)
        and math.isclose(float(row["configuration"]), configuration, abs_tol=1e-9)
    ]


def _moves(label: str, verdict: str, before: Spread, after: Spread) -> tuple[str, str] | None:
    """("raises" or "lowers", "<label> by <size>") when the groups' ranges are apart, else None
    (no claim inside the spread)."""
    if verdict not in ("higher", "lower"):
        return None
    if len(label) > 1 and label[0].isupper() and label[1].islower():  # "Clustering accuracy", not "W corrected R²"
        label = label[0].lower() + label[1:]
    return ("raises" if verdict == "higher" else "lowers"), f"{label} by {abs(after.mean - before.mean):.2g}"


def _clause(moves: Sequence[tuple[str, str]], total: int) -> str:
    """What one change does to the metrics, each named with its size, or that it moves none."""
    if not moves:
        return "moves no metric beyond run-to-run spread"
    verbs = dict.fromkeys(verb for verb, _ in moves)  # in the metrics' order
    named = listed([f"{verb} {listed([what for v, what in moves if v == verb])}" for verb in verbs])
    return named if len(moves) == total else f"{named}, and no other metric beyond run-to-run spread"


def configuration_table(
    rows: Sequence[Mapping[str, Any]], labels: Mapping[str, str], recipe: str = REPLICATE_RECIPE
) -> list[dict[str, Any]]:
    """The rows of ``#tbl-configuration-ablation``, one per metric: the runs of σ = 0 and of σ = 0.05
    with σ = 0's configuration and of σ = 0.05 with its own (range and number), what adding the noise
    does at σ = 0's configuration and what σ = 0.05's configuration does at σ = 0.05 ("higher" /
    "lower" / "overlap" / "n/a", as :func:`flygnn.report.replicates.separation`), and each change's
    effect with its size (the difference of the groups' means) where the ranges are apart, else None."""
    groups = (
        _runs(rows, NOISELESS, NOISELESS, recipe),
        _runs(rows, NOISY, NOISELESS, recipe),
        _runs(rows, NOISY, NOISY, recipe),
    )
    table = []
    for metric in UPSTREAM_METRICS:
        noiseless, borrowed, own = (spread(float(r[metric]) for r in runs) for runs in groups)
        noise, configuration = separation(noiseless, borrowed), separation(borrowed, own)
        table.append(
            {
                "label": labels[metric],
                "runs": [runs_text(noiseless), runs_text(borrowed), runs_text(own)],
                "noise": noise,
                "configuration": configuration,
                "noise_moves": _moves(labels[metric], noise, noiseless, borrowed),
                "configuration_moves": _moves(labels[metric], configuration, borrowed, own),
            }
        )
    return table


def configuration_reading(table: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    """The table read in two clauses, what adding the noise does and what σ = 0.05's configuration
    does, every effect with its size; None while a group has fewer than two runs."""
    if any("n/a" in (row["noise"], row["configuration"]) for row in table):
        return None
    return {
        change: _clause([row[f"{change}_moves"] for row in table if row[f"{change}_moves"]], len(table))
        for change in ("noise", "configuration")
    }


def configuration_part(
    rows: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
    planned: int,
    recipe: str = REPLICATE_RECIPE,
) -> str:
    """``chapters/_generated/configuration.qmd``: the table and what it says (or that a group has too
    few runs to say anything yet), or, while no run of σ = 0.05 with σ = 0's configuration is
    recorded, a sentence saying so (``planned``: how many the plan lists)."""
    table = configuration_table(rows, labels, recipe) if _runs(rows, NOISY, NOISELESS, recipe) else []
    return render(
        "configuration.qmd.j2",
        rows=table,
        reading=configuration_reading(table) if table else None,
        planned=planned,
        recipe=recipe,
        noiseless=f"{NOISELESS:g}",
        noisy=f"{NOISY:g}",
    )


def project_configuration_part(layout, published) -> str:
    """:func:`configuration_part` for a project: its records and plan (``data/replicates``)."""
    from flygnn.replicate_runs import REPLICATES_FOLDER, load_plan, read_replicates

    folder = layout.project_root / REPLICATES_FOLDER
    plan = folder / "plan.yaml"
    planned = (
        sum(
            run.recipe == REPLICATE_RECIPE
            and run.configuration is not None
            and math.isclose(run.configuration, NOISELESS, abs_tol=1e-9)
            and math.isclose(run.sigma, NOISY, abs_tol=1e-9)
            for run in load_plan(plan)
        )
        if plan.is_file()
        else 0
    )
    labels = published.labels
    return configuration_part(read_replicates(folder), labels, planned)
