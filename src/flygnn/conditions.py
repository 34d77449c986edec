"""The noise conditions (``data/conditions.yaml``): the single source of truth for σ."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from flygnn.errors import FlygnnError
from flygnn.schema import Number, Strict, read_yaml, validated

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Two noise levels are the same when they agree to 1e-9 absolute: σ is written by hand
# (0.05) and read back from YAML, JSON and zarr attributes, never computed.
SIGMA_TOLERANCE = 1e-9


def same_sigma(a: float, b: float) -> bool:
    """Whether two noise levels are the same condition (the one place σ equality is decided)."""
    return abs(float(a) - float(b)) <= SIGMA_TOLERANCE


@dataclass(frozen=True)
class Condition:
    """One intrinsic-noise level. ``name`` is file-name safe (``sigma-0p05``)."""

    name: str
    sigma: float
    label: str

    def matches(self, sigma: float) -> bool:
        """Whether ``sigma`` (from a dataset, bundle or table) is this condition's σ."""
        return same_sigma(self.sigma, sigma)

    @classmethod
    def of_sigma(cls, sigma: float) -> Condition:
        """The condition a noise level has outside the conditions file (a replicate's, a sweep's):
        named as the file names them, ``0.05`` → ``sigma-0p05``."""
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma >= 0:
            raise FlygnnError(f"σ must be a number >= 0, got {sigma!r}.")
        return cls(
            name="sigma-" + f"{float(sigma):g}".replace(".", "p").replace("-", "m"),
            sigma=float(sigma),
            label=f"σ = {sigma:g}",
        )


NAME_MAX_LENGTH = 64  # a name becomes file and folder names (with prefixes and suffixes): far below 255


def _checked_label(label: str) -> str:
    """A label with ``$`` must be valid matplotlib mathtext: the figures draw it (a stray ``$``
    would fail only when the book's figures are drawn, long after the file was read)."""
    if "$" in label.replace(r"\$", ""):
        from matplotlib.mathtext import MathTextParser

        try:
            MathTextParser("path").parse(label)
        except ValueError as exc:
            problem = next((line.strip() for line in str(exc).splitlines() if "Expected" in line), "cannot be parsed")
            raise ValueError(
                f"{label!r} is not valid matplotlib mathtext ({problem}); pair every $ (e.g. '$\\sigma$ = 0.05') "
                "or write \\$ for a dollar sign"
            ) from None
    return label


class ConditionEntry(Strict):
    """One entry of the conditions file."""

    name: Annotated[str, Field(pattern=NAME_PATTERN.pattern, max_length=NAME_MAX_LENGTH)] = Field(
        description=f"a name of lower-case letters, digits and dashes, at most {NAME_MAX_LENGTH} characters "
        "(e.g. 'sigma-0p05'); it names the condition's files"
    )
    sigma: Annotated[Number, Field(ge=0)] = Field(description="the noise level σ, a number >= 0 (e.g. 0.05)")
    label: Annotated[str, AfterValidator(_checked_label)] | None = Field(
        default=None, description="the text the book shows for it (e.g. 'σ = 0.05'; default from sigma)"
    )


class ConditionsFile(Strict):
    """a mapping with 'conditions:', a list of entries with name, sigma and label"""

    conditions: list[ConditionEntry] = Field(
        min_length=1, description="a non-empty list of conditions, each with name, sigma and label"
    )

    @field_validator("conditions")
    @classmethod
    def _names_once(cls, conditions: list[ConditionEntry]) -> list[ConditionEntry]:
        names = [c.name for c in conditions]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"condition name(s) {duplicates} appear more than once; give each its own name")
        return conditions


def load_conditions(path: str | Path) -> list[Condition]:
    """Read and validate a conditions file (a project's is ``ProjectLayout.conditions_file``);
    errors name the file, the entry and the field."""
    document = read_yaml(path, "check the --conditions-file path.")
    checked = validated(ConditionsFile, document, path)
    return [
        Condition(name=c.name, sigma=c.sigma, label=c.label if c.label is not None else f"σ = {c.sigma:g}")
        for c in checked.conditions
    ]


def select_conditions(conditions: list[Condition], names: list[str] | None) -> list[Condition]:
    """The conditions named (all when ``names`` is empty), in file order."""
    if not names:
        return list(conditions)
    known = {c.name: c for c in conditions}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise FlygnnError(f"unknown condition(s) {unknown}; known: {sorted(known)} (from data/conditions.yaml).")
    return [c for c in conditions if c.name in names]
