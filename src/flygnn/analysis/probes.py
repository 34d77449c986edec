"""Probe stimuli of the functional validation, after flyvis' MovingEdge and Flashes datasets.

flyvis characterises a network by its responses to moving ON and OFF edges in 12
directions (``flyvis/datasets/moving_bar.py``, ``MovingEdge``) and to ON and OFF flashes
(``flyvis/datasets/flashes.py``), read from the neuron of each cell type in the central
column. The movies here are drawn directly on our hexagonal lattice of columns (as the
procedural stimuli of :mod:`flygnn.stimulus`, whose geometry they share), not rendered
through flyvis' eye model; sizes and speeds are flyvis' defaults in lattice units:

- an edge's front moves along the direction θ (degrees, counter-clockwise from +x of
  :func:`flygnn.stimulus.lattice_positions`, neighbouring columns 1 apart) at a speed in
  columns/s, from 10 LED widths before the central column to 11 after it (flyvis' offsets
  ``range(-10, 11)``, one LED = 2.25°, one column = 5.8°); behind the front the luminance
  is the edge's (1: ON, 0: OFF), ahead of it grey 0.5. The front is antialiased over a
  band one column wide, as in :mod:`flygnn.stimulus`.
- a flash sets the columns within ``radius`` (hexagonal distance; −1: all of them) from grey
  to 1 (ON) or 0 (OFF) for its duration.
"""

from __future__ import annotations

import numpy as np

from flygnn.errors import FlygnnError
from flygnn.stimulus import lattice_positions

GREY = 0.5
ANGLES = tuple(range(0, 360, 30))  # flyvis MovingEdge: 12 directions, degrees
SPEEDS = (2.4, 4.8, 9.7, 13.0, 19.0, 25.0)  # flyvis MovingEdge: columns/s
INTENSITIES = (0, 1)  # flyvis order: OFF, then ON
LED_DEGREES = 2.25  # one LED of flyvis' virtual monitor (Gruntman et al. 2018)
COLUMN_DEGREES = 5.8  # one ommatidium (column)
EDGE_START = -10 * LED_DEGREES / COLUMN_DEGREES  # columns from the centre where the edge starts
EDGE_END = 11 * LED_DEGREES / COLUMN_DEGREES  # and where it stops (flyvis' offsets range(-10, 11))
FLASH_RADIUS = 6  # columns: flyvis reports its flash response index for radius 6
FLASH_SECONDS = 1.0  # flyvis Flashes: t_stim


def central_neurons(neuron_type: np.ndarray, neuron_u: np.ndarray, neuron_v: np.ndarray, n_types: int) -> np.ndarray:
    """(n_types,) the neuron of each type in the central column (u, v) = (0, 0), as flyvis
    reads its responses; FlygnnError when a type has none there."""
    neuron_type = np.asarray(neuron_type)
    central = np.flatnonzero((np.asarray(neuron_u) == 0) & (np.asarray(neuron_v) == 0))
    found = np.full(n_types, -1, dtype=np.int64)
    found[neuron_type[central]] = central
    missing = np.flatnonzero(found < 0)
    if missing.size:
        raise FlygnnError(f"cell type(s) {missing.tolist()} have no neuron in the central column (0, 0).")
    return found


def input_current(
    luminance: np.ndarray, input_indices: np.ndarray, input_column: np.ndarray, n_neurons: int
) -> np.ndarray:
    """(..., N) float32 input current: each photoreceptor gets its column's luminance, every other neuron 0.

    luminance: (..., n_columns); input_indices: (n_inputs,) the photoreceptors R1–R8;
    input_column: (n_inputs,) each one's column (the network's ``input_indices``, ``input_column``).
    """
    luminance = np.asarray(luminance, dtype=np.float32)
    current = np.zeros((*luminance.shape[:-1], n_neurons), dtype=np.float32)
    current[..., input_indices] = luminance[..., input_column]
    return current


def edge_frames(speed: float, dt: float) -> int:
    """Frames an edge at ``speed`` columns/s takes from :data:`EDGE_START` to :data:`EDGE_END`
    (flyvis' t_stim = travel / speed), at least 1."""
    if not speed > 0 or not dt > 0:
        raise FlygnnError(f"edge speed and dt must be positive, got {speed!r} columns/s and {dt!r} s.")
    return max(1, int(round((EDGE_END - EDGE_START) / speed / dt)))


def moving_edge(
    columns_u: np.ndarray,
    columns_v: np.ndarray,
    angle: float,
    speed: float,
    intensity: float,
    dt: float,
) -> np.ndarray:
    """(frames, n_columns) float32 luminance of one edge sweeping over the lattice.

    angle: direction of motion in degrees (see the module); speed: columns/s; intensity:
    the luminance behind the front (1: ON edge, 0: OFF edge); dt: seconds per frame. Frame k
    shows the front at EDGE_START + speed·k·dt; the number of frames is :func:`edge_frames`.
    """
    positions = lattice_positions(columns_u, columns_v)
    radians = np.radians(angle)
    projection = positions @ np.array([np.cos(radians), np.sin(radians)])
    front = EDGE_START + speed * dt * np.arange(edge_frames(speed, dt))
    covered = np.clip(front[:, None] - projection[None, :] + 0.5, 0.0, 1.0)
    return (GREY + covered * (intensity - GREY)).astype(np.float32)


def flash(columns_u: np.ndarray, columns_v: np.ndarray, intensity: float, radius: int = FLASH_RADIUS) -> np.ndarray:
    """(n_columns,) float32 luminance of a flash: ``intensity`` within hexagonal distance
    ``radius`` of the central column (−1: every column), grey elsewhere."""
    u = np.asarray(columns_u)
    v = np.asarray(columns_v)
    if radius < 0:
        inside = np.ones(u.shape, dtype=bool)
    else:
        inside = (np.abs(u) + np.abs(v) + np.abs(u + v)) // 2 <= radius
    return np.where(inside, intensity, GREY).astype(np.float32)
