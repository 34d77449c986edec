"""Training the GNN on simulated voltage traces (DESIGN section 6).

Per iteration, B random training frames k give the loss

    ‖ŷ − y‖₂                                         prediction (plain norm over the batch)
  + μ₀ ‖ReLU(g²(v) − g²(v + 0.05·xnorm))‖₂            g_φ monotone in v (first frame, all neurons)
  + μ₁ ‖g²(2·xnorm) − 2·xnorm‖₂                      g_φ anchored (fixes its gain against Ŵ)
  + Σ_p c_g‖p‖₁ over g_φ   + Σ_p (c_f1‖p‖₁ + c_f2‖p‖₂) over f_θ   + c_W‖Ŵ‖₁

with ŷ = model(v_k, I_k), y = the clean dv/dt of frame k, g² = ``model.message`` with
embeddings detached, xnorm = 1.5 × std of all training voltages. Adam with three
learning rates (Ŵ, MLPs, embeddings), constant. Coefficients, learning rates and
schedules per σ and preset live in ``presets/training.yaml``.

The core (``Trainer.fit``) takes arrays in memory; ``train_condition`` opens a
dataset, trains, and writes the checkpoint bundle. Training is resumable exactly:
weights, Adam state, the frame sampler's RNG state and the loss log are
checkpointed atomically every few minutes, on Ctrl-C, and at the end.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import yaml

from flygnn.atomic import atomic_directory, write_text
from flygnn.errors import FlygnnError
from flygnn.model import FlyVisGNN

if TYPE_CHECKING:
    from flygnn.connectome import Network

CHECKPOINT_FORMAT = "flygnn-training-checkpoint/1"
LOSS_COMPONENTS = ("prediction", "monotonicity", "anchor", "g_phi_L1", "f_theta_weights", "W_L1")
SIGMA_TOLERANCE = 1e-9
# Fields that define the optimisation problem: a checkpoint resumes only under the same ones.
def _same_setting(saved, current) -> bool:
    """Equal, with floats compared to 1e-9 relative: a rate computed as 1.5 × 2.325e-3
    in one version and written as 3.4875e-3 in another is the same setting."""
    if isinstance(saved, float) or isinstance(current, float):
        try:
            return math.isclose(float(saved), float(current), rel_tol=1e-9, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    return saved == current


_RESUME_FIELDS = (
    "sigma", "embedding_dim", "hidden", "layers", "W_init_scale", "monotonicity", "monotonicity_step",
    "anchor", "g_phi_L1", "f_theta_L1", "f_theta_L2", "W_L1", "lr_W", "lr_mlp", "lr_embedding",
    "batch_size", "seed",
)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that determines a training run (recorded in ``bundle.json``).

    Learning rates are the effective ones (published × ``learning_rate_scale``).
    """

    preset: str
    sigma: float
    embedding_dim: int
    hidden: int
    layers: int
    W_init_scale: float
    monotonicity: float
    anchor: float
    g_phi_L1: float
    f_theta_L1: float
    f_theta_L2: float
    W_L1: float
    lr_W: float
    lr_mlp: float
    lr_embedding: float
    learning_rate_scale: float
    batch_size: int
    iterations: int
    seed: int = 0
    monotonicity_step: float = 0.05
    checkpoint_every_s: float = 180.0
    log_every: int = 50
    # K sampled training frames in the bundle for ∂f/∂msg: 64 keeps a full-size bundle
    # near 9 MB (256 made it 30 MB) and is still 8x the 8 frames upstream used
    activity_frames: int = 64

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def architecture(self) -> dict[str, Any]:
        return {
            "embedding_dim": self.embedding_dim,
            "hidden": self.hidden,
            "layers": self.layers,
            "W_init_scale": self.W_init_scale,
        }


def presets_file() -> Path:
    return Path(str(resources.files("flygnn").joinpath("presets/training.yaml")))


def _entry_for_sigma(entries: list[dict], sigma: float, where: str) -> dict | None:
    for entry in entries or []:
        if abs(float(entry["sigma"]) - sigma) < SIGMA_TOLERANCE:
            return entry
    return None


def _merge(base: dict, update: Mapping | None) -> dict:
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in (update or {}).items():
        if key == "sigma":
            continue
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def _round(value: float) -> float:
    """Drop binary noise from scaled rates (1.5 × 2.325e-3 = 0.0034874999999999997)."""
    return float(f"{value:.12g}")


def available_presets(path: str | Path | None = None) -> list[str]:
    document = yaml.safe_load(Path(path or presets_file()).read_text())
    return list(document["presets"])


def load_training_config(
    preset: str, sigma: float, overrides: Mapping[str, Any] | None = None, path: str | Path | None = None
) -> TrainingConfig:
    """Resolve the training settings for ``preset`` at noise level ``sigma``.

    ``overrides`` (flat TrainingConfig field names, e.g. ``iterations``, ``seed``,
    ``batch_size``) win over the file; ``None`` values are ignored.
    """
    path = Path(path or presets_file())
    document = yaml.safe_load(path.read_text())
    presets = document.get("presets", {})
    if preset not in presets:
        raise FlygnnError(f"unknown training preset {preset!r}; known: {', '.join(presets)} (from {path}).")
    published = _entry_for_sigma(document.get("published", []), sigma, str(path))
    if published is None:
        listed = ", ".join(f"{float(e['sigma']):g}" for e in document.get("published", []))
        raise FlygnnError(
            f"no training coefficients for σ = {sigma:g} in {path} (σ values defined: {listed}). "
            "Add a 'published' entry for this σ (copy the nearest one) or train at a listed σ."
        )
    spec = _merge(published, presets[preset].get("all"))
    spec = _merge(spec, _entry_for_sigma(presets[preset].get("sigma", []), sigma, str(path)))
    scale = float(spec.get("learning_rate_scale", 1.0))
    values: dict[str, Any] = {
        "preset": preset,
        "sigma": float(sigma),
        **spec["architecture"],
        **spec["loss"],
        "lr_W": _round(float(spec["learning_rates"]["W"]) * scale),
        "lr_mlp": _round(float(spec["learning_rates"]["mlp"]) * scale),
        "lr_embedding": _round(float(spec["learning_rates"]["embedding"]) * scale),
        "learning_rate_scale": scale,
        **spec["schedule"],
    }
    for key in ("checkpoint_every_s", "log_every", "activity_frames", "seed", "monotonicity_step"):
        if key in spec:
            values[key] = spec[key]
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    known = {f.name for f in dataclasses.fields(TrainingConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise FlygnnError(f"{path}: unknown training setting(s) {unknown}; known: {sorted(known)}.")
    config = TrainingConfig(**values)
    if config.batch_size < 1 or config.iterations < 0:
        raise FlygnnError(f"batch size must be >= 1 and iterations >= 0, got {config.batch_size} and {config.iterations}.")
    return config


# --------------------------------------------------------------------------- training data


@dataclass
class TrainingFrames:
    """Training frames in memory: voltage and target (T, N), stimulus on its few columns.

    Only the photoreceptors receive input, so the stimulus is kept as (T, K) values of
    the K stimulated neurons ``stimulus_neurons`` (1,736 of 13,741 at full size).
    """

    voltage: np.ndarray  # (T, N) f4, v at each frame
    target: np.ndarray  # (T, N) f4, clean dv/dt at each frame
    stimulus: np.ndarray  # (T, K) f4, input current of the stimulated neurons
    stimulus_neurons: np.ndarray  # (K,) int64

    def __post_init__(self) -> None:
        T, N = self.voltage.shape
        if self.target.shape != (T, N):
            raise FlygnnError(f"training target has shape {self.target.shape}, voltage {self.voltage.shape}; they must match.")
        if self.stimulus.shape != (T, len(self.stimulus_neurons)):
            raise FlygnnError(f"stimulus has shape {self.stimulus.shape}, expected ({T}, {len(self.stimulus_neurons)}).")

    @property
    def n_frames(self) -> int:
        return int(self.voltage.shape[0])

    @property
    def n_neurons(self) -> int:
        return int(self.voltage.shape[1])

    @classmethod
    def from_arrays(cls, voltage: np.ndarray, stimulus: np.ndarray, target: np.ndarray) -> TrainingFrames:
        """From full (T, N) arrays; the stimulus is reduced to its nonzero columns."""
        voltage = np.ascontiguousarray(voltage, dtype=np.float32)
        target = np.ascontiguousarray(target, dtype=np.float32)
        stimulus = np.asarray(stimulus, dtype=np.float32)
        if stimulus.shape != voltage.shape:
            raise FlygnnError(f"stimulus has shape {stimulus.shape}, voltage {voltage.shape}; they must match.")
        columns = np.flatnonzero(np.any(stimulus != 0, axis=0))
        frames = cls(voltage, target, np.ascontiguousarray(stimulus[:, columns]), columns.astype(np.int64))
        frames.check_finite("arrays")
        return frames

    @classmethod
    def from_dataset(cls, dataset: Any, input_neurons: np.ndarray, split: str = "train", chunk: int = 2000) -> TrainingFrames:
        """Read a split of a ``flygnn.dataset`` into RAM (stimulus in chunks, input columns only)."""
        T, N = dataset.frames(split), dataset.n_neurons
        where = f"dataset {getattr(dataset, 'path', '')} ({split})"

        def read_chunk(name: str, start: int) -> np.ndarray:
            block = np.asarray(dataset.read(split, name, slice(start, min(start + chunk, T))), dtype=np.float32)
            if block.shape != (min(chunk, T - start), N):
                raise FlygnnError(
                    f"{where}: {name} frames {start}… have shape {block.shape}, expected "
                    f"({min(chunk, T - start)}, {N}); the dataset is truncated or damaged — simulate it again."
                )
            return block

        # read chunk by chunk into preallocated arrays: reading a whole array at once
        # costs a second copy of it in memory (1.8 GB at full size)
        voltage = np.empty((T, N), dtype=np.float32)
        target = np.empty((T, N), dtype=np.float32)
        for start in range(0, T, chunk):
            voltage[start : start + chunk] = read_chunk("voltage", start)
            target[start : start + chunk] = read_chunk("target", start)
        input_neurons = np.asarray(input_neurons, dtype=np.int64)
        others = np.ones(N, dtype=bool)
        others[input_neurons] = False
        stimulus = np.empty((T, len(input_neurons)), dtype=np.float32)
        full: np.ndarray | None = None
        for start in range(0, T, chunk):
            block = read_chunk("stimulus", start)
            if full is None and np.any(block[:, others] != 0):
                full = np.zeros((T, N), dtype=np.float32)  # input beyond the photoreceptors: keep all columns
                full[:start, input_neurons] = stimulus[:start]
            if full is not None:
                full[start : start + len(block)] = block
            else:
                stimulus[start : start + len(block)] = block[:, input_neurons]
        if full is not None:
            frames = cls(voltage, target, full, np.arange(N, dtype=np.int64))
        else:
            frames = cls(voltage, target, stimulus, input_neurons)
        frames.check_finite(where)
        return frames

    def check_finite(self, where: str) -> None:
        for name in ("voltage", "target", "stimulus"):
            array = getattr(self, name)
            for start in range(0, len(array), 4096):
                bad = ~np.isfinite(array[start : start + 4096]).all(axis=1)
                if bad.any():
                    raise FlygnnError(
                        f"{where}: {name} has NaN or infinite values at frame {start + int(np.argmax(bad))}; "
                        "the simulation diverged or the data is damaged — simulate it again."
                    )

    def voltage_statistics(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Per-neuron mean and std of v (N,) and xnorm = 1.5 × std of all voltages."""
        total = np.zeros(self.n_neurons)
        squares = np.zeros(self.n_neurons)
        for start in range(0, self.n_frames, 1024):
            block = self.voltage[start : start + 1024].astype(np.float64)
            total += block.sum(axis=0)
            squares += np.square(block).sum(axis=0)
        mean = total / self.n_frames
        std = np.sqrt(np.maximum(squares / self.n_frames - mean**2, 0.0))
        overall_mean = total.sum() / self.voltage.size
        overall_std = math.sqrt(max(squares.sum() / self.voltage.size - overall_mean**2, 0.0))
        return mean.astype(np.float32), std.astype(np.float32), 1.5 * overall_std

    def stimulus_frames(self, indices: np.ndarray) -> np.ndarray:
        """Full (len, N) input currents of the given frames."""
        full = np.zeros((len(indices), self.n_neurons), dtype=np.float32)
        full[:, self.stimulus_neurons] = self.stimulus[indices]
        return full

    def activity(self, n_frames: int, seed: int) -> dict[str, np.ndarray]:
        """The bundle's ``activity``: v statistics and ``n_frames`` sampled frames (v, I)."""
        mean, std, _ = self.voltage_statistics()
        rng = np.random.default_rng([seed, 1])
        picked = np.sort(rng.choice(self.n_frames, size=min(n_frames, self.n_frames), replace=False))
        return {
            "voltage_mean": mean,
            "voltage_std": std,
            "frames_voltage": self.voltage[picked].copy(),
            "frames_stimulus": self.stimulus_frames(picked),
        }


class _DeviceFrames:
    """The training frames as tensors on the training device, served in batches."""

    def __init__(self, frames: TrainingFrames, device: torch.device) -> None:
        self.device = device
        self.n_neurons = frames.n_neurons
        self.voltage = torch.from_numpy(frames.voltage).to(device)
        self.target = torch.from_numpy(frames.target).to(device)
        self.stimulus = torch.from_numpy(frames.stimulus).to(device)
        self.stimulus_neurons = torch.from_numpy(frames.stimulus_neurons).to(device)

    def batch(self, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index = torch.from_numpy(indices).to(self.device)
        v = self.voltage.index_select(0, index)
        y = self.target.index_select(0, index)
        I = torch.zeros_like(v)
        I[:, self.stimulus_neurons] = self.stimulus.index_select(0, index)
        return v, I, y


# --------------------------------------------------------------------------- loss


def loss_terms(
    model: FlyVisGNN, v: torch.Tensor, I: torch.Tensor, y: torch.Tensor, config: TrainingConfig, xnorm: float
) -> dict[str, torch.Tensor]:
    """Every term of the loss (already multiplied by its coefficient); their sum is the loss.

    v, I, y: (B, N) voltages, input currents and clean dv/dt of B frames.
    """
    terms = {"prediction": (model(v, I) - y).norm()}
    rows = []
    if config.monotonicity > 0:
        rows += [v[0], v[0] + config.monotonicity_step * xnorm]
    if config.anchor > 0:
        rows.append(torch.full_like(v[0], 2 * xnorm))
    if rows:
        g2 = model.message(torch.stack(rows), model.a.detach())  # inputs detached
        if config.monotonicity > 0:
            terms["monotonicity"] = config.monotonicity * monotonicity_penalty(g2[0], g2[1])
        if config.anchor > 0:
            terms["anchor"] = config.anchor * (g2[-1] - 2 * xnorm).norm()
    if config.g_phi_L1 > 0:
        terms["g_phi_L1"] = config.g_phi_L1 * sum(p.abs().sum() for p in model.g_phi.parameters())
    if config.f_theta_L1 > 0 or config.f_theta_L2 > 0:
        terms["f_theta_weights"] = sum(
            config.f_theta_L1 * p.abs().sum() + config.f_theta_L2 * p.norm() for p in model.f_theta.parameters()
        )
    if config.W_L1 > 0:
        terms["W_L1"] = config.W_L1 * model.W.abs().sum()
    return terms


def monotonicity_penalty(g2_at_v: torch.Tensor, g2_above_v: torch.Tensor) -> torch.Tensor:
    """‖ReLU(g²(v) − g²(v + δ))‖₂: zero exactly when g² does not decrease from v to v + δ."""
    return torch.relu(g2_at_v - g2_above_v).norm()


# --------------------------------------------------------------------------- trainer


class TrainingDiverged(FlygnnError):
    """The loss became NaN or infinite; no bundle is written."""


def tune_cpu_allocator() -> bool:
    """Keep freed memory in the process (glibc): large per-iteration tensors then reuse
    warm pages instead of fresh mmap'd ones (page faults). Returns whether it applied.
    Same effect as ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=… MALLOC_TOP_PAD_=…``.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
    ok = libc.mallopt(M_MMAP_MAX, 0) == 1
    ok &= libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
    ok &= libc.mallopt(M_TOP_PAD, 256 << 20) == 1
    return bool(ok)


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device that exists here, or a FlygnnError saying which ones do."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise FlygnnError(f"unknown device {device!r}; use 'cpu' or 'cuda' (or 'cuda:N').") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise FlygnnError(f"device {device!r} requested but no CUDA GPU is available here; use --device cpu.")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise FlygnnError(f"device {device!r} does not exist: {torch.cuda.device_count()} GPU(s) here.")
    elif resolved.type != "cpu":
        raise FlygnnError(f"device {device!r} is not supported; use 'cpu' or 'cuda'.")
    return resolved


class Trainer:
    """Fits a ``FlyVisGNN`` to training frames (scikit-learn style: ``fit`` returns self).

    Args:
        config: the resolved training settings.
        network: the network the frames were simulated on.
        device: 'cpu' or 'cuda'.
        checkpoint_dir: where checkpoints go (None: no checkpoints, no resume).
        progress: show a progress bar.

    Learned: ``model_``, ``history_`` (one row per ``log_every`` iterations: iteration,
    wall time, mean of every loss component and of the total, iterations/s),
    ``iteration_`` (iterations done), ``wall_time_s_``, ``final_loss_`` (mean total
    loss of the last log row), ``xnorm_``.
    """

    def __init__(
        self,
        config: TrainingConfig,
        network: Network,
        *,
        device: str | torch.device = "cpu",
        checkpoint_dir: str | Path | None = None,
        progress: bool = True,
        dataset_fingerprint: str | None = None,
    ) -> None:
        self.config = config
        self.network = network
        self.device = resolve_device(device)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.progress = progress
        self.dataset_fingerprint = dataset_fingerprint

    # -- checkpoints ---------------------------------------------------------------

    def checkpoint_exists(self) -> bool:
        return self.checkpoint_dir is not None and (self.checkpoint_dir / "progress.json").is_file()

    def _save_checkpoint(self, optimizer: torch.optim.Optimizer, rng: np.random.Generator) -> None:
        if self.checkpoint_dir is None:
            return
        progress = {
            "format": CHECKPOINT_FORMAT,
            "iteration": self.iteration_,
            "config": self.config.to_dict(),
            "network_fingerprint": self.network.fingerprint(),
            "dataset_fingerprint": self.dataset_fingerprint,
            "xnorm": self.xnorm_,
            "wall_time_s": self.wall_time_s_,
            "rng_state": rng.bit_generator.state,
            "history": self.history_,
        }
        with atomic_directory(self.checkpoint_dir, overwrite=True) as tmp:
            torch.save({"model": self.model_.state_dict(), "optimizer": optimizer.state_dict()}, tmp / "state.pt")
            write_text(tmp / "progress.json", json.dumps(progress) + "\n")
        self._last_checkpoint = self.iteration_

    def _load_checkpoint(self, optimizer: torch.optim.Optimizer, rng: np.random.Generator) -> None:
        assert self.checkpoint_dir is not None
        where = f"checkpoint {self.checkpoint_dir}"
        try:
            progress = json.loads((self.checkpoint_dir / "progress.json").read_text())
            state = torch.load(self.checkpoint_dir / "state.pt", map_location=self.device, weights_only=True)
        except FileNotFoundError as exc:
            raise FlygnnError(f"{where} is incomplete ({exc.filename} missing); start without --resume.") from exc
        except Exception as exc:  # unpickling refused or damaged file
            raise FlygnnError(f"{where} cannot be read ({exc}); start without --resume.") from exc
        if progress.get("format") != CHECKPOINT_FORMAT:
            raise FlygnnError(f"{where}: format {progress.get('format')!r} is not {CHECKPOINT_FORMAT!r}.")
        if progress["network_fingerprint"] != self.network.fingerprint():
            raise FlygnnError(f"{where} was made on another network; start without --resume or use its network.")
        if self.dataset_fingerprint and progress.get("dataset_fingerprint") not in (None, self.dataset_fingerprint):
            raise FlygnnError(
                f"{where} was trained on another dataset (fingerprint {progress.get('dataset_fingerprint')}, "
                f"now {self.dataset_fingerprint}); start without --resume."
            )
        saved = progress["config"]
        changed = [k for k in _RESUME_FIELDS if not _same_setting(saved.get(k), getattr(self.config, k))]
        if changed:
            detail = ", ".join(f"{k}: {saved.get(k)!r} -> {getattr(self.config, k)!r}" for k in changed)
            raise FlygnnError(f"{where} was trained with other settings ({detail}); resume with the same ones.")
        self.model_.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = progress["rng_state"]
        self.iteration_ = int(progress["iteration"])
        self.history_ = list(progress["history"])
        self.wall_time_s_ = float(progress["wall_time_s"])
        self.xnorm_ = float(progress["xnorm"])
        self._last_checkpoint = self.iteration_

    # -- fitting -------------------------------------------------------------------

    def _build(self) -> tuple[FlyVisGNN, torch.optim.Optimizer]:
        config = self.config
        torch.manual_seed(config.seed)
        model = FlyVisGNN.from_network(self.network, **config.architecture()).to(self.device)
        groups = model.parameter_groups()
        optimizer = torch.optim.Adam(
            [
                {"params": groups["W"], "lr": config.lr_W, "name": "W"},
                {"params": groups["mlp"], "lr": config.lr_mlp, "name": "mlp"},
                {"params": groups["embedding"], "lr": config.lr_embedding, "name": "embedding"},
            ]
        )
        return model, optimizer

    def _close_log_row(self, sums: dict, window: int, elapsed_before: float, started: float, window_start: float, bar: Any) -> None:
        now = time.perf_counter()
        self.wall_time_s_ = elapsed_before + (now - started)
        row: dict[str, Any] = {"iteration": self.iteration_, "wall_time_s": round(self.wall_time_s_, 3)}
        row.update({k: sums[k] / window for k in (*LOSS_COMPONENTS, "loss")})
        row["iterations_per_s"] = window / max(now - window_start, 1e-9)
        self.history_.append(row)
        bar.set_postfix(loss=f"{row['loss']:.4g}", pred=f"{row['prediction']:.4g}")

    def fit(self, frames: TrainingFrames, *, resume: bool = False) -> Trainer:
        """Train for ``config.iterations`` iterations (continuing a checkpoint with ``resume``)."""
        from tqdm.auto import tqdm

        config = self.config
        if frames.n_neurons != self.network.n_neurons:
            raise FlygnnError(
                f"training frames have {frames.n_neurons} neurons but the network has {self.network.n_neurons}; "
                "the dataset was simulated on another network."
            )
        if frames.n_frames < 1:
            raise FlygnnError("no training frames.")
        self.model_, optimizer = self._build()
        rng = np.random.default_rng(config.seed)
        self.iteration_, self.history_, self.wall_time_s_ = 0, [], 0.0
        self._last_checkpoint = 0
        if resume:
            if not self.checkpoint_exists():
                raise FlygnnError(f"nothing to resume: no checkpoint in {self.checkpoint_dir}; start without --resume.")
            self._load_checkpoint(optimizer, rng)
        else:
            self.xnorm_ = frames.voltage_statistics()[2]
        data = _DeviceFrames(frames, self.device)
        self.model_.train()

        sums = dict.fromkeys((*LOSS_COMPONENTS, "loss"), 0.0)
        window = 0
        rng_state = rng.bit_generator.state
        started = time.perf_counter()
        elapsed_before = self.wall_time_s_
        last_save = started
        window_start = started
        bar = tqdm(
            total=config.iterations, initial=min(self.iteration_, config.iterations), disable=not self.progress,
            unit="it", dynamic_ncols=True, desc=f"train σ={config.sigma:g} ({config.preset})",
        )
        try:
            while self.iteration_ < config.iterations:
                indices = rng.integers(0, frames.n_frames, size=config.batch_size)
                v, I, y = data.batch(indices)
                optimizer.zero_grad(set_to_none=True)
                terms = loss_terms(self.model_, v, I, y, config, self.xnorm_)
                loss = torch.stack(list(terms.values())).sum()
                loss.backward()
                values = torch.stack([t.detach() for t in terms.values()]).tolist()
                total = math.fsum(values)
                if not math.isfinite(total):
                    raise TrainingDiverged(
                        f"training diverged at iteration {self.iteration_ + 1}: the loss is {total} "
                        f"({', '.join(f'{k}={x:.4g}' for k, x in zip(terms, values))}). No bundle was written; "
                        f"the last good checkpoint is at iteration {self._last_checkpoint}. Lower the learning "
                        "rates (learning_rate_scale in the preset) or try another --seed."
                    )
                optimizer.step()
                self.iteration_ += 1
                rng_state = rng.bit_generator.state  # restored if Ctrl-C lands mid-iteration
                for name, value in zip(terms, values):
                    sums[name] += value
                sums["loss"] += total
                window += 1
                bar.update(1)
                if self.iteration_ % config.log_every == 0 or self.iteration_ == config.iterations:
                    self._close_log_row(sums, window, elapsed_before, started, window_start, bar)
                    sums, window, window_start = dict.fromkeys(sums, 0.0), 0, time.perf_counter()
                    # checkpoints only at log boundaries, so the saved log matches the saved state
                    if time.perf_counter() - last_save >= config.checkpoint_every_s and self.iteration_ < config.iterations:
                        self._save_checkpoint(optimizer, rng)
                        last_save = time.perf_counter()
        except KeyboardInterrupt:
            rng.bit_generator.state = rng_state
            if window:
                self._close_log_row(sums, window, elapsed_before, started, window_start, bar)
            self._save_checkpoint(optimizer, rng)
            print(f"\ninterrupted; checkpoint saved at iteration {self.iteration_} (continue with --resume)", file=sys.stderr)
            raise
        finally:
            bar.close()
        self.wall_time_s_ = elapsed_before + (time.perf_counter() - started)
        self._save_checkpoint(optimizer, rng)
        self.final_loss_ = float(self.history_[-1]["loss"]) if self.history_ else float("nan")
        self.model_.eval()
        return self


# --------------------------------------------------------------------------- scoring, logs, bundle


def score_bundle(model: FlyVisGNN, activity: Mapping[str, np.ndarray], ground_truth: Any) -> dict[str, float] | None:
    """Recovery of the trained model (corrected-W R² and slope, τ R², V_rest R²).

    Delegates to ``flygnn.analysis.recovery_metrics`` (the upstream-compatible
    definitions); returns None while that function does not exist yet.
    """
    try:
        from flygnn.analysis import recovery_metrics  # type: ignore[attr-defined]
    except ImportError as exc:
        if getattr(exc, "name", None) in (None, "flygnn.analysis") or "recovery_metrics" in str(exc):
            return None
        raise
    with torch.no_grad():
        scores = recovery_metrics(model.cpu().eval(), dict(activity), ground_truth)
    return {k: float(v) for k, v in scores.items()}


def write_loss_log(history: list[dict[str, Any]], directory: str | Path) -> list[Path]:
    """``training-loss.csv`` and the loss-components figure ``training-loss.{png,pdf}``."""
    from flygnn.figures.training import plot_training_loss
    from flygnn.figures.style import save_figure

    directory = Path(directory)
    columns = ["iteration", "wall_time_s", *LOSS_COMPONENTS, "loss", "iterations_per_s"]
    lines = [",".join(columns)] + [",".join(f"{row.get(c, float('nan')):.8g}" for c in columns) for row in history]
    write_text(directory / "training-loss.csv", "\n".join(lines) + "\n")
    paths = [directory / "training-loss.csv"]
    if history:
        paths += save_figure(plot_training_loss(history), directory, "training-loss")
    return paths


def default_dataset_path(preset: str, condition: str) -> Path:
    """Where ``flygnn simulate`` writes a condition's dataset (relative to the project)."""
    return Path("data") / "datasets" / preset / f"{condition}.zarr"


def default_bundle_path(condition: str) -> Path:
    return Path("data") / "bundles" / condition


def default_checkpoint_dir(preset: str, condition: str) -> Path:
    """Training checkpoints: under the git-ignored ``data/cache``."""
    return Path("data") / "cache" / "training" / preset / condition


def train_condition(
    condition: str,
    preset: str,
    *,
    dataset: str | Path | None = None,
    out: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    fresh: bool = False,
    overwrite: bool = False,
    device: str = "cpu",
    overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
    conditions_file: str | Path | None = None,
) -> Path:
    """Train the GNN for one condition and write its checkpoint bundle; returns its path.

    ``condition`` names an entry of ``data/conditions.yaml``; its σ must equal the
    dataset's. ``resume`` continues the checkpoint in ``checkpoint_dir``; without it an
    existing checkpoint is an error unless ``fresh`` (start over).
    """
    from flygnn.conditions import load_conditions, select_conditions
    from flygnn.connectome import load_network
    from flygnn.dataset import open_dataset

    (entry,) = select_conditions(load_conditions(conditions_file), [condition])
    dataset_path = Path(dataset) if dataset is not None else default_dataset_path(preset, condition)
    out = Path(out) if out is not None else default_bundle_path(condition)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir(preset, condition)
    if out.exists() and not overwrite:
        raise FlygnnError(f"bundle {out} already exists; pass --overwrite to replace it (or choose --out).")
    device_ = resolve_device(device)
    if not Path(dataset_path).exists():
        raise FlygnnError(
            f"dataset {dataset_path} not found; simulate it first (`flygnn simulate --preset {preset} "
            f"--conditions {condition}`) or pass --dataset."
        )
    ds = open_dataset(dataset_path)
    if abs(float(ds.sigma) - entry.sigma) > SIGMA_TOLERANCE:
        raise FlygnnError(
            f"dataset {dataset_path} was simulated at σ = {ds.sigma:g} but condition {condition} has σ = {entry.sigma:g}; "
            "pass the matching --dataset."
        )
    extent = int(ds.attrs["extent"])
    network = load_network(extent=extent)
    ds.check_network(network)
    config = load_training_config(preset, entry.sigma, overrides)
    trainer = Trainer(
        config, network, device=device_, checkpoint_dir=checkpoint_dir, progress=progress,
        dataset_fingerprint=ds.fingerprint(),
    )
    if trainer.checkpoint_exists() and not resume:
        if not fresh:
            raise FlygnnError(
                f"a checkpoint of an earlier run exists in {checkpoint_dir}; pass --resume to continue it "
                "or --fresh to start over."
            )
    if resume and not trainer.checkpoint_exists():
        print(f"no checkpoint in {checkpoint_dir}; starting from iteration 0", file=sys.stderr)
    frames = TrainingFrames.from_dataset(ds, network.input_indices)
    trainer.fit(frames, resume=resume and trainer.checkpoint_exists())
    activity = frames.activity(config.activity_frames, config.seed)
    ground_truth = ds.ground_truth()
    recovery = score_bundle(trainer.model_, activity, ground_truth)
    meta = {
        "condition": condition,
        "sigma": entry.sigma,
        "training": {
            "preset": preset,
            "config": config.to_dict(),
            "iterations": trainer.iteration_,
            "wall_time_s": round(trainer.wall_time_s_, 1),
            "final_loss": trainer.final_loss_,
            "seed": config.seed,
            "device": str(device_),
            "xnorm": trainer.xnorm_,
            "threads": torch.get_num_threads(),
            "training_frames": frames.n_frames,
        },
        "dataset": {"path": str(dataset_path), "fingerprint": ds.fingerprint()},
        "groundtruth": {
            "source": str(ground_truth.source),
            "synthetic": bool(ground_truth.synthetic),
            "fingerprint": ground_truth.fingerprint(),
        },
        "recovery": recovery,
    }
    from flygnn.bundle import save_bundle

    save_bundle(
        out, trainer.model_.cpu(), meta, activity, overwrite=overwrite,
        extra_files=lambda folder: write_loss_log(trainer.history_, folder),
    )
    return out
