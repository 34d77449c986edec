"""One stimulus movie from a ``StimulusSpec``: its sequences one after another, in chunks of frames."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from flygnn.errors import FlygnnError
from flygnn.stimulus.natural import _natural_sequences
from flygnn.stimulus.procedural import _edge_sequences, _flash_sequences, _grating_sequences, _mixed_sequences
from flygnn.stimulus.spec import StimulusSpec, _check_split


def stimulus_frames(
    spec: StimulusSpec,
    columns_u: np.ndarray,
    columns_v: np.ndarray,
    split: str,
    n_frames: int,
    chunk: int = 1000,
) -> Iterator[np.ndarray]:
    """Yield chunks (n, n_columns) float32 luminance in [0, 1], ``n_frames`` in total.

    Columns are the hexagonal columns with axial coordinates (u, v) (flyvis convention;
    217 at extent 8). Deterministic for (spec, split, n_frames) and independent of
    ``chunk``. ``split`` is "train" or "test"; natural-image train and test sequences
    come from disjoint source images. Sequences of ``spec.sequence_frames`` frames
    follow each other; the last one is cut at ``n_frames``.
    """
    if not isinstance(spec, StimulusSpec):
        raise FlygnnError(f"spec must be a StimulusSpec, got {type(spec).__name__}; use StimulusSpec.from_dict(...).")
    _check_split(split)
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise FlygnnError(f"n_frames must be a positive integer, got {n_frames!r}.")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise FlygnnError(f"chunk must be a positive integer, got {chunk!r}.")
    columns_u = np.asarray(columns_u)
    columns_v = np.asarray(columns_v)
    if columns_u.ndim != 1 or columns_u.shape != columns_v.shape or columns_u.size == 0:
        raise FlygnnError(
            f"columns_u and columns_v must be 1-D arrays of equal, non-zero length; got {columns_u.shape} and {columns_v.shape}."
        )

    if spec.kind == "natural":
        sequences = _natural_sequences(spec.resolved(), split, columns_u, columns_v)
    elif spec.kind == "flashes":
        sequences = _flash_sequences(spec, split, columns_u.size)
    elif spec.kind == "gratings":
        sequences = _grating_sequences(spec, split, columns_u, columns_v)
    elif spec.kind == "edges":
        sequences = _edge_sequences(spec, split, columns_u, columns_v)
    else:
        sequences = _mixed_sequences(spec, split, columns_u, columns_v)

    buffer: list[np.ndarray] = []
    buffered = 0
    remaining = n_frames
    for sequence in sequences:
        sequence = np.clip(sequence[:remaining], 0.0, 1.0).astype(np.float32)
        buffer.append(sequence)
        buffered += sequence.shape[0]
        remaining -= sequence.shape[0]
        while buffered >= chunk or (remaining == 0 and buffered > 0):
            frames = np.concatenate(buffer) if len(buffer) > 1 else buffer[0]
            out, rest = frames[:chunk], frames[chunk:]
            yield out
            buffer = [rest] if rest.shape[0] else []
            buffered = rest.shape[0]
        if remaining == 0:
            return


def stimulus_movie(
    spec: StimulusSpec, columns_u: np.ndarray, columns_v: np.ndarray, split: str, n_frames: int
) -> np.ndarray:
    """All ``n_frames`` of ``stimulus_frames`` as one (n_frames, n_columns) float32 array."""
    return np.concatenate(list(stimulus_frames(spec, columns_u, columns_v, split, n_frames, chunk=max(1, n_frames))))
