"""Training the GNN on simulated voltage traces (docs/design.md, section 6), one concept per module:

- :mod:`~flygnn.train.config`: the presets file resolved for one σ (``TrainingConfig``);
- :mod:`~flygnn.train.frames`: a dataset split in memory, served in batches;
- :mod:`~flygnn.train.loss`: the loss, term by term;
- :mod:`~flygnn.train.state`: the resumable state (safetensors + JSON, no pickles);
- :mod:`~flygnn.train.history`: the training history CSV;
- :mod:`~flygnn.train.trainer`: Adam on the loss, resumable exactly.

Chaining dataset → trainer → bundle → scores → figure is orchestration and lives in
:mod:`flygnn.stages.train`, not here.
"""

from flygnn.train.config import LEG_SETTINGS, TrainingConfig, load_training_config, parse_lr_steps, presets_file
from flygnn.train.frames import DeviceFrames, TrainingFrames
from flygnn.train.history import rate_changes, read_history, write_history
from flygnn.train.loss import LOSS_COMPONENTS, loss_terms, monotonicity_penalty
from flygnn.train.state import TrainingState
from flygnn.train.trainer import Trainer, TrainingDiverged, resolve_device, tune_cpu_allocator

__all__ = [
    "LEG_SETTINGS",
    "LOSS_COMPONENTS",
    "DeviceFrames",
    "Trainer",
    "TrainingConfig",
    "TrainingDiverged",
    "TrainingFrames",
    "TrainingState",
    "load_training_config",
    "loss_terms",
    "monotonicity_penalty",
    "parse_lr_steps",
    "presets_file",
    "rate_changes",
    "read_history",
    "resolve_device",
    "tune_cpu_allocator",
    "write_history",
]
