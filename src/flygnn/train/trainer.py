"""The trainer: Adam on the loss of :mod:`flygnn.train.loss`, resumable exactly.

The trainer knows nothing about files: it starts from a :class:`TrainingState` (or
from scratch), hands a new state to ``save_state`` every ``checkpoint_every_s``
seconds, on Ctrl-C/SIGTERM and at the end, and scores the model with ``scorer``
every ``score_every`` iterations for the history. Where states live and how a model
is scored is decided by the caller (:mod:`flygnn.stages.train`).
"""

from __future__ import annotations

import ctypes
import math
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from flygnn.errors import FlygnnError
from flygnn.metric_names import RECOVERY_METRICS
from flygnn.model import FlyVisGNN
from flygnn.train.config import TrainingConfig
from flygnn.train.frames import DeviceFrames, TrainingFrames
from flygnn.train.history import is_scored
from flygnn.train.loss import LOSS_COMPONENTS, loss_terms
from flygnn.train.state import TrainingState

if TYPE_CHECKING:
    from flygnn.connectome import Network


class TrainingDiverged(FlygnnError):
    """The loss became NaN or infinite; no bundle is written."""


# the recovery metrics as a progress line names them (training-history.csv has the full names)
SCORE_LABELS = dict(zip(RECOVERY_METRICS, ("W R²", "slope", "τ R²", "V_rest R²"), strict=False))


def progress_line(row: dict[str, Any], iterations: int) -> str:
    """One line for a history row: how far, how fast, the loss, and the recovery where it was scored."""
    parts = [f"iteration {int(row['iteration']):,} of {iterations:,}"]
    if "iterations_per_s" in row:
        parts.append(f"{row['iterations_per_s']:.1f} it/s")
    if "loss" in row:
        parts.append(f"loss {row['loss']:.4g}")
    parts += [f"{label} {row[key]:.5f}" for key, label in SCORE_LABELS.items() if key in row]
    return " · ".join(parts)


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
        progress: show a progress bar. Either way every scored row is printed as one line on
            stderr (:func:`progress_line`); without a bar and without a scorer, one line per checkpoint.
        dataset_fingerprint: recorded in every state (and checked when resuming).
        save_state: called with a :class:`TrainingState` to checkpoint (None: never).
        scorer: ``scorer(model) -> {metric: value}``, called every ``config.score_every``
            iterations (and at the end); its values go into the history rows.
        time_limit_s: stop at the first log boundary after this many seconds of training in this leg
            (time spent scoring not counted).
        stop: an event; when set, the run stops at the next log boundary (like the time limit).

    The learning rates are the config's times ``config.lr_factor_at(iteration)``: a step of
    ``config.lr_steps`` passed during ``fit`` ends the running leg record and starts one at
    the new factor (Adam's moments carry on), as a run stopped and resumed there would.

    Learned: ``model_``, ``history_`` (rows: iteration, wall time, mean of every loss term
    and of the total, iterations/s, and the scores where scored), ``iteration_``,
    ``wall_time_s_`` (over all legs), ``final_loss_``, ``xnorm_``, ``legs_``, ``state_``
    (the last state handed out), ``stopped_early_``.
    """

    # the running leg's record and its start (training seconds); set by ``fit``
    _leg: dict[str, Any]
    _leg_started_wall: float

    def __init__(
        self,
        config: TrainingConfig,
        network: Network,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
        dataset_fingerprint: str | None = None,
        save_state: Callable[[TrainingState], Any] | None = None,
        scorer: Callable[[FlyVisGNN], dict[str, float]] | None = None,
        time_limit_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.network = network
        self.device = resolve_device(device)
        self.progress = progress
        self.dataset_fingerprint = dataset_fingerprint
        self.save_state = save_state
        self.scorer = scorer
        self.time_limit_s = time_limit_s
        self.stop = stop

    def _build(self) -> tuple[FlyVisGNN, torch.optim.Optimizer]:
        config = self.config
        torch.manual_seed(config.seed)
        model = FlyVisGNN.from_network(self.network, **config.architecture()).to(self.device)
        groups = model.parameter_groups()
        # the rates are set by fit, for the iteration it starts from (_set_rates)
        optimizer = torch.optim.Adam(
            [{"params": groups[name], "name": name} for name in ("W", "mlp", "embedding")], lr=0.0
        )
        return model, optimizer

    def _set_rates(self, optimizer: torch.optim.Optimizer, factor: float) -> None:
        """The preset's rates times ``factor``, in every parameter group."""
        rates = {"W": self.config.lr_W, "mlp": self.config.lr_mlp, "embedding": self.config.lr_embedding}
        for group in optimizer.param_groups:
            group["lr"] = rates[group["name"]] * factor

    def _step_rates(self, optimizer: torch.optim.Optimizer, factor: float) -> None:
        """A learning-rate step of ``config.lr_steps``: close this leg and start one at ``factor``."""
        self._leg["ended_iteration"] = self.iteration_
        self._leg["wall_time_s"] = round(self.wall_time_s_ - self._leg_started_wall, 1)
        self.legs_.append(self._leg)
        self._leg = {
            **self._leg,
            "started_iteration": self.iteration_,
            "wall_time_s": 0.0,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "lr_factor": factor,
            "note": f"learning-rate step to ×{factor:g} at iteration {self.iteration_} (lr_steps)",
        }
        self._leg.pop("frame_seed", None)  # only the leg that set it reseeded the sampler
        self._leg_started_wall = self.wall_time_s_
        self._set_rates(optimizer, factor)

    def _state(self, optimizer: torch.optim.Optimizer, rng: np.random.Generator) -> TrainingState:
        return TrainingState.capture(
            self.model_,
            optimizer,
            rng,
            iteration=self.iteration_,
            xnorm=self.xnorm_,
            wall_time_s=round(self.wall_time_s_, 3),
            config=self.config.to_dict(),
            network_fingerprint=self.network.fingerprint(),
            dataset_fingerprint=self.dataset_fingerprint,
            legs=[*self.legs_, self._leg],
        )

    def _checkpoint(self, optimizer: torch.optim.Optimizer, rng: np.random.Generator) -> None:
        self._leg["ended_iteration"] = self.iteration_
        self._leg["wall_time_s"] = round(self.wall_time_s_ - self._leg_started_wall, 1)
        self.state_ = self._state(optimizer, rng)
        if self.save_state is not None:
            self.save_state(self.state_)
        self._last_checkpoint = self.iteration_

    def _score(self) -> dict[str, float]:
        if self.scorer is None:
            return {}
        was_training = self.model_.training
        self.model_.eval()
        started = time.perf_counter()
        try:
            with torch.no_grad():
                return dict(self.scorer(self.model_))
        finally:
            self.model_.train(was_training)
            self._scoring_s += time.perf_counter() - started  # not training time

    def _score_row(self, row: dict[str, Any], bar: Any) -> None:
        """Score the model into its history ``row`` and print the row's progress line."""
        row.update(self._score())
        bar.write(progress_line(row, self.config.iterations), file=sys.stderr)

    def _score_starting_point(self) -> None:
        """Score the model the leg starts from, unless the history already has that score."""
        if self.scorer is None or not self.config.score_every or self.iteration_ >= self.config.iterations:
            return
        rows = [row for row in self.history_ if row["iteration"] == self.iteration_]
        if any(is_scored(row) for row in rows):
            return
        if rows:
            rows[-1].update(self._score())
        else:
            self.history_.append(
                {"iteration": self.iteration_, "wall_time_s": round(self.wall_time_s_, 3), **self._score()}
            )

    def _close_log_row(self, sums: dict, window: int, now: float, window_start: float, bar: Any) -> dict[str, Any]:
        row: dict[str, Any] = {"iteration": self.iteration_, "wall_time_s": round(self.wall_time_s_, 3)}
        row.update({k: sums[k] / window for k in (*LOSS_COMPONENTS, "loss")})
        row["iterations_per_s"] = window / max(now - window_start, 1e-9)
        self.history_.append(row)
        bar.set_postfix(loss=f"{row['loss']:.4g}", pred=f"{row['prediction']:.4g}")
        return row

    def fit(
        self,
        frames: TrainingFrames,
        *,
        initial_state: TrainingState | None = None,
        history: list[dict[str, Any]] | None = None,
        note: str = "",
    ) -> Trainer:
        """Train until ``config.iterations`` (continuing ``initial_state`` when given).

        ``history``: the rows of earlier legs (rows after the state's iteration are dropped:
        they belong to a leg whose state was never saved).
        """
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
        self.stopped_early_ = False
        if initial_state is not None:
            initial_state.restore(self.model_, optimizer, rng)
            self.iteration_ = initial_state.iteration
            self.wall_time_s_ = initial_state.wall_time_s
            self.xnorm_ = initial_state.xnorm
            self.legs_ = list(initial_state.legs)
        else:
            self.iteration_, self.wall_time_s_, self.legs_ = 0, 0.0, []
            self.xnorm_ = frames.voltage_statistics()[2]
        if config.frame_seed is not None:
            rng.bit_generator.state = np.random.default_rng(config.frame_seed).bit_generator.state
        factor = config.lr_factor_at(self.iteration_)
        self._set_rates(optimizer, factor)
        # learning-rate steps still ahead of this leg
        steps_ahead = {start for start, _ in config.lr_steps if self.iteration_ < start < config.iterations}
        self.history_ = [row for row in (history or []) if row["iteration"] <= self.iteration_]
        self._last_checkpoint = self.iteration_
        self._leg_started_wall = self.wall_time_s_
        self._leg = {
            "started_iteration": self.iteration_,
            "ended_iteration": self.iteration_,
            "wall_time_s": 0.0,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "device": str(self.device),
            "threads": torch.get_num_threads(),
            "batch_size": config.batch_size,
            "lr_factor": factor,
            "preset": config.preset,
            "note": note,
        }
        if config.frame_seed is not None:
            self._leg["frame_seed"] = config.frame_seed
        data = DeviceFrames(frames, self.device)
        self.model_.train()

        sums = dict.fromkeys((*LOSS_COMPONENTS, "loss"), 0.0)
        window = 0
        rng_state = rng.bit_generator.state
        started = time.perf_counter()
        elapsed_before = self.wall_time_s_
        last_save = started
        window_start = started
        self._scoring_s = 0.0  # seconds spent scoring in this leg (added up by _score)
        bar = tqdm(
            total=config.iterations,
            initial=min(self.iteration_, config.iterations),
            disable=not self.progress,
            unit="it",
            dynamic_ncols=True,
            desc=f"train σ={config.sigma:g} ({config.preset})",
        )
        try:
            self._score_starting_point()
            while self.iteration_ < config.iterations:
                if self.iteration_ in steps_ahead:
                    self.wall_time_s_ = elapsed_before + (time.perf_counter() - started) - self._scoring_s
                    self._step_rates(optimizer, config.lr_factor_at(self.iteration_))
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
                        f"({', '.join(f'{k}={x:.4g}' for k, x in zip(terms, values, strict=False))}). No bundle was written; "
                        f"the last good state is at iteration {self._last_checkpoint}. Lower the learning "
                        "rates (learning_rate_scale in the preset) or try another --seed."
                    )
                optimizer.step()
                self.iteration_ += 1
                rng_state = rng.bit_generator.state  # restored if Ctrl-C lands mid-iteration
                for name, value in zip(terms, values, strict=False):
                    sums[name] += value
                sums["loss"] += total
                window += 1
                bar.update(1)
                last = self.iteration_ == config.iterations
                if self.iteration_ % config.log_every == 0 or last:
                    now = time.perf_counter()
                    self.wall_time_s_ = elapsed_before + (now - started) - self._scoring_s
                    row = self._close_log_row(sums, window, now, window_start, bar)
                    if self.scorer is not None and (
                        last or (config.score_every and self.iteration_ % config.score_every == 0)
                    ):
                        self._score_row(row, bar)
                    sums, window, window_start = dict.fromkeys(sums, 0.0), 0, time.perf_counter()
                    out_of_time = self.time_limit_s is not None and now - started - self._scoring_s >= self.time_limit_s
                    if (out_of_time or (self.stop is not None and self.stop.is_set())) and not last:
                        self.stopped_early_ = True
                        if self.scorer is not None and not is_scored(row):
                            self._score_row(row, bar)
                        break
                    # checkpoints only at log boundaries, so the saved history matches the saved state
                    if time.perf_counter() - last_save >= config.checkpoint_every_s and not last:
                        self._checkpoint(optimizer, rng)
                        last_save = time.perf_counter()
                        if self.scorer is None and not self.progress:  # a line now and then in a log file
                            bar.write(progress_line(row, config.iterations) + " · state saved", file=sys.stderr)
        except KeyboardInterrupt:
            rng.bit_generator.state = rng_state
            self.wall_time_s_ = elapsed_before + (time.perf_counter() - started) - self._scoring_s
            if window:
                self._close_log_row(sums, window, time.perf_counter(), window_start, bar)
            self._checkpoint(optimizer, rng)
            saved = (
                "training state saved (continue with --resume)"
                if self.save_state is not None
                else "this run saves no state"
            )
            print(f"\ninterrupted at iteration {self.iteration_}; {saved}", file=sys.stderr)
            raise
        finally:
            bar.close()
        self.wall_time_s_ = elapsed_before + (time.perf_counter() - started) - self._scoring_s
        self._checkpoint(optimizer, rng)
        self.legs_ = list(self.state_.legs)
        losses = [row["loss"] for row in self.history_ if "loss" in row]
        self.final_loss_ = float(losses[-1]) if losses else float("nan")
        self.model_.eval()
        return self
