"""The GNN: message passing per neuron equals per edge; names and shapes match upstream."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flygnn.errors import FlygnnError
from flygnn.model import FlyVisGNN, check_state_dict_shapes, per_edge_forward

UPSTREAM_NAMES = {
    "W",
    "a",
    *(f"{mlp}.layers.{k}.{p}" for mlp in ("g_phi", "f_theta") for k in range(3) for p in ("weight", "bias")),
}


def _randomised(model: FlyVisGNN, seed: int = 0) -> FlyVisGNN:
    """Non-trivial embeddings and weights (a starts at ones, which hides indexing bugs)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.a.copy_(torch.randn(model.a.shape, generator=generator))
        model.W.copy_(torch.randn(model.W.shape, generator=generator))
    return model


def test_aggregate_known_answer():
    # edges 0->2 (W 2), 1->2 (W -1), 2->0 (W 0.5): msg_2 = 2 m_0 - m_1, msg_0 = 0.5 m_2, msg_1 = 0
    model = FlyVisGNN(source=[0, 1, 2], target=[2, 2, 0], n_neurons=3, hidden=8)
    with torch.no_grad():
        model.W.copy_(torch.tensor([2.0, -1.0, 0.5]))
    m = torch.tensor([[1.0, 10.0, 100.0], [3.0, 0.0, -2.0]])
    expected = torch.tensor([[50.0, 0.0, -8.0], [-1.0, 0.0, 6.0]])
    torch.testing.assert_close(model.aggregate(m), expected)


def test_aggregate_gradients_match_scatter():
    model = _randomised(FlyVisGNN(source=[0, 1, 2, 0], target=[2, 2, 0, 1], n_neurons=3, hidden=8))
    m = torch.randn(4, 3, requires_grad=True)
    weights = torch.randn(4, 3)
    (model.aggregate(m) * weights).sum().backward()
    grad_m, grad_W = m.grad.clone(), model.W.grad.clone()
    m.grad, model.W.grad = None, None
    reference = torch.zeros(4, 3).index_add_(1, model.target, m[:, model.source] * model.W)
    (reference * weights).sum().backward()
    torch.testing.assert_close(grad_m, m.grad)
    torch.testing.assert_close(grad_W, model.W.grad)


def test_per_neuron_equals_per_edge_message_passing(tiny_network):
    torch.manual_seed(0)
    model = _randomised(FlyVisGNN.from_network(tiny_network, embedding_dim=2, hidden=16))
    v = torch.randn(3, tiny_network.n_neurons)
    I = torch.randn(3, tiny_network.n_neurons)
    ours = model(v, I)
    ours.square().sum().backward()
    ours_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    reference = per_edge_forward(model, v, I)
    reference.square().sum().backward()
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(ours_grads[name], parameter.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_message_is_g_phi_squared_per_neuron_with_leading_dims(tiny_network):
    model = _randomised(FlyVisGNN.from_network(tiny_network, embedding_dim=3, hidden=8))
    N = tiny_network.n_neurons
    grid = torch.linspace(-1, 1, 5)[:, None].expand(5, N)  # (K, N): every neuron at 5 voltages
    m = model.message(grid, model.a)
    assert m.shape == (5, N)
    assert torch.all(m >= 0)
    neuron = 7
    by_hand = model.g_phi(torch.cat([grid[:, neuron : neuron + 1], model.a[neuron].expand(5, 3)], dim=1)) ** 2
    torch.testing.assert_close(m[:, neuron], by_hand.squeeze(1))
    f = model.update(grid, model.a, torch.zeros_like(grid), torch.zeros_like(grid))
    assert f.shape == (5, N)


def test_state_dict_has_exactly_the_upstream_names(tiny_network):
    model = FlyVisGNN.from_network(tiny_network, embedding_dim=2)
    state = model.state_dict()
    assert set(state) == UPSTREAM_NAMES
    assert state["W"].shape == (tiny_network.n_edges,)
    assert state["a"].shape == (tiny_network.n_neurons, 2)
    assert state["g_phi.layers.0.weight"].shape == (80, 3)
    assert state["f_theta.layers.0.weight"].shape == (80, 5)
    assert state["f_theta.layers.2.weight"].shape == (1, 80)


def test_initialisation(small_network):
    torch.manual_seed(1)
    model = FlyVisGNN.from_network(small_network, W_init_scale=0.25)
    assert torch.all(model.a == 1)
    expected_std = 0.25 / np.sqrt(small_network.n_edges)
    assert abs(model.W.std().item() / expected_std - 1) < 0.05
    assert torch.all(model.g_phi.layers[2].bias == 0)
    assert abs(model.g_phi.layers[1].weight.std().item() - 0.1) < 0.01


def test_parameter_groups_cover_every_parameter_once(tiny_network):
    model = FlyVisGNN.from_network(tiny_network)
    groups = model.parameter_groups()
    ids = [id(p) for params in groups.values() for p in params]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())


def test_shape_check_names_the_tensor(tiny_network):
    model = FlyVisGNN.from_network(tiny_network)
    state = dict(model.state_dict())
    state["W"] = torch.zeros(5)
    with pytest.raises(FlygnnError, match=r"'W' has shape \(5,\), expected \(8174,\)"):
        check_state_dict_shapes(state, model, "test")
    del state["a"]
    with pytest.raises(FlygnnError, match="missing: \\['a'\\]"):
        check_state_dict_shapes(state, model, "test")
