"""Import of flyvis-gnn checkpoints: file formats, names, edge order, ground truth, safety."""

from __future__ import annotations

import json
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import torch
import zarr
from project_fixtures import make_project

from flygnn.bundle import load_bundle
from flygnn.errors import FlygnnError
from flygnn.groundtruth import GroundTruth, ground_truth_from_flyvis, synthetic_ground_truth
from flygnn.model import FlyVisGNN
from flygnn.upstream import import_upstream, read_upstream_state

T = 40
TIME_CHUNKS = 16  # upstream writes 2000-frame chunks; smaller here so the frames span several


@pytest.fixture(scope="module")
def truth(tiny_network, flyvis_model_dir) -> GroundTruth:
    """flygnn's ground truth for the tiny network: what upstream's ode_params.pt must hold."""
    return ground_truth_from_flyvis(tiny_network, flyvis_model_dir)


def _upstream_state(network, legacy: bool) -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    model = FlyVisGNN.from_network(network, embedding_dim=2, hidden=16)
    with torch.no_grad():
        model.a.normal_()
        model.W.normal_()
        for parameter in model.parameters():  # non-default values everywhere, so a dropped tensor shows
            parameter.add_(0.01 * torch.randn_like(parameter))
    state = {}
    for name, tensor in model.state_dict().items():
        if legacy:
            name = name.replace("g_phi.", "lin_edge.").replace("f_theta.", "lin_phi.")
        state[name] = tensor.clone()
    state["W"] = state["W"][:, None]  # upstream stores W as (E, 1)
    state["NNR_f.net.0.weight"] = torch.zeros(2, 2)  # extras of other model variants are dropped
    return state


def _checkpoint(path: Path, state) -> Path:
    """A checkpoint as flyvis-gnn's trainer saves it (graph_trainer.py)."""
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))])
    torch.save({"model_state_dict": state, "optimizer_state_dict": optimizer.state_dict()}, path)
    return path


def _write_zarr_v2(path: Path, array: np.ndarray) -> None:
    """One array as flyvis-gnn's zarr_io writes it through tensorstore's zarr (v2) driver.

    (T, N) f4 in (time_chunks, N) chunks, blosc zstd level 3 with bit shuffle, no fill
    value; created with room for more frames and resized to the frames written.
    """
    chunks = (TIME_CHUNKS,) + array.shape[1:] if array.ndim == 2 else array.shape
    capacity = (max(array.shape[0], 10 * TIME_CHUNKS),) + array.shape[1:] if array.ndim == 2 else array.shape
    z = zarr.create_array(
        str(path),
        shape=capacity,
        chunks=chunks,
        dtype=array.dtype,
        zarr_format=2,
        fill_value=None,
        compressors=numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE),
    )
    z[: array.shape[0]] = array
    z.resize(array.shape)


def _frames(network, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    voltage = rng.normal(0.2, 0.4, size=(T, network.n_neurons)).astype(np.float32)
    stimulus = np.zeros_like(voltage)
    stimulus[:, network.input_indices] = rng.random((T, network.n_inputs))
    return voltage, stimulus


def _upstream_dataset(
    folder: Path, network, truth: GroundTruth, edge_order=None, legacy: bool = False, **ode_params
) -> tuple[np.ndarray, np.ndarray]:
    """A graphs_data/fly/<dataset>/ folder as flyvis-gnn writes it; returns its (voltage, stimulus).

    Current layout: ode_params.pt {tau_i, V_i_rest, edge_index, W} and x_list_train/*.zarr;
    ``legacy``: edge_index.pt alone and x_list_train.npy (T, N, 9). ``ode_params``
    replaces entries of ode_params.pt (None: left out). Edges are listed in ``edge_order``.
    """
    folder.mkdir(parents=True)
    order = np.arange(network.n_edges) if edge_order is None else edge_order
    edge_index = torch.from_numpy(np.stack([network.source[order], network.target[order]]).astype(np.int64))
    voltage, stimulus = _frames(network)
    if legacy:
        torch.save(edge_index, folder / "edge_index.pt")
        packed = np.zeros((T, network.n_neurons, 9), dtype=np.float32)
        packed[:, :, 0] = np.arange(network.n_neurons)
        packed[:, :, 3], packed[:, :, 4] = voltage, stimulus
        packed[:, :, 6] = network.neuron_type
        np.save(folder / "x_list_train.npy", packed)
        return voltage, stimulus
    params = {
        "tau_i": torch.from_numpy(truth.tau.copy()),
        "V_i_rest": torch.from_numpy(truth.v_rest.copy()),
        "edge_index": edge_index,
        "W": torch.from_numpy(truth.W[order].copy()),
    }
    params.update(ode_params)
    torch.save({k: v for k, v in params.items() if v is not None}, folder / "ode_params.pt")
    per_field = folder / "x_list_train"
    for name, array in (
        ("voltage", voltage),
        ("stimulus", stimulus),
        ("noise", np.zeros_like(voltage)),
        ("pos", np.zeros((network.n_neurons, 2), dtype=np.float32)),
        ("group_type", np.zeros(network.n_neurons, dtype=np.int32)),
        ("neuron_type", network.neuron_type.astype(np.int32)),
    ):
        _write_zarr_v2(per_field / f"{name}.zarr", array)
    assert json.loads((per_field / "voltage.zarr" / ".zarray").read_text())["zarr_format"] == 2
    return voltage, stimulus


def _import(tmp_path: Path, network, state, truth, **kwargs) -> Path:
    return import_upstream(
        _checkpoint(tmp_path / "best_model_with_0_graphs_1.pt", state),
        tmp_path / "data",
        tmp_path / "bundle",
        condition="sigma-0p05",
        sigma=0.05,
        network=network,
        ground_truth=truth,
        **kwargs,
    )


@pytest.mark.parametrize(
    "legacy_names, legacy_files",
    [(False, False), (True, False), (False, True)],
    ids=["current", "lin_edge-names", "edge_index.pt+x_list_train.npy"],
)
def test_import_round_trips_every_tensor_and_the_activity(tiny_network, truth, tmp_path, legacy_names, legacy_files):
    state = _upstream_state(tiny_network, legacy_names)
    voltage, stimulus = _upstream_dataset(tmp_path / "data", tiny_network, truth, legacy=legacy_files)
    bundle = load_bundle(_import(tmp_path, tiny_network, state, truth, activity_frames=8), tiny_network)

    rename = {"lin_edge.": "g_phi.", "lin_phi.": "f_theta."} if legacy_names else {}
    expected = {}
    for name, tensor in state.items():
        for old, new in rename.items():
            name = name.replace(old, new)
        expected[name] = tensor
    expected["W"] = state["W"][:, 0]
    loaded = bundle.model.state_dict()
    assert set(loaded) == set(expected) - {"NNR_f.net.0.weight"}
    unequal = [name for name in loaded if not torch.equal(loaded[name], expected[name])]
    assert unequal == []
    assert bundle.meta["architecture"]["hidden"] == 16 and bundle.meta["architecture"]["embedding_dim"] == 2
    assert bundle.meta["training"]["dropped_keys"] == ["NNR_f.net.0.weight"]
    assert bundle.meta["groundtruth"]["fingerprint"] == truth.fingerprint()
    assert bundle.meta["recovery"] is not None

    activity = bundle.activity
    np.testing.assert_allclose(activity["voltage_mean"], voltage.astype(np.float64).mean(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(activity["voltage_std"], voltage.astype(np.float64).std(0), rtol=1e-5, atol=1e-7)
    # each sampled frame is one training frame, voltage and stimulus of the same time step
    picked = [int(np.flatnonzero((voltage == row).all(axis=1))[0]) for row in activity["frames_voltage"]]
    assert len(set(picked)) == 8
    np.testing.assert_array_equal(activity["frames_stimulus"], stimulus[picked])


def test_edges_listed_in_another_order_are_realigned(tiny_network, truth, tmp_path):
    state = _upstream_state(tiny_network, legacy=False)
    order = np.random.default_rng(1).permutation(tiny_network.n_edges)
    W_network_order = state["W"][:, 0].clone()
    state["W"] = W_network_order[order][:, None]  # upstream's W follows its own edge list
    _upstream_dataset(tmp_path / "data", tiny_network, truth, edge_order=order)  # and so does ode_params' W
    out = _import(tmp_path, tiny_network, state, truth, activity_frames=4)
    assert torch.equal(load_bundle(out, tiny_network).model.W, W_network_order)


def _differing(values: np.ndarray, count: int, factor: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``values`` with ``count`` clearly non-zero entries scaled by ``factor``; and which."""
    candidates = np.flatnonzero(np.abs(values) > 1e-3)
    changed = np.random.default_rng(seed).choice(candidates, size=count, replace=False)
    result = values.copy()
    result[changed] *= factor
    return result, changed


@pytest.mark.parametrize("key, count", [("tau_i", 7), ("V_i_rest", 1), ("W", 25)])
def test_ode_params_with_another_ground_truth_are_refused(tiny_network, truth, tmp_path, key, count):
    ours = {"tau_i": truth.tau, "V_i_rest": truth.v_rest, "W": truth.W}[key]
    theirs, changed = _differing(ours, count, factor=1.5, seed=count)
    _upstream_dataset(tmp_path / "data", tiny_network, truth, **{key: torch.from_numpy(theirs)})
    with pytest.raises(FlygnnError) as refused:
        _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), truth)
    message = str(refused.value)
    unit, total = ("edges", tiny_network.n_edges) if key == "W" else ("neurons", tiny_network.n_neurons)
    assert "ode_params.pt does not hold flygnn's ground truth" in message
    assert f"{key} differs on {count} of {total} {unit}" in message
    largest = np.abs(theirs[changed].astype(np.float64) - ours[changed]).max()
    assert f"largest |difference| {largest:.4g}" in message
    assert [k for k in ("tau_i", "V_i_rest", "W") if f"{k} differs" in message] == [key]
    assert not (tmp_path / "bundle").exists()


def test_ode_params_equal_up_to_float32_rounding_are_accepted(tiny_network, truth, tmp_path):
    W = np.nextafter(truth.W, np.float32(np.inf))  # one ulp: torch and numpy round products differently
    _upstream_dataset(tmp_path / "data", tiny_network, truth, W=torch.from_numpy(W))
    state = _upstream_state(tiny_network, legacy=False)
    assert _import(tmp_path, tiny_network, state, truth, activity_frames=4).is_dir()


def test_ode_params_of_another_connectome_are_refused(tiny_network, truth, tmp_path):
    source, target = tiny_network.source, tiny_network.target
    edge_index = torch.from_numpy(np.stack([source, target]).astype(np.int64))
    not_a_target = [t for t in range(tiny_network.n_neurons) if not ((source == source[0]) & (target == t)).any()]
    edge_index[1, 0] = not_a_target[0]  # edge 0 now goes elsewhere: the network's edge 0 is not listed
    _upstream_dataset(tmp_path / "data", tiny_network, truth, edge_index=edge_index)
    with pytest.raises(
        FlygnnError,
        match=rf"ode_params.pt: 1 of the network's {tiny_network.n_edges} edges are not "
        rf"in its edge_index \(first: {source[0]} → {target[0]}\)",
    ):
        _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), truth)
    assert not (tmp_path / "bundle").exists()


def test_extra_null_edges_are_refused(tiny_network, truth, tmp_path):
    """Upstream's n_extra_null_edges adds edges (W = 0) the connectome does not have."""
    extra = 6
    edge_index = np.stack([tiny_network.source, tiny_network.target]).astype(np.int64)
    edge_index = np.concatenate([edge_index, np.stack([np.arange(extra), np.arange(extra) + 1])], axis=1)
    W = np.concatenate([truth.W, np.zeros(extra, dtype=np.float32)])
    _upstream_dataset(
        tmp_path / "data", tiny_network, truth, edge_index=torch.from_numpy(edge_index), W=torch.from_numpy(W)
    )
    state = _upstream_state(tiny_network, legacy=False)
    state["W"] = torch.cat([state["W"], torch.zeros(extra, 1)])
    with pytest.raises(
        FlygnnError,
        match=rf"ode_params.pt: edge_index \({tiny_network.n_edges + extra} edges .*is not "
        rf"the flygnn network \(extent 1: {tiny_network.n_neurons} neurons, "
        rf"{tiny_network.n_edges} edges\)",
    ):
        _import(tmp_path, tiny_network, state, truth)


def test_a_checkpoint_of_another_dataset_is_refused(tiny_network, tmp_path):
    truth = synthetic_ground_truth(tiny_network)
    keep = np.arange(tiny_network.n_edges - 3)  # upstream's edge_removal_ratio drops edges after simulating
    _upstream_dataset(tmp_path / "data", tiny_network, truth, edge_order=keep)
    with pytest.raises(
        FlygnnError,
        match=rf"has {tiny_network.n_edges} edge weights but .*ode_params.pt lists "
        rf"{len(keep)} edges",
    ):
        _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), truth)


def test_a_folder_without_ode_params_is_refused_naming_the_file(tiny_network, tmp_path):
    truth = synthetic_ground_truth(tiny_network)
    _upstream_dataset(tmp_path / "data", tiny_network, truth)
    (tmp_path / "data" / "ode_params.pt").unlink()
    with pytest.raises(FlygnnError, match=r"data has no ode_params.pt \(.*legacy: edge_index.pt\)"):
        _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), truth)


def test_legacy_weights_pt_is_checked_too(tiny_network, truth, tmp_path):
    _upstream_dataset(tmp_path / "data", tiny_network, truth, legacy=True)
    W, _ = _differing(truth.W, 3, factor=-1.0, seed=0)
    torch.save(torch.from_numpy(W), tmp_path / "data" / "weights.pt")  # upstream's legacy name for W
    with pytest.raises(
        FlygnnError,
        match=rf"data/{{edge_index.pt,weights.pt}} does not hold flygnn's ground truth "
        rf".*: W differs on 3 of {tiny_network.n_edges} edges",
    ):
        _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), truth)


@pytest.mark.parametrize(
    "removed, expected",
    [
        ("x_list_train", r"holds no training frames \(looked for x_list_train/voltage.zarr and x_list_train.npy\)"),
        ("x_list_train/stimulus.zarr", r"x_list_train/stimulus.zarr not found"),
    ],
)
def test_a_folder_without_frames_is_refused_naming_the_file(tiny_network, tmp_path, removed, expected):
    import shutil

    truth = synthetic_ground_truth(tiny_network)
    _upstream_dataset(tmp_path / "data", tiny_network, truth)
    shutil.rmtree(tmp_path / "data" / removed)
    with pytest.raises(FlygnnError, match=expected):
        _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), truth)


def test_ode_params_of_another_ode_model_are_refused(tiny_network, tmp_path):
    truth = synthetic_ground_truth(tiny_network)
    # what upstream's Hodgkin-Huxley variant saves: edge_index and W, but no tau_i / V_i_rest
    _upstream_dataset(
        tmp_path / "data", tiny_network, truth, tau_i=None, V_i_rest=None, g_L=torch.ones(tiny_network.n_neurons)
    )
    with pytest.raises(FlygnnError, match=r"ode_params.pt has no \['tau_i', 'V_i_rest'\]"):
        _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), truth)


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.02], ids=["half", "most", "header-only"])
def test_truncated_checkpoint_is_refused_with_a_message(tiny_network, tmp_path, keep):
    truth = synthetic_ground_truth(tiny_network)
    _upstream_dataset(tmp_path / "data", tiny_network, truth)
    checkpoint = _checkpoint(tmp_path / "m.pt", _upstream_state(tiny_network, legacy=False))
    whole = checkpoint.read_bytes()
    checkpoint.write_bytes(whole[: int(len(whole) * keep)])
    with pytest.raises(
        FlygnnError, match=r"cannot read checkpoint .*m\.pt .*damaged or not a torch \.pt file"
    ) as refused:
        import_upstream(checkpoint, tmp_path / "data", tmp_path / "b", condition="x", sigma=0.5, network=tiny_network)
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "b").exists()


def test_cli_import_of_a_truncated_checkpoint_prints_one_line(tiny_network, flyvis_model_dir, tmp_path, capsys):
    from flygnn.cli import main

    _upstream_dataset(tmp_path / "data", tiny_network, synthetic_ground_truth(tiny_network))
    checkpoint = _checkpoint(tmp_path / "m.pt", _upstream_state(tiny_network, legacy=False))
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    argv = ["import-upstream", str(checkpoint), "--dataset", str(tmp_path / "data"), "--condition", "sigma-0p5"]
    argv += ["--sigma", "0.5", "--out", str(tmp_path / "b"), "--extent", "1", "--flyvis-model", str(flyvis_model_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot read checkpoint {checkpoint}") and err.count("\n") == 1
    assert not (tmp_path / "b").exists()


def test_truncated_ode_params_are_refused_with_a_one_line_message(tiny_network, tmp_path):
    truth = synthetic_ground_truth(tiny_network)
    _upstream_dataset(tmp_path / "data", tiny_network, truth)
    params = tmp_path / "data" / "ode_params.pt"
    params.write_bytes(params.read_bytes()[:-200])
    with pytest.raises(FlygnnError, match=r"cannot read ODE parameters .*ode_params\.pt") as refused:
        _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), truth)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "frames",
    [np.array([{"voltage": 1.0}, None], dtype=object), [("v", "f4"), ("s", "f4")]],
    ids=["object-dtype", "structured-dtype"],
)
def test_legacy_frames_that_are_not_float_arrays_are_refused(tiny_network, tmp_path, frames):
    if isinstance(frames, list):  # a structured dtype of the right shape
        frames = np.zeros((T, tiny_network.n_neurons, 9), dtype=frames)
    truth = synthetic_ground_truth(tiny_network)
    _upstream_dataset(tmp_path / "data", tiny_network, truth, legacy=True)
    np.save(tmp_path / "data" / "x_list_train.npy", frames, allow_pickle=True)
    with pytest.raises(FlygnnError, match=r"x_list_train\.npy: .*\(T, N, 9\) float"):
        _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), truth)
    assert not (tmp_path / "bundle").exists()


class _RunsCodeOnLoad:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _assert_refused_safely(refused: pytest.ExceptionInfo, marker: Path) -> None:
    message = str(refused.value)
    assert not marker.exists()
    assert "could run code" in message
    # torch's own message advises loading the file anyway; none of it is passed on
    for advice in ("weights_only=False", "`weights_only` set to `False`", "add_safe_globals", "can still be loaded"):
        assert advice not in message
    assert refused.value.__cause__ is None and refused.value.__context__ is None


def test_a_checkpoint_that_runs_code_is_refused(tiny_network, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"model_state_dict": {"W": torch.zeros(3)}, "payload": _RunsCodeOnLoad(marker)}, tmp_path / "evil.pt")
    _upstream_dataset(tmp_path / "data", tiny_network, synthetic_ground_truth(tiny_network))
    with pytest.raises(FlygnnError, match="refusing to load checkpoint .*evil.pt") as refused:
        import_upstream(
            tmp_path / "evil.pt", tmp_path / "data", tmp_path / "b", condition="x", sigma=0.5, network=tiny_network
        )
    _assert_refused_safely(refused, marker)
    assert not (tmp_path / "b").exists()


def test_ode_params_that_run_code_are_refused(tiny_network, tmp_path):
    marker = tmp_path / "pwned"
    truth = synthetic_ground_truth(tiny_network)
    _upstream_dataset(tmp_path / "data", tiny_network, truth, V_i_rest=_RunsCodeOnLoad(marker))
    with pytest.raises(FlygnnError, match="refusing to load ODE parameters .*ode_params.pt") as refused:
        _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), truth)
    _assert_refused_safely(refused, marker)
    assert not (tmp_path / "bundle").exists()


def test_without_a_ground_truth_the_import_warns_and_scores_nothing(tiny_network, tmp_path, monkeypatch):
    monkeypatch.setenv("FLYGNN_FLYVIS_MODEL", str(tmp_path / "no-such-model"))
    _upstream_dataset(tmp_path / "data", tiny_network, synthetic_ground_truth(tiny_network))
    with pytest.warns(UserWarning, match="ode_params.pt is not checked against flygnn's ground truth"):
        out = _import(tmp_path, tiny_network, _upstream_state(tiny_network, legacy=False), None, activity_frames=4)
    meta = load_bundle(out, tiny_network).meta
    assert meta["recovery"] is None and meta["groundtruth"]["source"] is None


def test_checkpoint_of_another_network_is_refused(tiny_network, small_network, tmp_path):
    _upstream_dataset(tmp_path / "data", tiny_network, synthetic_ground_truth(tiny_network))
    state = _upstream_state(tiny_network, legacy=False)
    with pytest.raises(
        FlygnnError,
        match=rf"embeddings for {tiny_network.n_neurons} neurons; the network "
        rf"\(extent 2\) has {small_network.n_neurons}",
    ):
        import_upstream(
            _checkpoint(tmp_path / "m.pt", state),
            tmp_path / "data",
            tmp_path / "b",
            condition="x",
            sigma=0.5,
            network=small_network,
        )


def test_not_a_gnn_checkpoint_is_refused(tmp_path):
    torch.save({"model_state_dict": {"weight": torch.zeros(2)}}, tmp_path / "m.pt")
    with pytest.raises(FlygnnError, match="no tensor 'W'"):
        read_upstream_state(tmp_path / "m.pt")
    with pytest.raises(FlygnnError, match="not found"):
        read_upstream_state(tmp_path / "missing.pt")


def test_cli_import_and_info(tiny_network, truth, flyvis_model_dir, tmp_path, capsys):
    from flygnn.cli import main

    _upstream_dataset(tmp_path / "data", tiny_network, truth)
    checkpoint = _checkpoint(tmp_path / "m.pt", _upstream_state(tiny_network, legacy=True))

    def import_into(out: Path) -> int:
        return main(
            [
                "import-upstream",
                str(checkpoint),
                "--dataset",
                str(tmp_path / "data"),
                "--condition",
                "sigma-0p5",
                "--out",
                str(out),
                "--extent",
                "1",
                "--activity-frames",
                "4",
                "--flyvis-model",
                str(flyvis_model_dir),
            ]
        )

    assert import_into(tmp_path / "bundle") == 0
    capsys.readouterr()
    assert main(["bundle-info", str(tmp_path / "bundle")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sigma"] == 0.5 and summary["activity_frames"] == 4
    assert summary["recovery"] is not None
    assert summary["legs"] == [] and summary["resumable_state_iteration"] is None  # imported: no training here
    assert main(["bundle-info", str(tmp_path / "nothing")]) == 2

    (tmp_path / "data" / "ode_params.pt").unlink()
    assert import_into(tmp_path / "other") == 2
    assert "no ode_params.pt" in capsys.readouterr().err


def test_cli_import_takes_sigma_and_bundle_folder_from_the_project_in_any_sub_folder(tmp_path, capsys, monkeypatch):
    from flygnn.cli import main

    layout = make_project(tmp_path / "project", conditions=[("sigma-0p5", 0.5)])  # its bundle exists
    errors = []
    for folder in (layout.root, layout.chapters):
        monkeypatch.chdir(folder)
        assert (
            main(["import-upstream", "m.pt", "--dataset", "upstream", "--condition", "sigma-0p5", "--extent", "1"]) == 2
        )
        errors.append(capsys.readouterr().err)
    assert errors[1] == errors[0]
    assert f"bundle {layout.bundle_dir('sigma-0p5')} already exists; pass --overwrite" in errors[0]
