"""Random small networks and activity statistics for the analytic-oracle tests (shared by test modules)."""

from __future__ import annotations

import numpy as np


def random_network(n=40, e=240, seed=0):
    rng = np.random.default_rng(seed)
    source = rng.integers(0, n, e)
    target = rng.integers(0, n, e)
    W = rng.normal(0, 1, e)
    tau = rng.uniform(0.02, 0.3, n)
    v_rest = rng.uniform(0.0, 0.8, n)
    return source, target, W, tau, v_rest


def activity_for(n, k=8, seed=1, mean=None, std=None):
    """Statistics with μ + s > 0 for every neuron; some ranges cross 0 (tests the clip at 0)."""
    rng = np.random.default_rng(seed)
    mean = rng.uniform(-0.05, 1.0, n) if mean is None else mean
    std = rng.uniform(0.05, 0.3, n) if std is None else std
    frames = mean + std * rng.normal(size=(k, n))
    stimulus = np.zeros((k, n))
    stimulus[:, : n // 4] = rng.uniform(0, 1, (k, n // 4))
    return {"voltage_mean": mean, "voltage_std": std, "frames_voltage": frames, "frames_stimulus": stimulus}
