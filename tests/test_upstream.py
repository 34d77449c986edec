"""Import of flyvis-gnn checkpoints: names, edge order, safety, wrong networks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr

from flygnn.bundle import load_bundle
from flygnn.errors import FlygnnError
from flygnn.model import FlyVisGNN
from flygnn.upstream import import_upstream, read_upstream_state

T = 40


def _upstream_state(network, legacy: bool) -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    model = FlyVisGNN.from_network(network, embedding_dim=2, hidden=16)
    with torch.no_grad():
        model.a.normal_()
        model.W.normal_()
    state = {}
    for name, tensor in model.state_dict().items():
        if legacy:
            name = name.replace("g_phi.", "lin_edge.").replace("f_theta.", "lin_phi.")
        state[name] = tensor.clone()
    state["W"] = state["W"][:, None]  # upstream stores W as (E, 1)
    state["NNR_f.net.0.weight"] = torch.zeros(2, 2)  # extras of other model variants are dropped
    return state


def _upstream_dataset(folder: Path, network, edge_order=None) -> np.ndarray:
    folder.mkdir(parents=True)
    order = np.arange(network.n_edges) if edge_order is None else edge_order
    torch.save(torch.from_numpy(np.stack([network.source[order], network.target[order]])), folder / "edge_index.pt")
    rng = np.random.default_rng(0)
    voltage = rng.normal(0.2, 0.4, size=(T, network.n_neurons)).astype(np.float32)
    stimulus = np.zeros_like(voltage)
    stimulus[:, network.input_indices] = rng.random((T, network.n_inputs))
    for name, array in (("voltage", voltage), ("stimulus", stimulus)):
        z = zarr.create_array(str(folder / "x_list_train" / f"{name}.zarr"), shape=array.shape, chunks=(16, array.shape[1]),
                              dtype="float32", zarr_format=2)
        z[:] = array
    return voltage


def _checkpoint(path: Path, state) -> Path:
    torch.save({"model_state_dict": state, "optimizer_state_dict": {}}, path)
    return path


@pytest.mark.parametrize("legacy", [False, True])
def test_import_keeps_every_tensor_under_flygnn_names(tiny_network, tmp_path, legacy):
    state = _upstream_state(tiny_network, legacy)
    voltage = _upstream_dataset(tmp_path / "data", tiny_network)
    out = import_upstream(
        _checkpoint(tmp_path / "best_model_with_0_graphs_1.pt", state), tmp_path / "data", tmp_path / "bundle",
        condition="sigma-0p05", sigma=0.05, network=tiny_network, activity_frames=8,
    )
    bundle = load_bundle(out, tiny_network)
    loaded = bundle.model.state_dict()
    torch.testing.assert_close(loaded["W"], state["W"][:, 0])
    torch.testing.assert_close(loaded["a"], state["a"])
    prefix = "lin_edge." if legacy else "g_phi."
    torch.testing.assert_close(loaded["g_phi.layers.1.weight"], state[f"{prefix}layers.1.weight"])
    assert bundle.meta["architecture"]["hidden"] == 16 and bundle.meta["architecture"]["embedding_dim"] == 2
    assert bundle.meta["training"]["dropped_keys"] == ["NNR_f.net.0.weight"]
    np.testing.assert_allclose(bundle.activity["voltage_mean"], voltage.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bundle.activity["voltage_std"], voltage.std(0), rtol=1e-4, atol=1e-6)
    assert bundle.activity["frames_stimulus"].shape == (8, tiny_network.n_neurons)


def test_edges_listed_in_another_order_are_realigned(tiny_network, tmp_path):
    state = _upstream_state(tiny_network, legacy=False)
    order = np.random.default_rng(1).permutation(tiny_network.n_edges)
    W_network_order = state["W"][:, 0].clone()
    state["W"] = W_network_order[order][:, None]  # upstream's W follows its own edge list
    _upstream_dataset(tmp_path / "data", tiny_network, edge_order=order)
    out = import_upstream(_checkpoint(tmp_path / "m.pt", state), tmp_path / "data", tmp_path / "b",
                          condition="x", sigma=0.5, network=tiny_network, activity_frames=4)
    torch.testing.assert_close(load_bundle(out, tiny_network).model.W, W_network_order)


class _RunsCodeOnLoad:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_that_runs_code_is_refused(tiny_network, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"model_state_dict": {"W": torch.zeros(3)}, "payload": _RunsCodeOnLoad(marker)}, tmp_path / "evil.pt")
    _upstream_dataset(tmp_path / "data", tiny_network)
    with pytest.raises(FlygnnError, match="refusing to load checkpoint .*could run code"):
        import_upstream(tmp_path / "evil.pt", tmp_path / "data", tmp_path / "b", condition="x", sigma=0.5,
                        network=tiny_network)
    assert not marker.exists()
    assert not (tmp_path / "b").exists()


def test_checkpoint_of_another_network_is_refused(tiny_network, small_network, tmp_path):
    _upstream_dataset(tmp_path / "data", tiny_network)
    state = _upstream_state(tiny_network, legacy=False)
    with pytest.raises(FlygnnError, match="embeddings for 443 neurons; the network \\(extent 2\\) has 1203"):
        import_upstream(_checkpoint(tmp_path / "m.pt", state), tmp_path / "data", tmp_path / "b", condition="x",
                        sigma=0.5, network=small_network)


def test_not_a_gnn_checkpoint_is_refused(tmp_path):
    torch.save({"model_state_dict": {"weight": torch.zeros(2)}}, tmp_path / "m.pt")
    with pytest.raises(FlygnnError, match="no tensor 'W'"):
        read_upstream_state(tmp_path / "m.pt")
    with pytest.raises(FlygnnError, match="not found"):
        read_upstream_state(tmp_path / "missing.pt")


def test_cli_import_and_info(tiny_network, tmp_path, capsys):
    from flygnn.cli import main

    _upstream_dataset(tmp_path / "data", tiny_network)
    checkpoint = _checkpoint(tmp_path / "m.pt", _upstream_state(tiny_network, legacy=True))
    out = tmp_path / "bundle"
    assert main(["import-upstream", str(checkpoint), "--dataset", str(tmp_path / "data"), "--condition", "sigma-0p5",
                 "--out", str(out), "--extent", "1", "--activity-frames", "4"]) == 0
    capsys.readouterr()
    assert main(["bundle-info", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sigma"] == 0.5 and summary["activity_frames"] == 4
    assert main(["bundle-info", str(tmp_path / "nothing")]) == 2
