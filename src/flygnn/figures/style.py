"""Shared figure style: 65 distinguishable cell-type colours, type families, saving.

Every figure is saved twice with a fixed stem: PNG for the HTML book and PDF for
print, each written atomically so a failed run never leaves a half-written image.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import colorcet
import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from flygnn.atomic import atomic_path  # noqa: E402

RC = {
    "figure.dpi": 110,
    "savefig.dpi": 200,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
}


def apply_style() -> None:
    """Apply the report's matplotlib style. Called by whoever draws (the notebook context,
    the training and dataset figure writers), never as a side effect of an import."""
    plt.rcParams.update(RC)
    # flyvis turns logging up to INFO; PDF font subsetting would then print hundreds of lines
    logging.getLogger("fontTools").setLevel(logging.WARNING)


def type_colors(n_types: int) -> list[str]:
    """``n_types`` distinguishable colours (Glasbey palette, light colours skipped).

    The same type index gets the same colour in every figure of the report.
    """
    palette = list(colorcet.glasbey_dark)
    if n_types > len(palette):
        raise ValueError(f"only {len(palette)} distinguishable colours, asked for {n_types}")
    return palette[:n_types]


# Families used for legends: a type's family is its name without the trailing
# numbers/letters that index subtypes (T4a -> T4, Mi12 -> Mi, TmY5a -> TmY, R7 -> R).
_FAMILY_PATTERN = re.compile(r"^(Lawf|TmY|Tm|Mi|CT1|C|T1|T2|T3|T4|T5|L|R|Am)")


def type_family(type_name: str) -> str:
    match = _FAMILY_PATTERN.match(type_name)
    return match.group(1) if match else type_name


def save_figure(fig: Figure, directory: str | Path, stem: str, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``directory/stem.png`` and ``.pdf`` atomically; close it.

    Returns the written paths.
    """
    directory = Path(directory)
    paths = []
    for fmt in formats:
        path = directory / f"{stem}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt)
        paths.append(path)
    plt.close(fig)
    return paths
