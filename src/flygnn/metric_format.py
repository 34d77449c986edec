"""How a metric's value is written wherever the project quotes it: one rule.

The book's tables and sentences (:mod:`flygnn.report`) and the numbers a figure prints
(:mod:`flygnn.figures`) quote the values of ``metrics.json``; writing them all with
:func:`format_value` makes a number read the same in a figure as in the table beside
it (the clustering accuracy under the UMAP and in the summary table, for example).
No imports, so any layer may use it.
"""

from __future__ import annotations

import math
from typing import Any

NOT_AVAILABLE = "n/a"


def format_value(value: Any) -> str:
    """A metric value as text: integers as they are, reals with 4 decimals (0.8451), magnitudes
    below 10⁻³ in scientific notation (1.23e-04), from 1000 on with one decimal; "n/a" for
    None and non-finite values."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return NOT_AVAILABLE
    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        return f"{value:.2e}"
    if abs(value) >= 1000:
        return f"{value:.1f}"
    return f"{value:.4f}"
