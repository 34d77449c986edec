"""The ``natural`` stimulus: saccadic movies of the bundled images seen through the BoxEye.

Each sequence picks an image of its split, one of 8 hexagonal variants, a zoom, and
moves the gaze with a slow AR(1) drift plus saccades (docs/design.md, section 5).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from flygnn.errors import FlygnnError
from flygnn.stimulus.eye import _box_means, _PaddedImage, _summed_area_table, box_eye_offsets, hex_variant
from flygnn.stimulus.images import natural_images
from flygnn.stimulus.spec import StimulusSpec, _sequence_rng


def _required_pad(offsets: np.ndarray, spec: StimulusSpec) -> int:
    return int(np.ceil((np.abs(offsets).max(initial=0.0) + spec.box / 2) / spec.zoom[0])) + 2


@dataclass(frozen=True)
class SaccadeSequence:
    """Parameters of one natural-image sequence (for inspection and tests)."""

    image: str
    variant: int
    zoom: float
    gaze: np.ndarray  # (frames, 2) float64 (row, column) in image pixels
    saccade_frames: np.ndarray  # (n,) int frames at which a saccade lands


def _reflect(x: np.ndarray, size: int) -> np.ndarray:
    """Fold coordinates into [0, size) by mirroring at the borders."""
    period = 2.0 * size
    x = np.mod(x, period)
    return np.where(x >= size, period - x, x)


def plan_saccade_sequence(
    spec: StimulusSpec, split: str, index: int, image_shapes: dict[str, tuple[int, int]]
) -> SaccadeSequence:
    """Draw image, variant, zoom and gaze path of natural sequence ``index`` of ``split``.

    ``image_shapes``: (height, width) of each image of the split, in the order of
    ``spec.images_for(split)`` (the image is drawn by position in that order).
    """
    rng = _sequence_rng(spec, split, index)
    names = list(image_shapes)
    image = names[int(rng.integers(len(names)))]
    variant = int(spec.variants[int(rng.integers(len(spec.variants)))])
    zoom = float(rng.uniform(*spec.zoom))
    height, width = image_shapes[image]
    T = spec.sequence_frames

    # AR(1) velocity per axis, started in its stationary distribution
    rho = spec.drift_correlation
    noise = rng.standard_normal((T, 2))
    noise[1:] *= np.sqrt(1 - rho**2)
    velocity = spec.drift_speed * lfilter([1.0], [1.0, -rho], noise, axis=0)

    # saccades: jumps at intervals drawn uniformly from saccade_interval
    low, high = spec.saccade_interval
    intervals = rng.integers(low, high + 1, size=T // low + 1)
    saccade_frames = np.cumsum(intervals)
    saccade_frames = saccade_frames[saccade_frames < T]
    amplitude = rng.uniform(*spec.saccade_amplitude, size=saccade_frames.size)
    angle = rng.uniform(0, 2 * np.pi, size=saccade_frames.size)
    step = velocity.copy()
    step[saccade_frames] += amplitude[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1)

    start = rng.uniform((0, 0), (height, width))
    path = start + np.cumsum(step, axis=0) - step[0]
    gaze = np.stack([_reflect(path[:, 0], height), _reflect(path[:, 1], width)], axis=1)
    return SaccadeSequence(image, variant, zoom, gaze, saccade_frames)


def _natural_sequences(
    spec: StimulusSpec, split: str, columns_u: np.ndarray, columns_v: np.ndarray
) -> Iterator[np.ndarray]:
    names = spec.images_for(split)
    all_images = natural_images()
    missing = [name for name in names if name not in all_images]
    if missing:
        raise FlygnnError(f"natural image(s) {missing} could not be read; reinstall the package that bundles them.")
    shapes = {name: all_images[name].shape[:2] for name in names}
    base_offsets = {k: box_eye_offsets(*hex_variant(columns_u, columns_v, k), spec.spacing) for k in spec.variants}
    pad = _required_pad(np.concatenate(list(base_offsets.values())), spec)
    tables: dict[str, _PaddedImage] = {}  # per call, freed with the generator
    index = 0
    while True:
        plan = plan_saccade_sequence(spec, split, index, shapes)
        if plan.image not in tables:
            tables[plan.image] = _summed_area_table(all_images[plan.image], pad)
        offsets = base_offsets[plan.variant] / plan.zoom
        rows = plan.gaze[:, 0:1] + offsets[None, :, 0]
        cols = plan.gaze[:, 1:2] + offsets[None, :, 1]
        yield _box_means(tables[plan.image], rows, cols, spec.box / (2 * plan.zoom))
        index += 1
