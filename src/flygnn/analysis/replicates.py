"""Run-to-run spread: what a number that depends on training is worth.

A replicate record (one row of ``data/replicates/*.csv``, read by
:func:`flygnn.replicate_runs.read_replicates`) is one training run of a fixed recipe
scored by upstream's rules. Grouping records that differ only in their seeds gives the
spread of every metric; a published value, or a longer run's value, then either lies
inside that spread or beyond it.

The spread is the range of the runs (min–max, every run shown), with their mean and sample
standard deviation beside it. Not mean ± 2 SD: the outcomes of a short recipe need not be
normal — at σ = 0.5 one training seed lands well below the others on every dataset, and
mean ± 2 SD of five such runs reaches past R² = 1 — and for the few runs a recipe affords the
range claims nothing it has not seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Spread:
    """The spread of one metric over ``n`` runs (NaN-free values only).

    mean, std: sample mean and standard deviation (std NaN for n < 2);
    low, high: the range of the runs, the interval a value must lie in to be "within
    run-to-run spread".
    """

    n: int
    mean: float
    std: float
    low: float
    high: float

    def contains(self, value: float | None) -> bool | None:
        """Whether ``value`` lies within the spread (None when it or the spread is undefined)."""
        if value is None or not math.isfinite(value) or self.n == 0:
            return None
        return bool(self.low <= value <= self.high)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "low": self.low, "high": self.high}


def spread(values: Iterable[float]) -> Spread:
    """The :class:`Spread` of the finite ``values``."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(finite)
    if n == 0:
        nan = float("nan")
        return Spread(0, nan, nan, nan, nan)
    mean = float(finite.mean())
    std = float(finite.std(ddof=1)) if n > 1 else float("nan")
    return Spread(n, mean, std, float(finite.min()), float(finite.max()))


def group_runs(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[tuple, list[Mapping[str, Any]]]:
    """Rows grouped by the values of ``keys`` (sorted by those values)."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return dict(sorted(groups.items(), key=lambda item: tuple(str(v) if isinstance(v, str) else v for v in item[0])))


def summarize(
    rows: Sequence[Mapping[str, Any]], metrics: Sequence[str], keys: Sequence[str] = ("sigma",)
) -> list[dict[str, Any]]:
    """One entry per group of ``keys``: the group's key values, ``runs`` (its rows) and a
    :class:`Spread` per metric under ``spreads``."""
    return [
        {
            **dict(zip(keys, values, strict=True)),
            "runs": runs,
            "spreads": {metric: spread(float(run[metric]) for run in runs) for metric in metrics},
        }
        for values, runs in group_runs(rows, keys).items()
    ]


def is_replicate_of(row: Mapping[str, Any], recipe: str, stimulus: str = "natural") -> bool:
    """Whether a record is one of a σ's replicates: the recipe, the stimulus, its own σ's configuration."""
    return (
        row["recipe"] == recipe
        and row["stimulus"] == stimulus
        and math.isclose(float(row["configuration"]), float(row["sigma"]), abs_tol=1e-9)
    )
