"""Euler simulation of the voltage dynamics on the connectome (docs/design.md, section 5).

Per step (dt = 0.02 s), with τ_eff = τ (upstream, default) or max(τ, dt) (flyvis):

    y_i = (−v_i + V_rest,i + Σ_{e: j→i} W_e ReLU(v_j) + I_i) / τ_eff,i
    v  ← v + dt·y + σ·ξ,   ξ ~ N(0, 1) per neuron per step.

The recorded target is the *clean* y at the recorded state; the noise is a
per-step kick, not scaled by dt. The synaptic sum is a scipy sparse matrix–vector
product (row = target), ~0.5 ms at full size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import scipy.sparse
from pydantic import Field, RootModel

from flygnn.connectome import MAX_EXTENT, Network
from flygnn.errors import FlygnnError
from flygnn.groundtruth import GroundTruth
from flygnn.schema import Integer, Strict, read_yaml, validated

DT = 0.02
GREY = 0.5
WARMUP_STEPS = 100
TAU_MODES = ("raw", "clamped")


@dataclass(frozen=True)
class Chunk:
    """Consecutive recorded frames, each (n, N) f4: state, input and clean derivative."""

    voltage: np.ndarray
    stimulus: np.ndarray
    target: np.ndarray


class Simulator:
    """The ground-truth dynamics of one network.

    Args:
        network: the compiled network.
        ground_truth: τ, V_rest, W for it.
        sigma: intrinsic noise, std of the per-step kick (≥ 0).
        dt: Euler step, seconds.
        tau_mode: "raw" divides by τ (upstream); "clamped" by max(τ, dt) (flyvis).
    """

    def __init__(
        self, network: Network, ground_truth: GroundTruth, sigma: float, dt: float = DT, tau_mode: str = "raw"
    ) -> None:
        if not (isinstance(sigma, (int, float)) and sigma >= 0 and np.isfinite(sigma)):
            raise FlygnnError(f"sigma must be a finite number >= 0, got {sigma!r}.")
        if not dt > 0:
            raise FlygnnError(f"dt must be > 0, got {dt!r}.")
        if tau_mode not in TAU_MODES:
            raise FlygnnError(f"tau mode must be one of {TAU_MODES}, got {tau_mode!r}.")
        if ground_truth.W.shape != (network.n_edges,) or ground_truth.tau.shape != (network.n_neurons,):
            raise FlygnnError(
                f"ground truth does not fit the network: W {ground_truth.W.shape} vs ({network.n_edges},) edges, "
                f"tau {ground_truth.tau.shape} vs ({network.n_neurons},) neurons."
            )
        self.network = network
        self.sigma = float(sigma)
        self.dt = float(dt)
        self.tau_mode = tau_mode
        n = network.n_neurons
        self.weights = scipy.sparse.csr_matrix(
            (ground_truth.W.astype(np.float32), (network.target, network.source)), shape=(n, n)
        )
        tau = ground_truth.tau.astype(np.float32)
        if tau_mode == "clamped":
            tau = np.maximum(tau, np.float32(dt))
        self.inverse_tau = (1.0 / tau).astype(np.float32)
        self.v_rest = ground_truth.v_rest.astype(np.float32)
        self.input_indices = network.input_indices
        self.input_column = network.input_column

    def derivative(self, v: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Clean dv/dt, (N,) f4."""
        synaptic = self.weights @ np.maximum(v, 0.0)
        return (self.v_rest - v + synaptic + current) * self.inverse_tau

    def current(self, luminance: np.ndarray) -> np.ndarray:
        """Input current (N,): each photoreceptor R1–R8 gets its column's luminance."""
        current = np.zeros(self.network.n_neurons, dtype=np.float32)
        current[self.input_indices] = luminance[self.input_column]
        return current

    def steady_state(self, steps: int = WARMUP_STEPS) -> np.ndarray:
        """The noise-free state after ``steps`` of grey input, starting at V_rest."""
        v: np.ndarray = self.v_rest.copy()
        grey = self.current(np.full(self.network.n_columns, GREY, dtype=np.float32))
        for _ in range(steps):
            v = v + self.dt * self.derivative(v, grey)
        return v

    def run(self, luminance_chunks: Iterable[np.ndarray], v0: np.ndarray, rng: np.random.Generator) -> Iterator[Chunk]:
        """Simulate from ``v0``, one recorded frame per step, chunk by chunk.

        ``luminance_chunks`` yields (n, n_columns) column luminances; the state is
        carried across chunks (one continuous trajectory).
        """
        v: np.ndarray = v0.astype(np.float32).copy()
        n_neurons = self.network.n_neurons
        for luminance in luminance_chunks:
            steps = luminance.shape[0]
            voltage = np.empty((steps, n_neurons), dtype=np.float32)
            stimulus = np.zeros((steps, n_neurons), dtype=np.float32)
            target = np.empty((steps, n_neurons), dtype=np.float32)
            stimulus[:, self.input_indices] = luminance[:, self.input_column]
            # one draw per chunk: the same stream as per-step draws, several times faster
            kicks = self.sigma * rng.standard_normal((steps, n_neurons), dtype=np.float32) if self.sigma > 0 else None
            for t in range(steps):
                y = self.derivative(v, stimulus[t])
                voltage[t] = v
                target[t] = y
                v = v + self.dt * y
                if kicks is not None:
                    v += kicks[t]
            if not np.isfinite(v).all():
                raise FlygnnError(
                    "the simulation diverged (non-finite voltages); the ground truth or dt makes the "
                    "dynamics unstable — try --tau-mode clamped or a smaller dt."
                )
            yield Chunk(voltage, stimulus, target)


# --- datasets -------------------------------------------------------------------

CHUNK = 500  # frames simulated between writes: bounds memory at ~3 × 500 × N × 4 bytes


class SimulationPreset(Strict):
    extent: Annotated[Integer, Field(ge=1, le=MAX_EXTENT)] = Field(
        description=f"the network's lattice radius in columns, an integer from 1 to {MAX_EXTENT} (the paper: 8)"
    )
    train_frames: Annotated[Integer, Field(ge=1)] = Field(description="recorded training frames, an integer >= 1")
    test_frames: Annotated[Integer, Field(ge=1)] = Field(description="recorded test frames, an integer >= 1")


class SimulationPresets(RootModel[dict[str, SimulationPreset]]):
    """a mapping from preset name to extent, train_frames and test_frames"""


def presets_file() -> Path:
    from importlib import resources

    return Path(str(resources.files("flygnn").joinpath("presets/simulation.yaml")))


def load_presets(path: str | Path | None = None) -> dict[str, dict]:
    """Simulation presets (``presets/simulation.yaml``): extent and frames per split, checked."""
    path = Path(path or presets_file())
    presets = validated(SimulationPresets, read_yaml(path, "pass the path of a simulation presets file."), path)
    return {name: preset.model_dump() for name, preset in presets.root.items()}


def preset(name: str) -> dict:
    presets = load_presets()
    if name not in presets:
        raise FlygnnError(f"unknown simulation preset {name!r}; choose one of {sorted(presets)}.")
    return presets[name]


def noise_rng(seed: int, condition: str) -> np.random.Generator:
    """The noise stream of one condition: independent across conditions, fixed by the seed."""
    import zlib

    return np.random.default_rng([seed, zlib.crc32(condition.encode())])


def simulate_dataset(
    path,
    network: Network,
    ground_truth: GroundTruth,
    sigma: float,
    train_frames: int,
    test_frames: int,
    stimulus_spec=None,
    condition: str = "custom",
    preset_name: str = "custom",
    seed: int = 0,
    dt: float = DT,
    tau_mode: str = "raw",
    overwrite: bool = False,
    progress: bool = True,
):
    """Simulate train and test splits and write them as a dataset at ``path``.

    Train is one continuous trajectory from the grey steady state; test restarts
    from the same steady state with fresh noise and held-out stimulus images.
    Nothing appears at ``path`` unless the whole dataset was written.
    """
    from tqdm import tqdm

    from flygnn import __version__
    from flygnn.atomic import atomic_directory
    from flygnn.dataset import DatasetWriter, open_dataset
    from flygnn.stimulus import StimulusSpec, natural_image_sources, stimulus_frames

    path = Path(path)
    for name, count in (("train", train_frames), ("test", test_frames)):
        if not isinstance(count, int) or count < 1:
            raise FlygnnError(f"{name} frames must be a positive integer, got {count!r}.")
    # resolved: records exactly which images went to train and test
    spec = (stimulus_spec if stimulus_spec is not None else StimulusSpec(seed=seed)).resolved()
    simulator = Simulator(network, ground_truth, sigma, dt=dt, tau_mode=tau_mode)
    frames = {"train": train_frames, "test": test_frames}
    attrs = {
        "condition": condition,
        "preset": preset_name,
        "sigma": float(sigma),
        "dt": float(dt),
        "seed": int(seed),
        "tau_mode": tau_mode,
        "stimulus": spec.to_dict(),
        "stimulus_sources": natural_image_sources() if spec.kind == "natural" else {},
        "flygnn_version": __version__,
        "created": datetime.now().isoformat(timespec="seconds"),
    }
    rng = noise_rng(seed, condition)
    with atomic_directory(path, overwrite=overwrite) as tmp:
        writer = DatasetWriter(tmp, network, ground_truth, frames, attrs)
        try:
            v0 = simulator.steady_state()
            with tqdm(
                total=train_frames + test_frames, unit="frame", desc=f"simulate {condition}", disable=not progress
            ) as bar:
                for split, count in frames.items():
                    start = 0
                    luminance = stimulus_frames(
                        spec, network.columns_u, network.columns_v, split=split, n_frames=count, chunk=CHUNK
                    )
                    for chunk in simulator.run(luminance, v0, rng):
                        writer.write(split, start, chunk)
                        start += chunk.voltage.shape[0]
                        bar.update(chunk.voltage.shape[0])
                    if start != count:
                        raise FlygnnError(f"the stimulus produced {start} {split} frames, expected {count}.")
            writer.finish()
        except BaseException:
            writer.abort()
            raise
    return open_dataset(path)
