"""An analytic stand-in for a trained GNN: the simulator's own equations.

The oracle has the message-passing model's methods (``message``, ``aggregate``,
``update``, ``forward``), so every analysis step can be checked on it with known
answers. Without gains it *is* the simulator:

    g²(v_j) = ReLU(v_j),   f(v_i, msg_i, I_i) = (−v_i + V_rest,i + msg_i + I_i) / τ_i,   Ŵ = W.

The gauge of the GNN is reproduced exactly by per-neuron gains: a message gain
c_j multiplies g², an update gain k_i multiplies f's sensitivity to msg, and the
learned weights absorb both, Ŵ_e = W_e / (c_j k_i). The dynamics are unchanged,
the raw Ŵ is not W, and the gauge-corrected W* must be W again.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch


class OracleModel(torch.nn.Module):
    """The simulator written as a message-passing model, with optional gauge gains.

    Args:
        source, target: (E,) int, edge e goes from neuron source[e] to target[e].
        W: (E,) true weights.
        tau: (N,) time constants in seconds (> 0).
        v_rest: (N,) resting potentials.
        message_gain: (N,) c_j > 0 multiplying g² = ReLU(v) (default 1).
        update_gain: (N,) k_i > 0 multiplying f's msg term (default 1).
        embedding: (N, d) the ``a`` the oracle reports (it does not use it);
            default: the column (τ, V_rest), so a clustering of it sees the truth.
        dtype: float64 by default so known-answer tests are exact to ~1e-12.
    """

    # buffers (register_buffer); declared so that they are typed as tensors, not modules
    source: torch.Tensor
    target: torch.Tensor
    tau: torch.Tensor
    v_rest: torch.Tensor
    message_gain: torch.Tensor
    update_gain: torch.Tensor

    def __init__(
        self,
        source: np.ndarray,
        target: np.ndarray,
        W: np.ndarray,
        tau: np.ndarray,
        v_rest: np.ndarray,
        message_gain: np.ndarray | None = None,
        update_gain: np.ndarray | None = None,
        embedding: np.ndarray | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        n = len(tau)
        message_gain = np.ones(n) if message_gain is None else np.asarray(message_gain, dtype=float)
        update_gain = np.ones(n) if update_gain is None else np.asarray(update_gain, dtype=float)
        if embedding is None:
            embedding = np.stack([np.asarray(tau, float), np.asarray(v_rest, float)], axis=1)
        source = np.asarray(source, dtype=np.int64)
        target = np.asarray(target, dtype=np.int64)
        learned_W = np.asarray(W, dtype=float) / (message_gain[source] * update_gain[target])

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(x, dtype=float), dtype=dtype)

        self.W = torch.nn.Parameter(tensor(learned_W), requires_grad=False)
        self.a = torch.nn.Parameter(tensor(embedding), requires_grad=False)
        self.register_buffer("source", torch.as_tensor(source))
        self.register_buffer("target", torch.as_tensor(target))
        self.register_buffer("tau", tensor(tau))
        self.register_buffer("v_rest", tensor(v_rest))
        self.register_buffer("message_gain", tensor(message_gain))
        self.register_buffer("update_gain", tensor(update_gain))

    @classmethod
    def from_ground_truth(
        cls, source: np.ndarray, target: np.ndarray, ground_truth, dt: float, tau_mode: str = "raw"
    ) -> OracleModel:
        """The true noise-free dynamics of a simulation: W, τ and V_rest of ``ground_truth``
        (a :class:`flygnn.groundtruth.GroundTruth`), with τ clamped to ≥ dt where the simulator
        clamps it (``tau_mode`` "clamped", flyvis' choice) so the oracle divides by the same τ."""
        tau = np.asarray(ground_truth.tau, dtype=float)
        if tau_mode == "clamped":
            tau = np.maximum(tau, dt)
        elif tau_mode != "raw":
            raise ValueError(f"tau mode must be 'raw' or 'clamped', got {tau_mode!r}")
        return cls(source, target, ground_truth.W, tau, ground_truth.v_rest)

    @property
    def n_neurons(self) -> int:
        return int(self.tau.shape[0])

    def message(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """g² = c · ReLU(v); v (..., N) -> (..., N)."""
        return self.message_gain * torch.relu(v)

    def aggregate(self, m: torch.Tensor) -> torch.Tensor:
        """msg_i = Σ_{e: j→i} Ŵ_e m_j; m (..., N) -> (..., N)."""
        n = self.n_neurons
        columns = m.reshape(-1, n).t()  # (N, frames)
        return (self._weight_matrix(m.dtype) @ columns).t().reshape(m.shape)

    def _weight_matrix(self, dtype: torch.dtype) -> torch.Tensor:
        """Ŵ as an N×N CSR matrix (rows = targets), built once per W: one sparse product per
        step instead of a gather and scatter over every edge (many times faster for long runs)."""
        key = (self.W._version, self.W.device, dtype)
        if getattr(self, "_matrix_key", None) != key:
            n = self.n_neurons
            indices = torch.stack([self.target, self.source])
            coo = torch.sparse_coo_tensor(indices, self.W.detach().to(dtype), (n, n), check_invariants=False)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                self._matrix = coo.coalesce().to_sparse_csr()  # coalesce sums repeated edges, as a scatter-add does
            self._matrix_key = key
        return self._matrix

    def update(self, v: torch.Tensor, a: torch.Tensor, msg: torch.Tensor, I: torch.Tensor) -> torch.Tensor:
        """f = (−v + V_rest + k · msg + I) / τ; all (..., N) -> (..., N)."""
        return (-v + self.v_rest + self.update_gain * msg + I) / self.tau

    def forward(self, v: torch.Tensor, I: torch.Tensor) -> torch.Tensor:
        return self.update(v, self.a, self.aggregate(self.message(v, self.a)), I)
