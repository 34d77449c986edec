"""Training frames: a dataset split in memory, served to the trainer in batches."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from flygnn.errors import FlygnnError


def frames_bytes(n_frames: int, n_neurons: int, n_inputs: int) -> int:
    """Bytes the training frames take in memory: voltage and target (T, N) and the stimulus of
    the ``n_inputs`` stimulated neurons (T, K), float32 (7.4 GB for the paper preset's 64,000 frames)."""
    return 4 * n_frames * (2 * n_neurons + n_inputs)


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
            raise FlygnnError(
                f"training target has shape {self.target.shape}, voltage {self.voltage.shape}; they must match."
            )
        if self.stimulus.shape != (T, len(self.stimulus_neurons)):
            raise FlygnnError(
                f"stimulus has shape {self.stimulus.shape}, expected ({T}, {len(self.stimulus_neurons)})."
            )

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
    def from_dataset(
        cls, dataset: Any, input_neurons: np.ndarray, split: str = "train", chunk: int = 2000
    ) -> TrainingFrames:
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
        """Per-neuron mean and unbiased std of v (N,), and xnorm = 1.5 × (population) std of all voltages."""
        total = np.zeros(self.n_neurons)
        squares = np.zeros(self.n_neurons)
        for start in range(0, self.n_frames, 1024):
            block = self.voltage[start : start + 1024].astype(np.float64)
            total += block.sum(axis=0)
            squares += np.square(block).sum(axis=0)
        mean = total / self.n_frames
        # unbiased (n − 1), as upstream's torch.std: the natural ranges of the slope fits
        # are μ ± 2s of exactly upstream's s
        std = np.sqrt(np.maximum(squares - self.n_frames * mean**2, 0.0) / max(self.n_frames - 1, 1))
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


class DeviceFrames:
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
