"""The papermill parameters of the section notebooks: one definition, used by every side.

The notebooks' ``parameters`` cell (checked by :mod:`flygnn.notebook.sync`), the
runner that injects the values (:mod:`flygnn.stages.analyze`) and
:func:`flygnn.notebook.context.load_context`, which reads them, all take the names,
order and defaults from :class:`NotebookParameters`. No imports beyond the standard
library, so the runner may use it without loading the analysis.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NotebookParameters:
    """What the analysis of one condition needs, as the notebook's kernel sees it.

    condition: the condition's name (``data/conditions.yaml``); sigma: its σ.
    bundle: the checkpoint bundle folder; output_dir: where ``figures/``, ``metrics/``
    and ``cache/`` go (``results/<condition>/``). dataset: the training dataset that
    holds the ground truth ("" = load it from flyvis); flyvis_model: the flyvis model
    folder ("" = the usual lookup); synthetic_groundtruth: use the synthetic ground
    truth instead. Paths are relative to the kernel's working directory or absolute.
    """

    condition: str
    sigma: float
    bundle: str
    output_dir: str
    dataset: str = ""
    flyvis_model: str = ""
    synthetic_groundtruth: bool = False

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The parameter names, in order."""
        return tuple(field.name for field in dataclasses.fields(cls))

    def as_dict(self) -> dict[str, Any]:
        """The values papermill injects (and a manifest records)."""
        return dataclasses.asdict(self)

    def cell(self) -> str:
        """The source of a notebook's ``parameters`` cell: one assignment per parameter, in order."""
        return "\n".join(f"{name} = {_literal(value)}" for name, value in self.as_dict().items())


def _literal(value: Any) -> str:
    # double-quoted strings, as papermill writes the injected cell; True/False and numbers as Python
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
