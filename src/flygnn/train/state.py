"""The resumable training state: everything needed to continue a run exactly, no pickles.

    <folder>/state.safetensors   model.<name>: every parameter; adam.<name>.exp_avg,
                                 adam.<name>.exp_avg_sq: Adam's moments per parameter
    <folder>/state.json          format, iteration, Adam's step per parameter, the frame
                                 sampler's RNG state, xnorm, wall time, the training
                                 config, network and dataset fingerprints, the legs run
                                 so far, and the SHA-256 of state.safetensors

The folder is written atomically (complete or not at all), so an interrupted write
leaves the previous state in place and never a state that looks newer than it is.
Reading checks the checksum, the shapes against the model, and that every tensor is
finite; a state from another configuration, network or dataset is refused with a
message naming what differs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flygnn.atomic import atomic_directory, atomic_path, write_json
from flygnn.bundle import file_sha256
from flygnn.errors import FlygnnError
from flygnn.train.config import TrainingConfig

STATE_FORMAT = "flygnn-training-state/1"
TENSORS_FILE = "state.safetensors"
META_FILE = "state.json"


@dataclass
class TrainingState:
    """A snapshot of a training run after ``iteration`` iterations.

    ``parameters``: name -> tensor (the model's state dict); ``moments``: parameter name
    -> (exp_avg, exp_avg_sq); ``steps``: parameter name -> Adam's step count;
    ``rng_state``: numpy PCG64 state of the frame sampler; ``legs``: one record per
    training leg (iterations, wall time, device, threads, note).
    """

    iteration: int
    parameters: dict[str, torch.Tensor]
    moments: dict[str, tuple[torch.Tensor, torch.Tensor]]
    steps: dict[str, float]
    rng_state: Mapping[str, Any]
    xnorm: float
    wall_time_s: float
    config: dict[str, Any]
    network_fingerprint: str
    dataset_fingerprint: str | None
    legs: list[dict[str, Any]] = field(default_factory=list)

    # -- from and to a live run -------------------------------------------------------

    @classmethod
    def capture(
        cls, model: torch.nn.Module, optimizer: torch.optim.Optimizer, rng: np.random.Generator, **fields
    ) -> TrainingState:
        names = {id(p): name for name, p in model.named_parameters()}
        moments, steps = {}, {}
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                state = optimizer.state.get(parameter)
                if state:
                    name = names[id(parameter)]
                    moments[name] = (
                        state["exp_avg"].detach().cpu().clone(),
                        state["exp_avg_sq"].detach().cpu().clone(),
                    )
                    steps[name] = float(state["step"])
        parameters = {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}
        return cls(parameters=parameters, moments=moments, steps=steps, rng_state=rng.bit_generator.state, **fields)

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, rng: np.random.Generator) -> None:
        """Load parameters, Adam's moments and steps, and the sampler's RNG into a freshly built run."""
        device = next(model.parameters()).device
        model.load_state_dict({name: tensor.to(device) for name, tensor in self.parameters.items()})
        for name, parameter in model.named_parameters():
            if name in self.moments:
                exp_avg, exp_avg_sq = self.moments[name]
                optimizer.state[parameter] = {
                    "step": torch.tensor(self.steps[name], dtype=torch.float32),
                    "exp_avg": exp_avg.to(device).clone(),
                    "exp_avg_sq": exp_avg_sq.to(device).clone(),
                }
        rng.bit_generator.state = self.rng_state

    def check_compatible(
        self, config: TrainingConfig, network_fingerprint: str, dataset_fingerprint: str | None, where: str
    ) -> None:
        """FlygnnError naming what differs when this state cannot continue under these inputs."""
        if self.network_fingerprint != network_fingerprint:
            raise FlygnnError(
                f"{where} was trained on another network (fingerprint {self.network_fingerprint}, now "
                f"{network_fingerprint}); continue it on its own network or start without --resume."
            )
        if dataset_fingerprint and self.dataset_fingerprint and self.dataset_fingerprint != dataset_fingerprint:
            raise FlygnnError(
                f"{where} was trained on another dataset (fingerprint {self.dataset_fingerprint}, now "
                f"{dataset_fingerprint}): the regenerated dataset differs (another seed, preset, stimulus or "
                "library version?). Simulate the dataset it names or start without --resume."
            )
        changed = config.differences(self.config)
        if changed:
            raise FlygnnError(
                f"{where} was trained with other settings ({'; '.join(changed)}); resume with the same ones."
            )

    # -- files -------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write ``folder`` atomically; refuses a state with NaN or infinite values."""
        from safetensors.torch import save_file

        tensors = {f"model.{name}": t.contiguous() for name, t in self.parameters.items()}
        for name, (exp_avg, exp_avg_sq) in self.moments.items():
            tensors[f"adam.{name}.exp_avg"] = exp_avg.contiguous()
            tensors[f"adam.{name}.exp_avg_sq"] = exp_avg_sq.contiguous()
        bad = [name for name, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
        if bad:
            raise FlygnnError(
                f"refusing to save the training state at iteration {self.iteration}: {bad[:5]} contain NaN or infinity."
            )
        folder = Path(folder)
        with atomic_directory(folder, overwrite=True) as tmp:
            with atomic_path(tmp / TENSORS_FILE) as part:  # for the mode: safetensors writes 0600
                save_file(tensors, str(part), metadata={"format": STATE_FORMAT})
            write_json(tmp / META_FILE, self._meta(file_sha256(tmp / TENSORS_FILE)))
        return folder

    def _meta(self, checksum: str) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "iteration": self.iteration,
            "steps": self.steps,
            "rng_state": _rng_to_json(self.rng_state),
            "xnorm": self.xnorm,
            "wall_time_s": self.wall_time_s,
            "config": self.config,
            "network_fingerprint": self.network_fingerprint,
            "dataset_fingerprint": self.dataset_fingerprint,
            "legs": self.legs,
            "tensors_sha256": checksum,
        }

    @classmethod
    def load(cls, folder: str | Path) -> TrainingState:
        """Read a state folder; FlygnnError for a missing, damaged, truncated or non-finite state."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = Path(folder)
        where = f"training state {folder}"
        try:
            meta = json.loads((folder / META_FILE).read_text())
        except FileNotFoundError as exc:
            raise FlygnnError(f"{where} is incomplete: {exc.filename} is missing.") from exc
        except json.JSONDecodeError as exc:
            raise FlygnnError(f"{where}: {META_FILE} is damaged ({exc}).") from exc
        if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise FlygnnError(f"{where}: format {found!r} is not {STATE_FORMAT!r}.")
        tensors_path = folder / TENSORS_FILE
        if not tensors_path.is_file():
            raise FlygnnError(f"{where} is incomplete: {TENSORS_FILE} is missing.")
        if file_sha256(tensors_path) != meta.get("tensors_sha256"):
            raise FlygnnError(f"{where}: {TENSORS_FILE} does not match its checksum (truncated or modified).")
        try:
            tensors = load_file(str(tensors_path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise FlygnnError(f"{where}: {TENSORS_FILE} cannot be read ({exc}).") from exc
        bad = [name for name, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
        if bad:
            raise FlygnnError(f"{where}: {bad[:5]} contain NaN or infinity; it cannot be continued.")
        parameters = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        moments = {}
        for name in meta.get("steps", {}):
            try:
                moments[name] = (tensors[f"adam.{name}.exp_avg"], tensors[f"adam.{name}.exp_avg_sq"])
            except KeyError as exc:
                raise FlygnnError(f"{where}: Adam's moments of {name!r} are missing.") from exc
        try:
            return cls(
                iteration=int(meta["iteration"]),
                parameters=parameters,
                moments=moments,
                steps={k: float(v) for k, v in meta["steps"].items()},
                rng_state=_rng_from_json(meta["rng_state"]),
                xnorm=float(meta["xnorm"]),
                wall_time_s=float(meta["wall_time_s"]),
                config=dict(meta["config"]),
                network_fingerprint=str(meta["network_fingerprint"]),
                dataset_fingerprint=meta.get("dataset_fingerprint"),
                legs=list(meta.get("legs", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FlygnnError(f"{where}: {META_FILE} lacks or garbles {exc}.") from exc


def _peek(folder: str | Path, *keys: str) -> Any:
    """The value at ``keys`` in a state folder's JSON, without loading its tensors (None when unreadable)."""
    try:
        value = json.loads((Path(folder) / META_FILE).read_text())
        for key in keys:
            value = value[key]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value


def peek_iteration(folder: str | Path) -> int | None:
    """The iteration a state folder claims, without loading it (None when there is none)."""
    try:
        return int(_peek(folder, "iteration"))
    except (ValueError, TypeError):
        return None


def peek_preset(folder: str | Path) -> str | None:
    """The preset a state folder was trained with, without loading it (None when unreadable)."""
    preset = _peek(folder, "config", "preset")
    return preset if isinstance(preset, str) else None


def _rng_to_json(state: Mapping[str, Any]) -> dict[str, Any]:
    # PCG64's 128-bit integers are exact in Python's JSON; strings keep other readers honest
    inner = state["state"]
    return {**state, "state": {"state": str(inner["state"]), "inc": str(inner["inc"])}}


def _rng_from_json(state: dict[str, Any]) -> dict[str, Any]:
    inner = state["state"]
    return {**state, "state": {"state": int(inner["state"]), "inc": int(inner["inc"])}}
