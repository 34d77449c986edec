"""Free-running integration of a model of the dynamics: the learned network run on its own.

A model here is anything with ``forward(v, I) -> dv/dt`` in torch (a trained
:class:`flygnn.model.FlyVisGNN`, or :class:`flygnn.analysis.oracle.OracleModel`, which is the
true noise-free dynamics). The step is the simulator's, without the noise kick:

    v_{k+1} = v_k + dt · model(v_k, I_k)

so an oracle run from a recorded state on the recorded inputs of a σ = 0 dataset reproduces
the recorded voltages (to float32 rounding: the simulator computes in float32).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating dtype a model computes in (float32 for a trained GNN, float64 for the oracle)."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def euler_rollout(
    model: torch.nn.Module,
    v0: np.ndarray,
    currents: Iterable[np.ndarray],
    dt: float,
    record: np.ndarray | None = None,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Integrate dv/dt = model(v, I) noise-free from ``v0`` and return the visited states.

    v0: (..., N) start state (a.u.), e.g. (N,) or (B, N) for B runs side by side.
    currents: one (..., N) input current per step, broadcastable to v0 (an iterable, so a
        long or wide run never holds all its inputs at once).
    dt: Euler step in seconds.
    record: (R,) neuron indices to keep (default all N).

    Returns (K + 1, ..., R) float64: the start state, then the state after each of the K steps.
    A run that diverges keeps going with non-finite values (they are the honest answer: the
    caller decides how to report them).
    """
    dtype = model_dtype(model)
    v = torch.as_tensor(np.asarray(v0), dtype=dtype, device=device)
    index = None if record is None else torch.as_tensor(np.asarray(record, dtype=np.int64), device=device)

    def kept(state: torch.Tensor) -> np.ndarray:
        chosen = state if index is None else state.index_select(-1, index)
        return chosen.detach().to("cpu", torch.float64).numpy()

    states = [kept(v)]
    with torch.no_grad():
        for current in currents:
            v = v + dt * model(v, torch.as_tensor(np.asarray(current), dtype=dtype, device=device))
            states.append(kept(v))
    return np.stack(states)
