"""The noise conditions (``data/conditions.yaml``): the single source of truth for σ."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from flygnn.errors import FlygnnError

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


def load_conditions(path: str | Path) -> list[Condition]:
    """Read and validate a conditions file (a project's is ``ProjectLayout.conditions_file``);
    errors name the entry and the field."""
    path = Path(path)
    if not path.is_file():
        raise FlygnnError(f"conditions file {path} not found; check the --conditions-file path.")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise FlygnnError(f"{path} is not valid YAML: {exc}") from exc
    entries = document.get("conditions") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise FlygnnError(f"{path} must contain a non-empty list under 'conditions:'.")
    conditions: list[Condition] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}, condition #{number}"
        if not isinstance(entry, dict):
            raise FlygnnError(f"{where}: expected a mapping with name, sigma and label.")
        unknown = set(entry) - {"name", "sigma", "label"}
        if unknown:
            raise FlygnnError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: name, sigma, label.")
        name = entry.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise FlygnnError(
                f"{where}: name {name!r} must be lower-case letters, digits and dashes (e.g. 'sigma-0p05')."
            )
        sigma = entry.get("sigma")
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
            raise FlygnnError(f"{where} ({name}): sigma must be a number, got {sigma!r}.")
        if not sigma >= 0:
            raise FlygnnError(f"{where} ({name}): sigma must be >= 0, got {sigma}.")
        label = entry.get("label", f"σ = {sigma:g}")
        conditions.append(Condition(name=name, sigma=float(sigma), label=str(label)))
    names = [c.name for c in conditions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FlygnnError(f"{path}: condition name(s) {duplicates} appear more than once.")
    return conditions


def select_conditions(conditions: list[Condition], names: list[str] | None) -> list[Condition]:
    """The conditions named (all when ``names`` is empty), in file order."""
    if not names:
        return list(conditions)
    known = {c.name: c for c in conditions}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise FlygnnError(f"unknown condition(s) {unknown}; known: {sorted(known)} (from data/conditions.yaml).")
    return [c for c in conditions if c.name in names]
