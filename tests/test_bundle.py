"""Checkpoint bundles: round trip, validation against the network, refusal of bad files."""

from __future__ import annotations

import ast
import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from flygnn import bundle as bundle_module
from flygnn.bundle import BUNDLE_FILES, FORMAT, load_bundle, save_bundle
from flygnn.errors import FlygnnError
from flygnn.model import FlyVisGNN


def _model(network, seed=0):
    torch.manual_seed(seed)
    model = FlyVisGNN.from_network(network, embedding_dim=2, hidden=16)
    with torch.no_grad():
        model.a.normal_()
    return model


def _activity(network, k=4):
    rng = np.random.default_rng(0)
    n = network.n_neurons
    return {
        "voltage_mean": rng.normal(size=n).astype(np.float32),
        "voltage_std": rng.random(n).astype(np.float32),
        "frames_voltage": rng.normal(size=(k, n)).astype(np.float32),
        "frames_stimulus": rng.random((k, n)).astype(np.float32),
    }


META = {"condition": "sigma-0p5", "sigma": 0.5, "training": {"preset": "smoke", "iterations": 3}, "recovery": None}


def test_round_trip(tiny_network, tmp_path):
    model, activity = _model(tiny_network), _activity(tiny_network)
    path = save_bundle(tmp_path / "b", model, META, activity)
    assert sorted(p.name for p in path.iterdir()) == sorted(BUNDLE_FILES)
    bundle = load_bundle(path, tiny_network)
    for name, tensor in model.state_dict().items():
        assert torch.equal(bundle.model.state_dict()[name], tensor), name
    for key, array in activity.items():
        np.testing.assert_array_equal(bundle.activity[key], array)
    assert (bundle.condition, bundle.sigma) == ("sigma-0p5", 0.5)
    assert bundle.meta["format"] == FORMAT
    assert bundle.meta["architecture"]["network_fingerprint"] == tiny_network.fingerprint()
    assert bundle.meta["versions"]["torch"] == torch.__version__.split("+")[0]
    assert not bundle.model.training
    v = torch.randn(2, tiny_network.n_neurons)
    torch.testing.assert_close(bundle.model(v, v), model(v, v))
    assert bundle.fingerprint() == load_bundle(path).fingerprint()  # network found from the recorded extent


def test_existing_bundle_is_replaced_only_when_asked(tiny_network, tmp_path):
    save_bundle(tmp_path / "b", _model(tiny_network), META, _activity(tiny_network))
    with pytest.raises(FlygnnError, match="already exists"):
        save_bundle(tmp_path / "b", _model(tiny_network, 1), META, _activity(tiny_network))
    save_bundle(tmp_path / "b", _model(tiny_network, 1), META, _activity(tiny_network), overwrite=True)
    assert torch.equal(load_bundle(tmp_path / "b", tiny_network).model.W, _model(tiny_network, 1).W)


def test_nan_weights_are_never_written(tiny_network, tmp_path):
    model = _model(tiny_network)
    with torch.no_grad():
        model.W[3] = float("nan")
    with pytest.raises(FlygnnError, match=r"tensor\(s\) \['W'\] contain NaN"):
        save_bundle(tmp_path / "b", model, META, _activity(tiny_network))
    assert not (tmp_path / "b").exists()


def test_bundle_for_another_network_is_refused_clearly(tiny_network, small_network, tmp_path):
    save_bundle(tmp_path / "b", _model(tiny_network), META, _activity(tiny_network))
    with pytest.raises(FlygnnError, match=r"trained on another network: it has 443 neurons, 8174 edges .*1203 neurons"):
        load_bundle(tmp_path / "b", small_network)


def test_wrong_tensor_shape_is_named(tiny_network, tmp_path):
    from safetensors.torch import save_file

    path = save_bundle(tmp_path / "b", _model(tiny_network), META, _activity(tiny_network))
    state = dict(_model(tiny_network).state_dict())
    state["a"] = torch.ones(tiny_network.n_neurons, 3)
    save_file(state, str(path / "model.safetensors"))
    with pytest.raises(FlygnnError, match=r"'a' has shape \(443, 3\), expected \(443, 2\)"):
        load_bundle(path, tiny_network)


def test_damaged_and_foreign_files_are_refused(tiny_network, tmp_path):
    path = save_bundle(tmp_path / "b", _model(tiny_network), META, _activity(tiny_network))
    # a pickle where the safetensors file should be is never unpickled
    torch.save(_model(tiny_network).state_dict(), path / "model.safetensors")
    with pytest.raises(FlygnnError, match="cannot read its safetensors files"):
        load_bundle(path, tiny_network)
    (path / "activity.safetensors").unlink()
    with pytest.raises(FlygnnError, match=r"incomplete: missing \['activity.safetensors'\]"):
        load_bundle(path, tiny_network)
    with pytest.raises(FlygnnError, match="no checkpoint bundle"):
        load_bundle(tmp_path / "nothing", tiny_network)
    other = save_bundle(tmp_path / "c", _model(tiny_network), META, _activity(tiny_network))
    meta = json.loads((other / "bundle.json").read_text())
    meta["format"] = "something-else/9"
    (other / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(FlygnnError, match="not a flygnn bundle"):
        load_bundle(other, tiny_network)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_safetensors_files_get_the_mode_of_the_json_beside_them(tiny_network, tmp_path, umask, mode):
    # safetensors' own save_file makes its files private (0600): on a shared project folder
    # nobody else could read the bundle whose bundle.json they can read
    previous = os.umask(umask)
    try:
        path = save_bundle(tmp_path / "b", _model(tiny_network), META, _activity(tiny_network))
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.iterdir()}
    assert modes == dict.fromkeys(BUNDLE_FILES, mode)


@pytest.mark.parametrize(
    "field, value, expected",
    [
        (
            "architecture.hidden",
            "lots",
            r"architecture\.hidden: Input should be a valid integer.*'lots'.*from 1 to 4096",
        ),
        ("architecture.hidden", -4, r"architecture\.hidden: Input should be greater than or equal to 1 \(got -4\)"),
        ("architecture.hidden", 10**12, r"architecture\.hidden: Input should be less than or equal to 4096"),
        ("training", "fast", r"training: Input should be a valid dictionary \(got 'fast'\)"),
        ("training.legs", [{"wall_time_s": "soon"}], r"training\.legs #1\.wall_time_s: .*valid number.*'soon'"),
        ("dataset", "data/datasets/x.zarr", r"dataset: Input should be a valid dictionary"),
        ("groundtruth", None, r"groundtruth: Input should be a valid dictionary \(got None\); expected a mapping"),
        ("sigma", "high", r"sigma: Input should be a valid number"),
    ],
)
def test_a_bad_bundle_json_field_is_refused_before_the_model_is_built(
    tiny_network, tmp_path, monkeypatch, field, value, expected
):
    path = save_bundle(tmp_path / "b", _model(tiny_network), META, _activity(tiny_network))
    meta = json.loads((path / "bundle.json").read_text())
    *parents, key = field.split(".")
    target = meta
    for parent in parents:
        target = target[parent]
    target[key] = value
    (path / "bundle.json").write_text(json.dumps(meta))

    def allocate(*args, **kwargs):
        raise AssertionError("the model was built from a bundle.json that should have been refused")

    monkeypatch.setattr(FlyVisGNN, "from_network", allocate)
    with pytest.raises(FlygnnError, match=rf"{path}/bundle\.json, {expected}") as refused:
        load_bundle(path, tiny_network)
    assert "\n" not in str(refused.value)


def test_a_bundle_json_written_by_hand_with_numbers_as_strings_is_read(tiny_network, tmp_path):
    path = save_bundle(tmp_path / "b", _model(tiny_network), META, _activity(tiny_network))
    meta = json.loads((path / "bundle.json").read_text())
    meta["sigma"] = "5e-1"
    (path / "bundle.json").write_text(json.dumps(meta))
    assert load_bundle(path, tiny_network).sigma == 0.5


def test_activity_shapes_are_checked(tiny_network, tmp_path):
    activity = _activity(tiny_network)
    activity["voltage_std"] = activity["voltage_std"][:10]
    with pytest.raises(FlygnnError, match=r"'voltage_std' has shape \(10,\), expected \(N,\) with N = 443"):
        save_bundle(tmp_path / "b", _model(tiny_network), META, activity)


ROOT = Path(__file__).resolve().parents[1]
# the names users, the Snakefile and committed bundles rely on: a rename must be deliberate
FILE_NAMES = {
    "MODEL_FILE": "model.safetensors",
    "META_FILE": "bundle.json",
    "ACTIVITY_FILE": "activity.safetensors",
    "STATE_FOLDER": "training-state",
    "HISTORY_FILE": "training-history.csv",
    "LOSS_FIGURE_STEM": "training-loss",
    "LOSS_FIGURE": "training-loss.png",
}


def test_the_bundle_file_names_are_the_published_ones():
    assert {name: getattr(bundle_module, name) for name in FILE_NAMES} == FILE_NAMES
    assert BUNDLE_FILES == ("model.safetensors", "bundle.json", "activity.safetensors")


def spelled_file_names(path: Path, text: str) -> list[str]:
    """ "path:line: 'text'" for each string constant that is a bundle file name, or ends a path with one
    (f"{folder}/bundle.json"). Prose that mentions a file (a docstring, a help text) is not a path."""
    names = set(FILE_NAMES.values())
    return [
        f"{path}:{node.lineno}: {node.value!r}"
        for node in sorted(ast.walk(ast.parse(text)), key=lambda node: getattr(node, "lineno", 0))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (node.value in names or any(node.value.endswith("/" + name) for name in names))
    ]


def test_the_scan_finds_a_spelled_file_name():
    source = 'p = folder / "bundle.json"\nq = f"{folder}/training-state"\n"""A ``bundle.json`` in prose."""\n'
    assert spelled_file_names(Path("x.py"), source) == ["x.py:1: 'bundle.json'", "x.py:2: '/training-state'"]


def test_every_bundle_file_name_is_spelled_only_in_bundle_py():
    """The package and the Snakefile name a bundle's files by bundle.py's constants (the Snakefile imports them)."""
    found = []
    for path in sorted((ROOT / "src" / "flygnn").rglob("*.py")):
        if path.name != "bundle.py" or path.parent.name != "flygnn":
            found += spelled_file_names(path.relative_to(ROOT), path.read_text())
    snakefile = (ROOT / "Snakefile").read_text()
    pattern = "|".join(re.escape(name) for name in FILE_NAMES.values())
    found += [f"Snakefile: {m.group(0)}" for m in re.finditer(rf"[\"'/]({pattern})[\"']", snakefile)]
    assert found == [], "import the names from flygnn.bundle:\n" + "\n".join(found)
