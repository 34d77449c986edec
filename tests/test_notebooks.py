"""Every section notebook executes under papermill on a smoke bundle and writes its outputs.

The smoke bundle is built once per session by the real pipeline: a smoke dataset of
the extent-1 network simulated with the pretrained ground truth, and a smoke
training run (a few hundred iterations). Its recovery is poor; what is tested is
that every notebook runs, saves the figure families of ``flygnn.sections`` and a
metrics file whose entries carry a value and a definition.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from flygnn.errors import FlygnnError
from flygnn.metric_names import RECOVERY_METRICS, UPSTREAM_METRICS
from flygnn.notebook.context import load_context
from flygnn.notebook.parameters import NotebookParameters
from flygnn.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[1]
ANALYSIS = ROOT / "analysis"
CONDITION, SIGMA = "sigma-0p5", 0.5


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", ANALYSIS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, tiny_network, flyvis_model_dir):
    """(dataset path, bundle path) of a smoke condition trained on the extent-1 network."""
    from flygnn.groundtruth import load_ground_truth
    from flygnn.simulate import simulate_dataset
    from flygnn.stages.train import train_condition

    root = tmp_path_factory.mktemp("smoke")
    truth = load_ground_truth(tiny_network, flyvis_model_dir)
    simulate_dataset(
        root / f"{CONDITION}.zarr",
        tiny_network,
        truth,
        SIGMA,
        train_frames=600,
        test_frames=200,
        condition=CONDITION,
        preset_name="smoke",
        progress=False,
    )
    dataset = root / f"{CONDITION}.zarr"
    bundle = train_condition(
        CONDITION,
        "smoke",
        dataset=dataset,
        out=root / "bundles" / CONDITION,
        checkpoint_dir=root / "checkpoints",
        progress=False,
    )
    return dataset, Path(bundle)


def parameters(smoke_run, output_dir: Path) -> NotebookParameters:
    dataset, bundle = smoke_run
    return NotebookParameters(CONDITION, SIGMA, str(bundle), str(output_dir), dataset=str(dataset))


def test_notebooks_match_their_generator():
    generator = _generator()
    for section in SECTIONS:
        path = ANALYSIS / f"{section.name}.ipynb"
        assert path.read_text() == generator.text(section.name), (
            f"{path} is stale: run python analysis/make_notebooks.py"
        )


def test_parameters_cell_is_tagged_and_identical():
    import nbformat

    cells = []
    for section in SECTIONS:
        notebook = nbformat.read(ANALYSIS / f"{section.name}.ipynb", as_version=4)
        tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1
        cells.append(tagged[0].source)
    assert len(set(cells)) == 1
    assigned = [line.split(" = ")[0] for line in cells[0].splitlines()]
    assert tuple(assigned) == NotebookParameters.names()
    namespace: dict = {}
    exec(cells[0], namespace)  # the cell is the parameters' own text: it builds them back
    assert NotebookParameters(*(namespace[name] for name in NotebookParameters.names())).cell() == cells[0]


def test_a_notebook_saves_exactly_the_families_of_its_section():
    generator = _generator()
    cells = generator.CELLS["biophysics"]
    generator.CELLS["biophysics"] = [(kind, source.replace('"v-rest"', '"v_rest"')) for kind, source in cells]
    try:
        with pytest.raises(ValueError, match=r"biophysics notebook saves \['tau', 'v_rest'\].*\['tau', 'v-rest'\]"):
            generator.text("biophysics")
    finally:
        generator.CELLS["biophysics"] = cells


def test_every_notebook_runs_under_papermill(smoke_run, tmp_path):
    import papermill

    output_dir = tmp_path / "results" / CONDITION
    (output_dir / "notebooks").mkdir(parents=True)
    for section in SECTIONS:
        papermill.execute_notebook(
            str(ANALYSIS / f"{section.name}.ipynb"),
            str(output_dir / "notebooks" / f"{section.name}.ipynb"),
            parameters=parameters(smoke_run, output_dir).as_dict(),
            kernel_name="python3",
            cwd=str(ROOT),
            progress_bar=False,
        )
        for family in section.figures:
            for suffix in ("png", "pdf"):
                path = output_dir / "figures" / f"{family.name}.{suffix}"
                assert path.is_file() and path.stat().st_size > 1000, path
            # a figure with the type legend is also saved without it, for the book's σ-grid
            panel = output_dir / "figures" / f"{family.name}-panel.png"
            assert panel.is_file() == family.type_legend, family.name
            if family.type_legend:
                assert _png_height(panel) < _png_height(output_dir / "figures" / f"{family.name}.png"), family.name
        metrics = json.loads((output_dir / "metrics" / f"{section.name}.json").read_text())
        assert metrics, section.name
        # the executed notebooks are published: no library chatter about this kernel's widgets
        executed = json.loads((output_dir / "notebooks" / f"{section.name}.ipynb").read_text())
        streams = ["".join(out.get("text", "")) for cell in executed["cells"] for out in cell.get("outputs", [])]
        assert not [text for text in streams if "IProgress" in text], section.name
        for name, entry in metrics.items():
            assert set(entry) >= {"value", "definition", "inputs"}, name
    assert (output_dir / "figures" / "type-legend.png").is_file()
    merged = {}
    for section in SECTIONS:
        merged.update(json.loads((output_dir / "metrics" / f"{section.name}.json").read_text()))
    for upstream in UPSTREAM_METRICS:
        assert upstream in merged
        assert merged[upstream]["value"] is None or np.isfinite(merged[upstream]["value"])
    # shared quantities were computed once and cached
    cached = sorted(p.name.split("-")[0] for p in (output_dir / "cache").glob("*.npz"))
    assert cached == ["clustering", "clustering_controls", "dynamics", "gauge", "spectral"]


def test_recovery_in_the_bundle_matches_the_analysis(smoke_run, tmp_path):
    """The trainer's recovery and the analysis' metrics agree exactly (one definition, same code)."""
    from flygnn.analysis import BiophysicalParameters, biophysics_metrics, weight_metrics

    ctx = load_context(parameters(smoke_run, tmp_path))
    gauge = ctx.gauge()
    recorded = ctx.bundle.meta["recovery"]
    metrics = weight_metrics(ctx.ground_truth.W, gauge)
    bio = BiophysicalParameters().fit(gauge)
    metrics |= biophysics_metrics(ctx.ground_truth.tau, ctx.ground_truth.v_rest, bio, gauge.zero_range_)
    for name in RECOVERY_METRICS:
        assert metrics[name].value == pytest.approx(recorded[name], rel=1e-9, abs=1e-12), name


def test_notebook_warnings_name_no_file_of_this_machine(smoke_run, tmp_path, monkeypatch):
    # executed notebooks are published with the book; Python's warnings start with the absolute
    # path of the module that warned
    import warnings

    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)
    load_context(parameters(smoke_run, tmp_path))
    shown = warnings.formatwarning(
        "34 neuron(s) never changed voltage", UserWarning, "/opt/venv/flygnn/analysis/metrics.py", 467
    )
    assert shown == "UserWarning: 34 neuron(s) never changed voltage\n"


def test_condition_without_a_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(FlygnnError, match="has no checkpoint bundle.*flygnn train --condition sigma-0p5"):
        load_context(NotebookParameters(CONDITION, SIGMA, str(tmp_path / "missing"), str(tmp_path / "out")))


def test_bundle_for_another_network_or_sigma_is_refused(smoke_run, tmp_path):
    _, bundle = smoke_run
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    meta = json.loads((copy / "bundle.json").read_text())
    meta["architecture"]["network_fingerprint"] = "0123456789abcdef"
    (copy / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(FlygnnError, match="another network"):
        load_context(NotebookParameters(CONDITION, SIGMA, str(copy), str(tmp_path / "out")))
    with pytest.raises(FlygnnError, match="σ = 0.5.*σ = 0.05"):
        load_context(NotebookParameters(CONDITION, 0.05, str(bundle), str(tmp_path / "out")))


def test_ground_truth_without_dataset_is_cached_and_checked(smoke_run, tmp_path, flyvis_model_dir):
    _, bundle = smoke_run
    ctx = load_context(
        NotebookParameters(CONDITION, SIGMA, str(bundle), str(tmp_path), flyvis_model=str(flyvis_model_dir))
    )
    assert list((tmp_path / "cache").glob("groundtruth-*.npz"))
    assert ctx.ground_truth.fingerprint() == ctx.bundle.meta["groundtruth"]["fingerprint"]
    with pytest.raises(FlygnnError, match="trained against ground truth"):
        load_context(
            NotebookParameters(CONDITION, SIGMA, str(bundle), str(tmp_path / "other"), synthetic_groundtruth=True)
        )


def _png_height(path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        return image.height
