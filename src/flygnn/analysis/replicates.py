"""Run-to-run spread: what a number that depends on training is worth.

A replicate record (one row of ``data/replicates/*.csv``, read by
:func:`flygnn.pipeline.replicate.read_replicates`) is one training run of a fixed recipe
scored by upstream's rules. Grouping records that differ only in their seeds gives the
spread of every metric; a published value, or a longer run's value, then either lies
inside that spread or beyond it.

The spread is stated as the data allow: with fewer than five runs the range (min–max,
every run shown), from five on the mean ± 2 standard deviations (sample std, n − 1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# fewer runs than this: the spread is the range of the runs; from here on mean ± 2 sd
MIN_RUNS_FOR_STD = 5


@dataclass(frozen=True)
class Spread:
    """The spread of one metric over ``n`` runs (NaN-free values only).

    mean, std: sample mean and standard deviation (std NaN for n < 2);
    low, high: the interval a value must lie in to be "within run-to-run spread":
    min–max for n < MIN_RUNS_FOR_STD, mean ± 2 std from there on.
    """

    n: int
    mean: float
    std: float
    low: float
    high: float

    @property
    def by_range(self) -> bool:
        return self.n < MIN_RUNS_FOR_STD

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
    if n < MIN_RUNS_FOR_STD:
        return Spread(n, mean, std, float(finite.min()), float(finite.max()))
    return Spread(n, mean, std, mean - 2 * std, mean + 2 * std)


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
