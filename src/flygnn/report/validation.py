"""The validation chapter's table, ``#tbl-held-out``: held-out and functional numbers per σ.

Numbers come from ``results/<condition>/metrics.json`` (the validation notebook,
``analysis/validation.py``) through :func:`flygnn.report.summary.metric_cell`, so a missing or
undefined value reads "n/a" with its reason below the table; the words come from the template
``templates/held-out.qmd.j2``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flygnn import metric_names as names
from flygnn.conditions import Condition
from flygnn.report.findings import Reader
from flygnn.report.markdown import escape_markdown, escape_message, keep_together
from flygnn.report.summary import metric_cell
from flygnn.report.template import render

# (row label, metric): the one-step and rollout numbers, then the functional ones
HELD_OUT_ROWS: tuple[tuple[str, str], ...] = (
    ("one-step dv/dt R², pooled", names.HELDOUT_DVDT_R2),
    ("one-step R², median cell type", names.HELDOUT_DVDT_R2_MEDIAN_TYPE),
    ("normalised loss (MSE / Var)", names.HELDOUT_NORMALISED_LOSS),
    ("rollout error, RMS over neurons", names.ROLLOUT_ERROR_MEAN),
    ("rollout error, median neuron", names.ROLLOUT_ERROR_MEDIAN),
    ("noise alone: recording vs true", names.ROLLOUT_NOISE_ERROR_MEAN),
)
FUNCTIONAL_ROWS: tuple[tuple[str, str], ...] = (
    ("DSI, ON edges: r across types", names.FUNCTIONAL_DSI_ON_R),
    ("DSI, OFF edges: r across types", names.FUNCTIONAL_DSI_OFF_R),
    ("FRI: r across types", names.FUNCTIONAL_FRI_R),
    ("FRI sign (ON/OFF) agrees", names.FUNCTIONAL_FRI_SIGN_AGREEMENT),
    ("T4 preferred direction error (°)", names.FUNCTIONAL_T4_DIRECTION_ERROR),
    ("T5 preferred direction error (°)", names.FUNCTIONAL_T5_DIRECTION_ERROR),
)


def _rows(
    rows: Sequence[tuple[str, str]], conditions: Sequence[Condition], metrics: Mapping[str, Any], missing: dict
) -> list[dict[str, Any]]:
    out = []
    for label, name in rows:
        cells = []
        for condition in conditions:
            shown = metric_cell(metrics.get(condition.name), name, condition)
            if shown.reason:
                missing.setdefault((condition.label, shown.reason), []).append(label)
            cells.append(shown.text)
        out.append({"label": escape_markdown(label), "cells": cells})
    return out


def _rollout_against_noise(conditions: Sequence[Condition], metrics: Mapping[str, Any]) -> dict[str, list[str]]:
    """The σ (labels) where the learned rollout stays closer to the truth than the noise takes the recording."""
    closer: list[str] = []
    farther: list[str] = []
    for condition in conditions:
        if condition.sigma == 0:  # no noise: the recording differs from the truth by float32 rounding only
            continue
        reader = Reader(metrics.get(condition.name), condition)
        learned, noise = reader.value(names.ROLLOUT_ERROR_MEAN), reader.value(names.ROLLOUT_NOISE_ERROR_MEAN)
        if learned is None or noise is None or noise == 0:
            continue
        (closer if learned < noise else farther).append(keep_together(escape_markdown(condition.label)))
    return {"closer": closer, "farther": farther}


def held_out_part(conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None]) -> str:
    """``chapters/_generated/held-out.qmd``: ``#tbl-held-out`` and the sentences beside it."""
    missing: dict[tuple[str, str], list[str]] = {}
    held_out = _rows(HELD_OUT_ROWS, conditions, metrics, missing)
    functional = _rows(FUNCTIONAL_ROWS, conditions, metrics, missing)
    every = len(held_out) + len(functional)
    reasons = [
        f"Not available for {keep_together(escape_markdown(label))} ({escape_message(reason)}): "
        + ("every row" if len(rows) == every else "; ".join(rows))
        + "."
        for (label, reason), rows in missing.items()
    ]
    return render(
        "held-out.qmd.j2",
        labels=[keep_together(escape_markdown(c.label)) for c in conditions],
        held_out=held_out,
        functional=functional,
        reasons=reasons,
        noise=_rollout_against_noise(conditions, metrics),
        rollout=_rollout_length(conditions, metrics),
    )


def _rollout_length(conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None]) -> str:
    """ "250 steps (5 s)" as the notebooks recorded it (the first condition that did), or ""."""
    for condition in conditions:
        entry = (metrics.get(condition.name) or {}).get(names.ROLLOUT_ERROR_MEAN)
        # metrics.json keeps a metric's details beside its value
        if (
            isinstance(entry, Mapping)
            and isinstance(entry.get("steps"), int)
            and isinstance(entry.get("seconds"), float)
        ):
            return f"{entry['steps']} steps ({entry['seconds']:g} s)"
    return ""


def _per_sigma(conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None], name: str) -> str:
    """ "0.9992 (σ = 0), 0.9998 (σ = 0.05)": a metric at every noise level, n/a where it is missing."""
    return ", ".join(
        f"{metric_cell(metrics.get(c.name), name, c).text} ({keep_together(escape_markdown(c.label))})"
        for c in conditions
    )


def validation_summary(conditions: Sequence[Condition], metrics: Mapping[str, Mapping[str, Any] | None]) -> str:
    """``chapters/_generated/validation-summary.qmd``: what the validation found, for the key-findings page."""
    if not any(metrics.get(c.name) for c in conditions):
        return "The held-out and functional validation (@sec-validation) has not run yet.\n"
    rollout = _rollout_length(conditions, metrics)
    return (
        "**Beyond the study's table.** On data it never saw (@sec-validation), the learned network predicts "
        f"dv/dt one step ahead with R² {_per_sigma(conditions, metrics, names.HELDOUT_DVDT_R2)}; run on its own"
        f"{' for ' + rollout if rollout else ''}, it stays within "
        f"{_per_sigma(conditions, metrics, names.ROLLOUT_ERROR_MEAN)} of each neuron's std of the true trace "
        f"(RMS over neurons; the median neuron: {_per_sigma(conditions, metrics, names.ROLLOUT_ERROR_MEDIAN)}; "
        "@tbl-held-out). Across cell types, flyvis' direction selectivity index of the learned network "
        f"correlates with the true network's with r {_per_sigma(conditions, metrics, names.FUNCTIONAL_DSI_ON_R)} "
        f"on ON edges and {_per_sigma(conditions, metrics, names.FUNCTIONAL_DSI_OFF_R)} on OFF edges, the "
        f"flash response index with r {_per_sigma(conditions, metrics, names.FUNCTIONAL_FRI_R)} "
        "(@fig-direction-selectivity).\n"
    )
