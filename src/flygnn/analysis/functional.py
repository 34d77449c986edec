"""Functional validation: does the learned network *do* what the true one does?

Both networks — the learned model and the true noise-free dynamics (an
:class:`~flygnn.analysis.oracle.OracleModel` of the ground truth: the simulator's equations)
— see the same probe stimuli of :mod:`flygnn.analysis.probes`, after flyvis' own: ON and OFF
edges moving in 12 directions at flyvis' six speeds, and ON and OFF flashes. Each starts
from V_rest and first settles on a grey screen; its responses are read, as flyvis does, from
the neuron of each cell type in the central column. The indices are flyvis' definitions
(:mod:`flygnn.analysis.selectivity`): the direction selectivity index per edge polarity,
the preferred direction, and the flash response index.

Agreement is scored across cell types: Pearson r of DSI (per polarity) and FRI, the share
of types whose FRI sign (ON vs OFF preference) agrees, and for the direction-selective T4
(ON edges) and T5 (OFF edges) subtypes the angle between learned and true preferred
directions — the polarity flyvis scores each with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from flygnn.analysis.metrics import Metric
from flygnn.analysis.oracle import OracleModel
from flygnn.analysis.probes import (
    ANGLES,
    FLASH_RADIUS,
    FLASH_SECONDS,
    GREY,
    INTENSITIES,
    SPEEDS,
    central_neurons,
    flash,
    input_current,
    moving_edge,
)
from flygnn.analysis.rollout import euler_rollout
from flygnn.analysis.selectivity import (
    angular_difference,
    direction_selectivity_index,
    flash_response_index,
    peak_responses,
    preferred_direction,
)
from flygnn.analysis.threads import fixed_threads
from flygnn.errors import FlygnnError
from flygnn.metric_names import (
    FUNCTIONAL_DSI_OFF_R,
    FUNCTIONAL_DSI_ON_R,
    FUNCTIONAL_FRI_R,
    FUNCTIONAL_FRI_SIGN_AGREEMENT,
    FUNCTIONAL_T4_DIRECTION_ERROR,
    FUNCTIONAL_T5_DIRECTION_ERROR,
)

OFF, ON = INTENSITIES.index(0), INTENSITIES.index(1)
# flyvis scores T4 on ON edges and T5 on OFF edges (angular_distance_to_known)
DIRECTION_SUBTYPES = {f"T4{s}": ON for s in "abcd"} | {f"T5{s}": OFF for s in "abcd"}


class FunctionalValidation:
    """Direction selectivity and ON/OFF preference of the learned against the true network.

    Args:
        angles: edge directions, degrees (flyvis: 0, 30, …, 330).
        speeds: edge speeds, columns/s (flyvis: 2.4, 4.8, 9.7, 13, 19, 25). The cost grows with
            Σ 1/speed: the slowest edges take the most frames.
        flash_radius: columns around the centre that flash (flyvis reports radius 6; −1: all).
        flash_seconds: flash duration (flyvis: 1 s).
        settle_steps: Euler steps on grey before any stimulus, from V_rest.
        device: where the learned model runs.

    Attributes after :meth:`fit` (n_types types, I = 2 polarities OFF/ON, A angles, S speeds):
        type_names_: the cell types, in the order of every per-type array.
        peaks_true_, peaks_learned_: (I, A, S, n_types) peak rectified edge responses.
        dsi_true_, dsi_learned_: (I, n_types) direction selectivity index per polarity.
        preferred_direction_true_, preferred_direction_learned_: (I, n_types) radians.
        flash_true_, flash_learned_: (frames, I, n_types) central responses, from the grey state
            before the flash to its end.
        fri_true_, fri_learned_: (n_types,) flash response index (> 0: prefers ON).
        direction_error_: {subtype: degrees} |learned − true| preferred direction of T4a–d
            (ON edges) and T5a–d (OFF edges).
        diverged_: whether any learned response was non-finite.
    """

    def __init__(
        self,
        angles: Sequence[float] = ANGLES,
        speeds: Sequence[float] = SPEEDS,
        flash_radius: int = FLASH_RADIUS,
        flash_seconds: float = FLASH_SECONDS,
        settle_steps: int = 200,
        device: str = "cpu",
    ) -> None:
        self.angles = tuple(angles)
        self.speeds = tuple(speeds)
        self.flash_radius = flash_radius
        self.flash_seconds = flash_seconds
        self.settle_steps = settle_steps
        self.device = device

    def fit(
        self, model: torch.nn.Module, network, ground_truth, dt: float, tau_mode: str = "raw"
    ) -> FunctionalValidation:
        """model: forward(v, I) → dv/dt (a FlyVisGNN or an OracleModel); network: the
        :class:`flygnn.connectome.Network`; ground_truth: its :class:`flygnn.groundtruth.GroundTruth`;
        dt (s) and tau_mode: the simulation's (a dataset's ``dt`` and ``attrs["tau_mode"]``)."""
        if not self.angles or not self.speeds:
            raise FlygnnError("the functional validation needs at least one edge angle and one speed.")
        if not dt > 0:
            raise FlygnnError(f"dt must be a positive number of seconds, got {dt!r}.")
        with fixed_threads():  # scored in metrics.json: the same bits on any machine
            return self._fit(model, network, ground_truth, dt, tau_mode)

    def _fit(self, model: torch.nn.Module, network, ground_truth, dt: float, tau_mode: str) -> FunctionalValidation:
        self.type_names_ = tuple(network.type_names)
        self._record = central_neurons(network.neuron_type, network.neuron_u, network.neuron_v, network.n_types)
        truth = OracleModel.from_ground_truth(network.source, network.target, ground_truth, dt, tau_mode)
        start = np.asarray(ground_truth.v_rest, dtype=np.float64)
        self.peaks_true_, self.flash_true_ = self._responses(truth, network, start, dt, "cpu")
        self.peaks_learned_, self.flash_learned_ = self._responses(model, network, start, dt, self.device)
        self.diverged_ = bool(not (np.isfinite(self.peaks_learned_).all() and np.isfinite(self.flash_learned_).all()))

        with np.errstate(invalid="ignore", over="ignore"):  # a diverged run gives NaN indices, said by diverged_
            self._indices()
        return self

    def _indices(self) -> None:
        angles = np.asarray(self.angles, dtype=np.float64)
        self.dsi_true_ = direction_selectivity_index(self.peaks_true_, angles)
        self.dsi_learned_ = direction_selectivity_index(self.peaks_learned_, angles)
        self.preferred_direction_true_ = preferred_direction(self.peaks_true_, angles)
        self.preferred_direction_learned_ = preferred_direction(self.peaks_learned_, angles)
        self.fri_true_ = flash_response_index(self.flash_true_[:, OFF], self.flash_true_[:, ON])
        self.fri_learned_ = flash_response_index(self.flash_learned_[:, OFF], self.flash_learned_[:, ON])
        self.direction_error_ = {
            name: float(
                np.degrees(
                    angular_difference(
                        self.preferred_direction_learned_[polarity, self.type_names_.index(name)],
                        self.preferred_direction_true_[polarity, self.type_names_.index(name)],
                    )
                )
            )
            for name, polarity in DIRECTION_SUBTYPES.items()
            if name in self.type_names_
        }

    def _responses(
        self, model: torch.nn.Module, network, start: np.ndarray, dt: float, device: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """(peaks (I, A, S, n_types), flash responses (frames, I, n_types)) of one network."""

        def current(luminance: np.ndarray) -> np.ndarray:
            return input_current(luminance, network.input_indices, network.input_column, network.n_neurons)

        grey = current(np.full(network.n_columns, GREY))
        settled = euler_rollout(model, start, (grey for _ in range(self.settle_steps)), dt, device=device)[-1]

        u, v = network.columns_u, network.columns_v
        pairs = [(i, a) for i in INTENSITIES for a in self.angles]
        peaks = np.empty((len(INTENSITIES), len(self.angles), len(self.speeds), network.n_types))
        for s, speed in enumerate(self.speeds):
            # every polarity and angle of one speed run side by side: (frames, I·A, n_columns)
            movies = np.stack([moving_edge(u, v, a, speed, i, dt) for i, a in pairs], axis=1)
            start_states = np.repeat(settled[None], len(pairs), axis=0)
            states = euler_rollout(
                model, start_states, (current(frame) for frame in movies), dt, record=self._record, device=device
            )
            peaks[:, :, s] = peak_responses(states).reshape(len(INTENSITIES), len(self.angles), -1)

        flash_frames = max(1, int(round(self.flash_seconds / dt)))
        flashes = current(np.stack([flash(u, v, i, self.flash_radius) for i in INTENSITIES]))
        start_states = np.repeat(settled[None], len(INTENSITIES), axis=0)
        flash_states = euler_rollout(
            model, start_states, (flashes for _ in range(flash_frames)), dt, record=self._record, device=device
        )
        return peaks, flash_states

    # --- results ----------------------------------------------------------------------

    @property
    def metrics(self) -> dict[str, Metric]:
        """Agreement of the learned with the true network, each with the name of its definition."""
        t4 = [self.direction_error_[n] for n in self.direction_error_ if n.startswith("T4")]
        t5 = [self.direction_error_[n] for n in self.direction_error_ if n.startswith("T5")]
        sign_true, sign_learned = np.sign(self.fri_true_), np.sign(self.fri_learned_)
        finite = np.isfinite(self.fri_learned_)
        return {
            FUNCTIONAL_DSI_ON_R: Metric(_pearson(self.dsi_true_[ON], self.dsi_learned_[ON]), "pearson-r-dsi"),
            FUNCTIONAL_DSI_OFF_R: Metric(_pearson(self.dsi_true_[OFF], self.dsi_learned_[OFF]), "pearson-r-dsi"),
            FUNCTIONAL_FRI_R: Metric(_pearson(self.fri_true_, self.fri_learned_), "pearson-r-fri"),
            FUNCTIONAL_FRI_SIGN_AGREEMENT: Metric(
                np.mean(sign_true[finite] == sign_learned[finite]) if finite.any() else None,
                "fri-sign-agreement",
                {"types": int(finite.sum())},
            ),
            FUNCTIONAL_T4_DIRECTION_ERROR: Metric(
                float(np.mean(t4)) if t4 else None,
                "preferred-direction-error",
                {"edges": "ON", "per_subtype": {n: e for n, e in self.direction_error_.items() if n.startswith("T4")}},
            ),
            FUNCTIONAL_T5_DIRECTION_ERROR: Metric(
                float(np.mean(t5)) if t5 else None,
                "preferred-direction-error",
                {"edges": "OFF", "per_subtype": {n: e for n, e in self.direction_error_.items() if n.startswith("T5")}},
            ),
        }

    def per_type_table(self) -> dict[str, list]:
        """Columns of the per-type table (one row per cell type; directions in degrees)."""

        def column(values: np.ndarray) -> list[float]:
            return [float(x) for x in values]

        return {
            "type": list(self.type_names_),
            "DSI_ON_true": column(self.dsi_true_[ON]),
            "DSI_ON_learned": column(self.dsi_learned_[ON]),
            "DSI_OFF_true": column(self.dsi_true_[OFF]),
            "DSI_OFF_learned": column(self.dsi_learned_[OFF]),
            "preferred_direction_ON_true": column(np.degrees(self.preferred_direction_true_[ON])),
            "preferred_direction_ON_learned": column(np.degrees(self.preferred_direction_learned_[ON])),
            "preferred_direction_OFF_true": column(np.degrees(self.preferred_direction_true_[OFF])),
            "preferred_direction_OFF_learned": column(np.degrees(self.preferred_direction_learned_[OFF])),
            "FRI_true": column(self.fri_true_),
            "FRI_learned": column(self.fri_learned_),
        }


def _pearson(true: np.ndarray, learned: np.ndarray) -> float:
    """Pearson r over the finite pairs; NaN when either side is constant (r undefined)."""
    finite = np.isfinite(true) & np.isfinite(learned)
    if finite.sum() < 2:
        return float("nan")
    x, y = true[finite] - true[finite].mean(), learned[finite] - learned[finite].mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denominator) if denominator > 0 else float("nan")
