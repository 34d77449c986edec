"""The procedural stimuli drawn on the lattice: ``flashes``, ``gratings``, ``edges`` and ``mixed``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from flygnn.stimulus.eye import lattice_positions
from flygnn.stimulus.spec import MIXED_KINDS, StimulusSpec, _sequence_rng

GREY = 0.5


def _flash_sequences(spec: StimulusSpec, split: str, n_columns: int) -> Iterator[np.ndarray]:
    index = 0
    while True:
        rng = _sequence_rng(spec, split, index)
        values = np.empty(spec.sequence_frames)
        t = 0
        polarity = int(rng.integers(2))  # first flash ON or OFF, then alternating
        while t < spec.sequence_frames:
            pause = int(rng.integers(spec.pause_frames[0], spec.pause_frames[1] + 1))
            flash = int(rng.integers(spec.flash_frames[0], spec.flash_frames[1] + 1))
            values[t : t + pause] = GREY
            level = GREY + (0.5 if polarity else -0.5) * spec.contrast
            values[t + pause : t + pause + flash] = level
            t += pause + flash
            polarity = 1 - polarity
        yield np.repeat(values[:, None], n_columns, axis=1)
        index += 1


def _direction(rng: np.random.Generator) -> np.ndarray:
    angle = np.radians(30.0 * int(rng.integers(12)))  # 12 directions, 30° apart
    return np.array([np.cos(angle), np.sin(angle)])


def _grating_sequences(
    spec: StimulusSpec, split: str, columns_u: np.ndarray, columns_v: np.ndarray
) -> Iterator[np.ndarray]:
    positions = lattice_positions(columns_u, columns_v)
    t = np.arange(spec.sequence_frames)[:, None]
    index = 0
    while True:
        rng = _sequence_rng(spec, split, index)
        projection = positions @ _direction(rng)
        period = rng.uniform(*spec.period)
        speed = rng.uniform(*spec.speed)
        phase = rng.uniform(0, 2 * np.pi)
        yield GREY + GREY * spec.contrast * np.sin(2 * np.pi * (projection[None, :] - speed * t) / period + phase)
        index += 1


def _edge_sequences(
    spec: StimulusSpec, split: str, columns_u: np.ndarray, columns_v: np.ndarray
) -> Iterator[np.ndarray]:
    positions = lattice_positions(columns_u, columns_v)
    t = np.arange(spec.sequence_frames)[:, None]
    index = 0
    while True:
        rng = _sequence_rng(spec, split, index)
        projection = positions @ _direction(rng)
        speed = rng.uniform(*spec.speed)
        level = GREY + (0.5 if rng.integers(2) else -0.5) * spec.contrast
        start = projection.min(initial=0.0) - 1.0  # edge enters just outside the lattice
        front = start + speed * t
        # antialiased: a column is covered by the fraction of a unit-wide band the edge has passed
        covered = np.clip(front - projection[None, :] + 0.5, 0.0, 1.0)
        yield GREY + covered * (level - GREY)
        index += 1


def _mixed_sequences(
    spec: StimulusSpec, split: str, columns_u: np.ndarray, columns_v: np.ndarray
) -> Iterator[np.ndarray]:
    sources = {
        "flashes": _flash_sequences(dataclasses.replace(spec, kind="flashes"), split, columns_u.size),
        "gratings": _grating_sequences(dataclasses.replace(spec, kind="gratings"), split, columns_u, columns_v),
        "edges": _edge_sequences(dataclasses.replace(spec, kind="edges"), split, columns_u, columns_v),
    }
    index = 0
    while True:
        kind = MIXED_KINDS[int(_sequence_rng(spec, split, index).integers(len(MIXED_KINDS)))]
        yield next(sources[kind])
        index += 1
