"""Held-out validation: the learned dynamics on the test split, which training never saw.

Two questions, each answered against the ground truth the dataset was simulated with:

- one step: does dv̂/dt = model(v, I) predict the recorded clean dv/dt at the recorded
  (noisy) states? R² pooled over neurons and frames, per neuron and per type, and a
  normalised loss — each neuron's mean squared error divided by the variance of its
  target — that can be compared across σ, unlike the training loss (whose scale grows
  with the noise and which carries regularisers);
- rollout: run the learned network on its own, v ← v + dt·model(v, I) without noise, from
  the test split's first recorded state on its recorded input for K steps, beside the true
  noise-free dynamics run the same way (the simulator's equations: an
  :class:`~flygnn.analysis.oracle.OracleModel` of the dataset's ground truth). The recorded
  voltages carry the noise kicks at σ > 0, so the learned rollout is compared with the
  noise-free one; how far the noise alone takes the recording from it is reported beside.

Neurons whose target does not vary over the test split (std below 1/1000 of the median
neuron's, :data:`STILL_FRACTION`: e.g. a neuron that stays below threshold) have no R² and no
normalised loss: they are left out of both and counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from flygnn.analysis.metrics import Metric
from flygnn.analysis.oracle import OracleModel
from flygnn.analysis.probes import central_neurons
from flygnn.analysis.rollout import euler_rollout, model_dtype
from flygnn.analysis.threads import fixed_threads
from flygnn.errors import FlygnnError
from flygnn.metric_names import (
    HELDOUT_DVDT_R2,
    HELDOUT_DVDT_R2_MEDIAN_TYPE,
    HELDOUT_NORMALISED_LOSS,
    HELDOUT_ZERO_VARIANCE_NEURONS,
    ROLLOUT_DIVERGED_STEP,
    ROLLOUT_ERROR_FINAL,
    ROLLOUT_ERROR_MEAN,
    ROLLOUT_ERROR_MEDIAN,
    ROLLOUT_NOISE_ERROR_MEAN,
)

TRACE_TYPES = ("R1", "L1", "Mi1", "Tm3", "T4a", "T5a")
# A neuron whose target's std is below this fraction of the median neuron's counts as one whose
# target does not vary: its variance is then mostly the float32 rounding of the recorded
# target, so its R² and normalised loss would score rounding, not the model.
STILL_FRACTION = 1e-3
# A neuron's rollout error is divided by the std of its true trace, but by no less than this
# fraction of the median std over neurons: a neuron that barely moves in K steps would
# otherwise turn a tiny absolute error into a huge normalised one and dominate the mean.
STD_FLOOR_FRACTION = 0.1


class HeldOutValidation:
    """One-step dv/dt prediction and a free rollout of a model on a dataset's test split.

    Args:
        rollout_steps: K, Euler steps of the rollout (200 at dt = 0.02 s: 4 s).
        batch_frames: frames evaluated at once in the one-step pass (memory ∝ batch × N).
        trace_types: the cell types whose central-column traces the figure shows.
        device: where the model runs ("cpu", "cuda").

    Attributes after :meth:`fit` (N neurons, n_types types, K steps):
        r2_pooled_: R² = 1 − Σ(ŷ − y)²/Σ(y − ȳ)² over every (frame, neuron), ȳ the mean of all.
        r2_per_neuron_: (N,) R² of each neuron over the frames (NaN: target does not vary).
        r2_per_type_: (n_types,) median over a type's neurons of r2_per_neuron_.
        normalised_loss_: mean over neurons of MSE_i / Var(y_i) (= mean of 1 − R²_i).
        zero_variance_neurons_: neurons left out of the last three (target does not vary).
        nonfinite_predictions_: (frame, neuron) predictions that were NaN or infinite.
        time_: (K + 1,) seconds from the start of the rollout.
        rollout_error_: (K + 1,) RMS over neurons of (learned − true)/s_i, s_i the std of the
            true trace (floored, see :data:`STD_FLOOR_FRACTION`).
        rollout_error_median_: (K + 1,) the median over neurons of |learned − true|/s_i.
        rollout_error_recorded_: the RMS error of the learned rollout against the recorded (noisy) voltages.
        noise_error_: the same, true noise-free against recorded: what the noise alone does.
        rollout_rmse_: (K + 1,) RMS over neurons of learned − true in voltage units (a.u.).
        rollout_error_per_type_: (n_types,) RMS of (learned − true)/s_i over a type's neurons
            and steps 1..K.
        traces_learned_, traces_true_, traces_recorded_: (K + 1, n_types) voltages of each
            type's central-column neuron.
        diverged_at_: first step at which the learned rollout is non-finite, or None.
        type_names_: the cell types, in the order of the per-type arrays.
    """

    def __init__(
        self,
        rollout_steps: int = 200,
        batch_frames: int = 256,
        trace_types: Sequence[str] = TRACE_TYPES,
        device: str = "cpu",
    ) -> None:
        self.rollout_steps = rollout_steps
        self.batch_frames = batch_frames
        self.trace_types = tuple(trace_types)
        self.device = device

    def fit(self, model: torch.nn.Module, dataset, network) -> HeldOutValidation:
        """model: forward(v, I) → dv/dt (a FlyVisGNN or an OracleModel); dataset: a
        :class:`flygnn.dataset.Dataset`; network: the :class:`flygnn.connectome.Network` it was
        simulated on (for the columns of the traces)."""
        dataset.check_network(network)
        frames = dataset.frames("test")
        if not (isinstance(self.rollout_steps, int) and 1 <= self.rollout_steps < frames):
            raise FlygnnError(
                f"rollout_steps must be an integer from 1 to {frames - 1} (the test split of {dataset.path} has "
                f"{frames} frames); got {self.rollout_steps!r}."
            )
        unknown = [name for name in self.trace_types if name not in dataset.type_names]
        if unknown:
            raise FlygnnError(f"unknown cell type(s) {unknown} in trace_types; known: {', '.join(dataset.type_names)}.")
        self.type_names_ = dataset.type_names
        self._neuron_type = dataset.neuron_type
        with fixed_threads():  # scored in metrics.json: the same bits on any machine
            self._one_step(model, dataset)
            self._rollout(model, dataset, network)
        return self

    # --- one step ---------------------------------------------------------------------

    def _one_step(self, model: torch.nn.Module, dataset) -> None:
        dtype = model_dtype(model)
        frames = dataset.frames("test")
        n = dataset.n_neurons
        # sums of (y − y_first): exact zeros for a constant target, so its variance is exactly 0
        first = dataset.read("test", "target", slice(0, 1))[0].astype(np.float64)
        sum_y = np.zeros(n)
        sum_y2 = np.zeros(n)
        sum_error2 = np.zeros(n)
        nonfinite = 0
        with torch.no_grad():
            for start in range(0, frames, self.batch_frames):
                window = slice(start, min(start + self.batch_frames, frames))
                v = torch.as_tensor(dataset.read("test", "voltage", window), dtype=dtype, device=self.device)
                current = torch.as_tensor(dataset.read("test", "stimulus", window), dtype=dtype, device=self.device)
                predicted = model(v, current).to("cpu", torch.float64).numpy()
                target = dataset.read("test", "target", window).astype(np.float64)
                nonfinite += int((~np.isfinite(predicted)).sum())
                shifted = target - first
                sum_y += shifted.sum(axis=0)
                sum_y2 += (shifted * shifted).sum(axis=0)
                sum_error2 += ((predicted - target) ** 2).sum(axis=0)
        mean_shifted = sum_y / frames
        total_per_neuron = np.maximum(sum_y2 - frames * mean_shifted**2, 0.0)
        std = np.sqrt(total_per_neuron / frames)
        varies = std > STILL_FRACTION * np.median(std)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.r2_per_neuron_ = np.where(varies, 1.0 - sum_error2 / total_per_neuron, np.nan)
        neuron_mean = first + mean_shifted
        total = total_per_neuron.sum() + frames * ((neuron_mean - neuron_mean.mean()) ** 2).sum()
        self.r2_pooled_ = float(1.0 - sum_error2.sum() / total) if total > 0 else float("nan")
        self.r2_per_type_ = _per_type_median(self.r2_per_neuron_, self._neuron_type, len(self.type_names_))
        self.normalised_loss_ = float(np.mean(1.0 - self.r2_per_neuron_[varies])) if varies.any() else float("nan")
        self.zero_variance_neurons_ = int((~varies).sum())
        self.nonfinite_predictions_ = nonfinite

    # --- rollout ----------------------------------------------------------------------

    def _rollout(self, model: torch.nn.Module, dataset, network) -> None:
        steps = self.rollout_steps
        dt = dataset.dt
        recorded = dataset.read("test", "voltage", slice(0, steps + 1)).astype(np.float64)
        currents = dataset.read("test", "stimulus", slice(0, steps))
        truth = OracleModel.from_ground_truth(
            network.source, network.target, dataset.ground_truth(), dt, dataset.attrs.get("tau_mode", "raw")
        )
        true = euler_rollout(truth, recorded[0], currents, dt)
        learned = euler_rollout(model, recorded[0], currents, dt, device=self.device)

        std = true.std(axis=0)
        floor = STD_FLOOR_FRACTION * float(np.median(std))
        scale = np.maximum(std, floor) if floor > 0 else np.where(std > 0, std, np.nan)

        scored = np.isfinite(scale)  # all neurons unless every true trace is constant

        def normalised(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.sqrt(np.mean(((a - b)[:, scored] / scale[scored]) ** 2, axis=1))

        self.time_ = np.arange(steps + 1) * dt
        self.rollout_error_ = normalised(learned, true)
        # the RMS is led by the few worst neurons; the median neuron says what is typical
        self.rollout_error_median_ = np.median(np.abs(learned - true)[:, scored] / scale[scored], axis=1)
        self.rollout_error_recorded_ = normalised(learned, recorded)
        self.noise_error_ = normalised(true, recorded)
        self.rollout_rmse_ = np.sqrt(np.mean((learned - true) ** 2, axis=1))
        squared = np.full_like(learned[1:], np.nan)
        squared[:, scored] = (((learned - true)[:, scored] / scale[scored]) ** 2)[1:]
        n_types = len(self.type_names_)
        per_type = np.full(n_types, np.nan)
        for k in range(n_types):
            members = self._neuron_type == k
            if members.any():
                per_type[k] = np.sqrt(np.mean(squared[:, members]))
        self.rollout_error_per_type_ = per_type
        nonfinite_steps = np.flatnonzero(~np.isfinite(learned).all(axis=1))
        self.diverged_at_ = int(nonfinite_steps[0]) if nonfinite_steps.size else None
        central = central_neurons(network.neuron_type, network.neuron_u, network.neuron_v, n_types)
        self.trace_neurons_ = central
        self.traces_learned_ = learned[:, central]
        self.traces_true_ = true[:, central]
        self.traces_recorded_ = recorded[:, central]

    # --- results ----------------------------------------------------------------------

    @property
    def metrics(self) -> dict[str, Metric]:
        """The held-out numbers, each with the name of its definition (see ``DEFINITIONS``)."""
        steps = self.rollout_steps
        rollout = {"steps": steps, "seconds": float(self.time_[-1])}
        return {
            HELDOUT_DVDT_R2: Metric(self.r2_pooled_, "heldout-r2-pooled"),
            HELDOUT_DVDT_R2_MEDIAN_TYPE: Metric(
                np.nanmedian(self.r2_per_type_) if np.isfinite(self.r2_per_type_).any() else None,
                "heldout-r2-median-type",
            ),
            HELDOUT_NORMALISED_LOSS: Metric(self.normalised_loss_, "normalised-mse"),
            HELDOUT_ZERO_VARIANCE_NEURONS: Metric(
                self.zero_variance_neurons_,
                "count",
                {
                    "description": "neurons whose test-split target does not vary (std < 1e-3 × the median neuron's): "
                    "no R², no normalised loss"
                },
            ),
            ROLLOUT_ERROR_MEAN: Metric(np.mean(self.rollout_error_[1:]), "rollout-normalised-error-mean", rollout),
            ROLLOUT_ERROR_MEDIAN: Metric(np.mean(self.rollout_error_median_[1:]), "rollout-median-error-mean", rollout),
            ROLLOUT_ERROR_FINAL: Metric(self.rollout_error_[-1], "rollout-normalised-error-final", rollout),
            ROLLOUT_NOISE_ERROR_MEAN: Metric(np.mean(self.noise_error_[1:]), "rollout-noise-error-mean", rollout),
            ROLLOUT_DIVERGED_STEP: Metric(
                self.diverged_at_ if self.diverged_at_ is not None else None,
                "count",
                {"description": "first rollout step with a non-finite learned voltage (null: none)"},
            ),
        }

    def per_type_table(self) -> dict[str, list]:
        """Columns of a per-type table: type, one-step R² (median over its neurons), rollout error."""
        return {
            "type": list(self.type_names_),
            HELDOUT_DVDT_R2: [float(x) for x in self.r2_per_type_],
            "rollout_error": [float(x) for x in self.rollout_error_per_type_],
        }


def _per_type_median(values: np.ndarray, neuron_type: np.ndarray, n_types: int) -> np.ndarray:
    out = np.full(n_types, np.nan)
    for k in range(n_types):
        finite = values[(neuron_type == k) & np.isfinite(values)]
        if finite.size:
            out[k] = np.median(finite)
    return out
