"""flyvis' direction selectivity and flash response indices, on numpy arrays.

The definitions are flyvis' own (``flyvis/analysis/moving_bar_responses.py`` and
``flyvis/analysis/flash_responses.py``), written for plain arrays instead of its xarray
datasets and checked against flyvis' functions in the tests:

- peak response: the largest *rectified* voltage max(0, v) while the edge moves (flyvis'
  window runs from the edge's first to its last position, i.e. the whole sweep);
- direction selectivity index, per intensity (OFF, ON), width and speed:
  DSI = |Σ_θ r(θ) e^{iθ}| / max over intensities of Σ_θ |r(θ)|, then the mean over widths
  and speeds (the normalisation by the larger of the two intensities makes a cell that
  only answers ON edges have DSI_OFF ≈ 0);
- preferred direction: the angle of Σ over angles, widths and speeds of r e^{iθ};
- flash response index: the responses from one frame before the flash to its end, shifted
  by |min| over that window and both polarities (flyvis adds |min| — with a negative
  minimum this makes them non-negative), FRI = (peak_ON − peak_OFF) / (peak_ON + peak_OFF).

Responses are raw voltages, as flyvis computes the indices (no baseline subtracted).
"""

from __future__ import annotations

import numpy as np

EPSILON_DSI = 1e-15  # flyvis' guard against 0/0: a cell that never responds has DSI 0
EPSILON_FRI = 1e-16


def peak_responses(responses: np.ndarray, axis: int = 0) -> np.ndarray:
    """max(0, response) at its largest over the frames ``axis`` (a diverged, non-finite run stays NaN).

    responses: (frames, ...) voltages within the window (a.u.).
    """
    return np.clip(np.asarray(responses, dtype=np.float64), 0.0, None).max(axis=axis)


def direction_selectivity_index(peaks: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """flyvis' DSI per intensity: peaks (intensities, angles, widths·speeds, ...) ≥ 0 → (intensities, ...).

    angles: (angles,) degrees. The third axis holds every width and speed (averaged over).
    """
    peaks = np.asarray(peaks, dtype=np.float64)
    phase = np.exp(1j * np.radians(np.asarray(angles, dtype=np.float64)))
    phase = phase.reshape((1, -1) + (1,) * (peaks.ndim - 2))
    vector_length = np.abs((peaks * phase).sum(axis=1))
    normalisation = np.abs(peaks).sum(axis=1).max(axis=0, keepdims=True)
    return (vector_length / (normalisation + EPSILON_DSI)).mean(axis=1)


def preferred_direction(peaks: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """flyvis' preferred direction in radians (−π, π] per intensity: peaks as
    :func:`direction_selectivity_index` → (intensities, ...)."""
    peaks = np.asarray(peaks, dtype=np.float64)
    phase = np.exp(1j * np.radians(np.asarray(angles, dtype=np.float64)))
    phase = phase.reshape((1, -1) + (1,) * (peaks.ndim - 2))
    return np.angle((peaks * phase).sum(axis=(1, 2)))


def flash_response_index(off_responses: np.ndarray, on_responses: np.ndarray) -> np.ndarray:
    """flyvis' FRI: (frames, ...) responses to the OFF and the ON flash over flyvis' window
    (one frame before the flash to its end) → (...) in [−1, 1] (positive: prefers ON)."""
    off = np.asarray(off_responses, dtype=np.float64)
    on = np.asarray(on_responses, dtype=np.float64)
    shift = np.abs(np.minimum(off.min(axis=0), on.min(axis=0)))
    on_peak = (on + shift).max(axis=0)
    off_peak = (off + shift).max(axis=0)
    return (on_peak - off_peak) / (on_peak + off_peak + EPSILON_FRI)


def angular_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a − b| wrapped to [0, π] (radians): the error of a direction."""
    difference = np.mod(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), 2 * np.pi)
    return np.minimum(difference, 2 * np.pi - difference)
