"""The values the analysis stage passes on: its plan for a condition (decided from content
fingerprints, docs/staleness.md), the events of a run and each condition's result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flygnn.conditions import Condition


@dataclass(frozen=True)
class AnalysisEvent:
    """Something that happened to a condition: ``section`` is None for the condition as a whole.

    status: for a section ``running``, ``ok`` or ``failed``; for a condition ``skipped``
    (up to date), ``done`` (analysed) or ``failed``.
    """

    condition: str
    status: str
    section: str | None = None
    number: int = 0  # the section's place, 1-based, of ``total``
    total: int = 0
    seconds: float = 0.0
    detail: str = ""  # what was analysed or why it failed

    def describe(self) -> str:
        """The event as one line for a terminal or a log."""
        where = f"[{self.condition}]"
        if self.section is not None:
            step = f"{where} {self.number}/{self.total} {self.section}"
            if self.status == "running":
                return f"{step}: executing {self.detail}"
            return f"{step}: {'ok' if self.status == 'ok' else 'FAILED'} ({self.seconds:.1f} s)"
        if self.status == "skipped":
            return f"{where} up to date (bundle and notebooks unchanged); --force re-runs it"
        if self.status == "done":
            return f"{where} done in {self.seconds:.1f} s: {self.detail}"
        return f"{where} FAILED: {self.detail}"


OnEvent = Callable[[AnalysisEvent], None]


def ignore_events(event: AnalysisEvent) -> None:
    pass


@dataclass
class ConditionPlan:
    """What ``run`` would do with one condition, found without starting a kernel.

    ``problem`` says why it cannot be analysed (bundle missing, incomplete, another σ);
    ``current`` that its results were made from these inputs with these parameters.
    """

    condition: Condition
    problem: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    current: bool = False
    force: bool = False

    @property
    def runs(self) -> bool:
        return not self.problem and (self.force or not self.current)

    @property
    def needs_flyvis_model(self) -> bool:
        """The notebooks will read the ground truth from the flyvis network (no dataset, not synthetic)."""
        return self.runs and not self.parameters["synthetic_groundtruth"] and not self.parameters["dataset"]

    @property
    def key(self) -> str:
        """A short digest of the inputs and parameters ("pending" without a usable bundle): equal
        keys mean results that need not be made again (the Snakefile's stamps are named by it)."""
        if self.problem:
            return "pending"
        text = json.dumps({"inputs": self.inputs, "parameters": self.parameters}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class ConditionRun:
    """What happened to one condition: ``status`` is ok, skipped or failed."""

    condition: str
    status: str
    message: str = ""
    wall_time_s: float = 0.0
    notebooks: int = 0  # notebooks executed successfully
