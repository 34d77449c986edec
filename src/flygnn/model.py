"""The GNN that learns the fly visual system's dynamics from voltage traces.

    msg_i     = Σ_{e: j→i} Ŵ_e · g_φ(v_j, a_j)²            (message, aggregate)
    dv̂_i/dt   = f_θ(v_i, a_i, msg_i, I_i)                  (update)

Written like PyTorch Geometric's ``MessagePassing``: ``message`` is the per-source
term g_φ², ``aggregate`` the weighted sum over incoming edges, ``update`` the node
function f_θ. The analysis calls ``message`` and ``update`` directly, so an analytic
stand-in with the same methods can replace a trained model.

g_φ depends only on the presynaptic neuron, so it is evaluated once per neuron and
gathered along the edges — the same output as evaluating it on every edge (as the
original flyvis-gnn does, 31.6 edges per neuron on average) at a fraction of the cost.

Parameter names follow flyvis-gnn so checkpoints convert by renaming nothing:
``W`` (E,), ``a`` (N, d), ``g_phi.layers.{0,1,2}.{weight,bias}``,
``f_theta.layers.{0,1,2}.{weight,bias}``.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from flygnn.errors import FlygnnError

if TYPE_CHECKING:
    from flygnn.connectome import Network


class MLP(nn.Module):
    """``layers`` linear layers with ReLU between them and a linear output.

    Initialisation as flyvis-gnn: the first layer keeps PyTorch's default, every later
    layer has weights ~ N(0, 0.1²) and zero bias.
    """

    def __init__(self, in_features: int, hidden: int, layers: int, out_features: int = 1) -> None:
        super().__init__()
        if layers < 2:
            raise ValueError(f"an MLP needs at least 2 layers, got {layers}")
        sizes = [in_features] + [hidden] * (layers - 1) + [out_features]
        linears = [nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False)]
        self.layers = nn.ModuleList(linears)
        for layer in linears[1:]:
            nn.init.normal_(layer.weight, std=0.1)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


class _WeightedAggregate(torch.autograd.Function):
    """msg[i, :] = Σ_{e: target_e = i} W_e · m[source_e, :] as a sparse matrix product.

    Forward is one CSR (rows = targets) times dense product; backward uses the
    transposed CSR (rows = sources) for ∂/∂m and one gather per side for ∂/∂W.
    Faster on a CPU than gather + ``index_add_`` because nothing of size (E, M) is
    materialised in the forward pass.
    """

    @staticmethod
    def forward(ctx: Any, m: torch.Tensor, W: torch.Tensor, graph: _EdgeIndex) -> torch.Tensor:
        ctx.save_for_backward(m, W)
        ctx.graph = graph
        return graph.by_target(W) @ m

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):
        m, W = ctx.saved_tensors
        graph: _EdgeIndex = ctx.graph
        grad_m = grad_W = None
        if ctx.needs_input_grad[0]:
            grad_m = graph.by_source(W) @ grad_out
        if ctx.needs_input_grad[1]:
            # ∂/∂W_e = Σ_frames grad_out[target_e] · m[source_e], one contiguous column
            # (frame) at a time: 1-D gathers are several times faster than row gathers.
            m_frames, grad_frames = m.t().contiguous(), grad_out.t().contiguous()
            grad_W = m_frames[0].index_select(0, graph.source) * grad_frames[0].index_select(0, graph.target)
            for frame in range(1, m_frames.shape[0]):
                grad_W.addcmul_(
                    m_frames[frame].index_select(0, graph.source), grad_frames[frame].index_select(0, graph.target)
                )
        return grad_m, grad_W, None


class _EdgeIndex:
    """Sparse structure of the edges, built once: CSR by target and by source.

    ``by_target(W)`` is the N×N matrix A with A[i, j] = Σ W_e over edges j→i (rows
    = targets); ``by_source(W)`` is its transpose. Only the values change per call.
    """

    def __init__(self, source: torch.Tensor, target: torch.Tensor, n_neurons: int) -> None:
        self.source, self.target, self.n_neurons = source, target, n_neurons
        self._target_order, self._target_crow, self._target_col = self._csr(target, source)
        self._source_order, self._source_crow, self._source_col = self._csr(source, target)

    def _csr(self, rows: torch.Tensor, cols: torch.Tensor):
        order = torch.argsort(rows * self.n_neurons + cols, stable=True)
        counts = torch.bincount(rows, minlength=self.n_neurons)
        crow = torch.zeros(self.n_neurons + 1, dtype=torch.int64, device=rows.device)
        crow[1:] = torch.cumsum(counts, 0)
        return order, crow, cols[order].contiguous()

    def by_target(self, W: torch.Tensor) -> torch.Tensor:
        return self._matrix(self._target_crow, self._target_col, W.index_select(0, self._target_order))

    def by_source(self, W: torch.Tensor) -> torch.Tensor:
        return self._matrix(self._source_crow, self._source_col, W.index_select(0, self._source_order))

    def _matrix(self, crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(crow, col, values, (self.n_neurons,) * 2, check_invariants=False)


class FlyVisGNN(nn.Module):
    """msg_i = Σ_{j→i} Ŵ_e g_φ(v_j, a_j)², dv̂_i/dt = f_θ(v_i, a_i, msg_i, I_i).

    Args:
        source, target: (E,) int, edge e goes from neuron source[e] to target[e].
        n_neurons: N.
        embedding_dim: d, the size of each neuron's learned embedding a_i.
        hidden: width of the hidden layers of g_φ and f_θ.
        layers: number of linear layers of each MLP (3: in→hidden→hidden→1).
        W_init_scale: Ŵ starts as N(0, 1)·scale/√E.
        extent, network_fingerprint: which network the edges come from (recorded in
            bundles so a bundle is never used with another network).

    Learned: ``W`` (E,), ``a`` (N, d) (starts at ones), ``g_phi``, ``f_theta``.
    ``source``/``target`` are non-persistent buffers, so the state dict holds exactly
    the upstream parameter names.
    """

    # buffers (register_buffer); declared so that they are typed as tensors, not modules
    source: torch.Tensor
    target: torch.Tensor

    def __init__(
        self,
        source: np.ndarray | torch.Tensor,
        target: np.ndarray | torch.Tensor,
        n_neurons: int,
        embedding_dim: int = 2,
        hidden: int = 80,
        layers: int = 3,
        W_init_scale: float = 1.0,
        extent: int | None = None,
        network_fingerprint: str | None = None,
    ) -> None:
        super().__init__()
        source = torch.as_tensor(np.asarray(source), dtype=torch.int64)
        target = torch.as_tensor(np.asarray(target), dtype=torch.int64)
        if source.shape != target.shape or source.ndim != 1:
            raise ValueError(
                f"source and target must be (E,) of equal length, got {tuple(source.shape)} and {tuple(target.shape)}"
            )
        n_edges = int(source.shape[0])
        if n_edges and (
            int(source.max()) >= n_neurons
            or int(target.max()) >= n_neurons
            or int(source.min()) < 0
            or int(target.min()) < 0
        ):
            raise ValueError(f"edge indices must lie in [0, {n_neurons})")
        self.n_neurons = int(n_neurons)
        self.n_edges = n_edges
        self.embedding_dim = int(embedding_dim)
        self.hidden = int(hidden)
        self.n_layers = int(layers)
        self.W_init_scale = float(W_init_scale)
        self.extent = extent
        self.network_fingerprint = network_fingerprint

        self.g_phi = MLP(1 + self.embedding_dim, self.hidden, self.n_layers)
        self.f_theta = MLP(3 + self.embedding_dim, self.hidden, self.n_layers)
        self.a = nn.Parameter(torch.ones(self.n_neurons, self.embedding_dim))
        self.W = nn.Parameter(torch.randn(n_edges) * (self.W_init_scale / math.sqrt(max(n_edges, 1))))
        self.register_buffer("source", source, persistent=False)
        self.register_buffer("target", target, persistent=False)
        self._graph: _EdgeIndex | None = None

    @classmethod
    def from_network(cls, network: Network, **architecture: Any) -> FlyVisGNN:
        """A model on ``network``'s edges (see the class for ``architecture`` keys)."""
        return cls(
            network.source,
            network.target,
            network.n_neurons,
            extent=network.extent,
            network_fingerprint=network.fingerprint(),
            **architecture,
        )

    def architecture(self) -> dict[str, Any]:
        """What rebuilds this model (recorded in ``bundle.json``)."""
        return {
            "n_neurons": self.n_neurons,
            "n_edges": self.n_edges,
            "embedding_dim": self.embedding_dim,
            "hidden": self.hidden,
            "layers": self.n_layers,
            "W_init_scale": self.W_init_scale,
            "extent": self.extent,
            "network_fingerprint": self.network_fingerprint,
        }

    def _apply(self, fn, recurse=True):  # moving to another device rebuilds the sparse structure
        self._graph = None
        return super()._apply(fn, recurse)

    @property
    def graph(self) -> _EdgeIndex:
        if self._graph is None:
            self._graph = _EdgeIndex(self.source, self.target, self.n_neurons)
        return self._graph

    def message(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """g_φ(v_j, a_j)² per neuron: v (..., N) in voltage units, a (N, d) -> (..., N)."""
        features = torch.cat([v.unsqueeze(-1), a.expand(*v.shape, a.shape[-1])], dim=-1)
        return self.g_phi(features).squeeze(-1) ** 2

    def aggregate(self, m: torch.Tensor) -> torch.Tensor:
        """msg_i = Σ_{e: j→i} Ŵ_e m_j: m (..., N) -> (..., N)."""
        leading = m.shape[:-1]
        columns = m.reshape(-1, self.n_neurons).t().contiguous()  # (N, M): one column per frame
        msg = _WeightedAggregate.apply(columns, self.W, self.graph)
        return msg.t().reshape(*leading, self.n_neurons)

    def update(self, v: torch.Tensor, a: torch.Tensor, msg: torch.Tensor, I: torch.Tensor) -> torch.Tensor:
        """f_θ(v_i, a_i, msg_i, I_i): v, msg, I (..., N), a (N, d) -> dv̂/dt (..., N) in units/s."""
        features = torch.cat(
            [v.unsqueeze(-1), a.expand(*v.shape, a.shape[-1]), msg.unsqueeze(-1), I.unsqueeze(-1)], dim=-1
        )
        return self.f_theta(features).squeeze(-1)

    def forward(self, v: torch.Tensor, I: torch.Tensor) -> torch.Tensor:
        """dv̂/dt for voltages v (..., N) and input currents I (..., N)."""
        return self.update(v, self.a, self.aggregate(self.message(v, self.a)), I)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The three learning-rate groups: ``W``, ``mlp`` (g_φ and f_θ), ``embedding``."""
        return {
            "W": [self.W],
            "mlp": list(self.g_phi.parameters()) + list(self.f_theta.parameters()),
            "embedding": [self.a],
        }


def per_edge_forward(model: FlyVisGNN, v: torch.Tensor, I: torch.Tensor) -> torch.Tensor:
    """The same model computed the way flyvis-gnn does: g_φ on every edge, scatter-add.

    Reference for tests and the benchmark only; (B, N) -> (B, N).
    """
    source, target = model.source, model.target
    features = torch.cat([v[:, source].unsqueeze(-1), model.a[source].expand(v.shape[0], -1, -1)], dim=-1)
    edge_msg = model.W * model.g_phi(features).squeeze(-1) ** 2  # (B, E)
    msg = torch.zeros_like(v).scatter_add_(1, target.expand_as(edge_msg), edge_msg)
    return model.update(v, model.a, msg, I)


def check_state_dict_shapes(state: dict[str, Any], model: FlyVisGNN, where: str) -> None:
    """Every tensor present with the shape ``model`` expects, or a FlygnnError naming it."""
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise FlygnnError(
            f"{where}: tensors do not match the network's model "
            f"(missing: {missing or 'none'}; unexpected: {unexpected or 'none'})."
        )
    for name, shape in expected.items():
        found = tuple(state[name].shape)
        if found != shape:
            raise FlygnnError(
                f"{where}: tensor {name!r} has shape {found}, expected {shape} for this network "
                f"({model.n_neurons} neurons, {model.n_edges} edges, embedding dimension {model.embedding_dim}, "
                f"hidden width {model.hidden}). Was it trained on another network?"
            )
