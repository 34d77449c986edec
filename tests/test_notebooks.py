"""Every section notebook is generated from its script and executes under papermill on a smoke bundle.

The committed notebooks ``analysis/<section>.ipynb`` must be what
:mod:`flygnn.notebook.sync` generates from the scripts ``analysis/<section>.py``, and
keep the ``parameters`` cell that the runner's values replace.

The smoke bundle is built once per session by the real pipeline: a smoke dataset of
the extent-1 network simulated with the pretrained ground truth, and a smoke
training run (a few hundred iterations). Its recovery is poor; what is tested is
that every notebook runs, saves the figure families of ``flygnn.sections`` and a
metrics file whose entries carry a value and a definition.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from flygnn.errors import FlygnnError
from flygnn.metric_names import RECOVERY_METRICS, UPSTREAM_METRICS
from flygnn.notebook import sync
from flygnn.notebook.context import load_context
from flygnn.notebook.parameters import NotebookParameters
from flygnn.sections import SECTIONS, FigureFamily, Section

# end-to-end: papermill, subprocesses or training (README: the quick loop skips them)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ANALYSIS = ROOT / "analysis"
CONDITION, SIGMA = "sigma-0p5", 0.5
SECTION = {section.name: section for section in SECTIONS}


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


# The smallest notebook source: a title, the parameters cell, one figure (known answers below).
TINY_SECTION = Section("tiny", "Tiny", (FigureFamily("one", "One", "A caption."),))
TINY_PARAMETERS = NotebookParameters("c", 0.5, "b", "o").cell()
TINY = f"""\
# %% [markdown]
# # Title
#
# Text.

# %% tags=["parameters"]
{TINY_PARAMETERS}

# %%
# %matplotlib inline
ctx.save_figure(figure, "one")
"""


def _code_cell(number: int, source: list[str], tags: list[str] | None = None) -> dict:
    metadata = {"tags": tags} if tags else {}
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": f"tiny-{number}",
        "metadata": metadata,
        "outputs": [],
        "source": source,
    }


def test_a_script_becomes_a_notebook_known_answer():
    notebook = json.loads(nbformat.writes(sync.build(TINY, TINY_SECTION, "tiny.py")))
    assert notebook == {
        "cells": [
            {"cell_type": "markdown", "id": "tiny-0", "metadata": {}, "source": ["# Title\n", "\n", "Text."]},
            _code_cell(
                1,
                [line + "\n" for line in TINY_PARAMETERS.splitlines()[:-1]] + ["synthetic_groundtruth = False"],
                ["parameters"],
            ),
            # a commented magic stays a comment: the notebook runs the code ruff checked
            _code_cell(2, ["# %matplotlib inline\n", 'ctx.save_figure(figure, "one")']),
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_sync_writes_the_stale_notebooks_and_only_them(tmp_path):
    script, notebook = tmp_path / "tiny.py", tmp_path / "tiny.ipynb"
    script.write_text(TINY)
    assert sync.sync(tmp_path, [TINY_SECTION], check=True) == [notebook]
    assert not notebook.exists()  # --check writes nothing
    assert sync.sync(tmp_path, [TINY_SECTION]) == [notebook]
    assert notebook.read_text() == sync.notebook_text(script, TINY_SECTION)
    # an up-to-date notebook is left alone: Snakemake compares file times
    os.utime(notebook, ns=(0, 0))
    assert sync.sync(tmp_path, [TINY_SECTION]) == []
    assert notebook.stat().st_mtime_ns == 0
    script.write_text(TINY.replace("Text.", "Other text."))
    assert sync.sync(tmp_path, [TINY_SECTION], check=True) == [notebook]
    assert sync.sync(tmp_path, [TINY_SECTION]) == [notebook]
    assert "Other text." in notebook.read_text()


def test_notebooks_match_their_scripts():
    names = sorted(section.name for section in SECTIONS)
    assert sorted(p.stem for p in ANALYSIS.glob("*.py")) == names
    assert sorted(p.stem for p in ANALYSIS.glob("*.ipynb")) == names
    for section in SECTIONS:
        path = ANALYSIS / f"{section.name}.ipynb"
        assert path.read_text() == sync.notebook_text(ANALYSIS / f"{section.name}.py", section), (
            f"{path} is out of date with its script: run python -m flygnn.notebook.sync"
        )


def test_the_command_checks_then_writes_every_notebook(tmp_path, capsys):
    for script in ANALYSIS.glob("*.py"):
        shutil.copy(script, tmp_path)
    assert sync.main(["--check", "--notebooks", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert f"{tmp_path / 'spectral.ipynb'} is out of date with {tmp_path / 'spectral.py'}" in out
    assert err == "run: python -m flygnn.notebook.sync\n"
    assert sync.main(["--notebooks", str(tmp_path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(SECTIONS)
    assert sync.main(["--check", "--notebooks", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "notebooks up to date\n"
    for section in SECTIONS:  # the same scripts give the same bytes wherever they are
        name = f"{section.name}.ipynb"
        assert (tmp_path / name).read_bytes() == (ANALYSIS / name).read_bytes()
    (tmp_path / "spectral.py").unlink()
    assert sync.main(["--notebooks", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'spectral.py'}: no such file; section 'spectral'"), err
    assert len(err.splitlines()) == 1


def _broken(section: str, old: str, new: str) -> nbformat.NotebookNode:
    script = (ANALYSIS / f"{section}.py").read_text()
    assert old in script
    return sync.build(script.replace(old, new, 1), SECTION[section], f"analysis/{section}.py")


def test_a_notebook_saves_exactly_the_families_of_its_section():
    with pytest.raises(
        FlygnnError, match=r"biophysics\.py: the biophysics notebook saves \['tau', 'v_rest'\].*\['tau', 'v-rest'\]"
    ):
        _broken("biophysics", '"v-rest"', '"v_rest"')
    # a figure drawn but not saved
    with pytest.raises(FlygnnError, match=r"saves \['tau'\] \(ctx.save_figure\), but flygnn.sections lists"):
        _broken(
            "biophysics",
            "ctx.save_figure(\n    parameter_figure(\n        truth.v_rest",
            "print(\n    parameter_figure(\n        truth.v_rest",
        )


def test_the_parameters_cell_must_be_tagged_and_assign_what_the_runner_injects():
    with pytest.raises(
        FlygnnError, match=r'connectivity\.py: 0 cells are tagged "parameters".*# %% tags=\["parameters"\]'
    ):
        _broken("connectivity", '# %% tags=["parameters"]', "# %%")
    with pytest.raises(
        FlygnnError,
        match=r"assigns \['condition', 'sigma', 'bundle', 'output_dir', 'dataset', 'flyvis_model'\], "
        r"but the runner injects \[.*'synthetic_groundtruth'\] \(flygnn.notebook.parameters\)",
    ):
        _broken("connectivity", "synthetic_groundtruth = False\n", "")


def test_a_script_that_is_not_python_is_named_with_its_line():
    script = (ANALYSIS / "spectral.py").read_text()
    line = script.splitlines().index('ctx.write_metrics("spectral", spectral | linearised)') + 1
    with pytest.raises(FlygnnError, match=rf"^analysis/spectral\.py:{line}: '\(' was never closed; fix the code"):
        _broken("spectral", 'ctx.write_metrics("spectral", spectral | linearised)', 'ctx.write_metrics("spectral"')
    # each cell runs on its own: a cell marker inside a statement splits it
    with pytest.raises(
        FlygnnError, match=r"spectral\.py: cell \d+ is not valid Python on its own .*move the # %% marker"
    ):
        _broken("spectral", "spectral = spectral_metrics(spectra)", "spectral = spectral_metrics(\n# %%\nspectra)")


def test_parameters_cell_is_tagged_and_identical():
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


def test_papermill_replaces_every_parameter_the_runner_passes(tmp_path):
    from papermill import inspect_notebook
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    given = NotebookParameters(
        "sigma-0p5", 0.5, "../../b", ".", dataset="d.zarr", flyvis_model="m", synthetic_groundtruth=True
    )
    for section in SECTIONS:
        path = ANALYSIS / f"{section.name}.ipynb"
        assert tuple(inspect_notebook(str(path))) == NotebookParameters.names(), section.name
        notebook = parameterize_notebook(load_notebook_node(str(path)), given.as_dict())  # as papermill runs it
        tags = [cell.metadata.get("tags", []) for cell in notebook.cells]
        first = tags.index(["parameters"])
        assert tags[first + 1] == ["injected-parameters"], section.name
        namespace: dict = {}
        for cell in notebook.cells[first : first + 2]:
            exec(cell.source, namespace)
        assert NotebookParameters(*(namespace[name] for name in NotebookParameters.names())) == given


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
            printed = _printed_text_pt(family, output_dir / "figures" / f"{family.panel}.png")
            assert printed >= LEGIBLE_PT, f"{family.name}: its text prints at {printed:.1f} pt in the PDF's σ-grid"
            # the limits of a σ-grid's shared axes, so that the conditions' figures can be checked to agree
            limits = output_dir / "figures" / f"{family.name}.limits.json"
            assert limits.is_file() == family.shared_axes, family.name
            if family.shared_axes:
                assert all(set(panel) >= {"xlim", "ylim"} for panel in json.loads(limits.read_text()).values())
        metrics = json.loads((output_dir / "metrics" / f"{section.name}.json").read_text())
        assert metrics, section.name
        # the executed notebooks are published: no library chatter about this kernel's widgets
        executed = json.loads((output_dir / "notebooks" / f"{section.name}.ipynb").read_text())
        streams = ["".join(out.get("text", "")) for cell in executed["cells"] for out in cell.get("outputs", [])]
        assert not [text for text in streams if "IProgress" in text], section.name
        # a cell ending with ctx.save_figure shows the figure, not the list of files it wrote
        shown = [
            out["data"].get("text/plain", "")
            for cell in executed["cells"]
            for out in cell.get("outputs", [])
            if "data" in out
        ]
        assert not [text for text in shown if "Path(" in "".join(text)], section.name
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


# The smallest size at which a panel's body text (the style's font size; legends are drawn at 7 of
# its 9 pt, so they print at 5 pt or more, journals' minimum) may print in the PDF's σ-grid of the
# three published conditions.
LEGIBLE_PT = 6.5


def _printed_text_pt(family: FigureFamily, panel: Path) -> float:
    """The size at which the PDF prints a panel's body text in a σ-grid of three such panels."""
    from PIL import Image

    from flygnn.figures.style import RC
    from flygnn.report.chapters import pdf_panel_width_in

    with Image.open(panel) as image:
        drawn_in = image.size[0] / RC["savefig.dpi"]
    return RC["font.size"] * pdf_panel_width_in(family, [panel] * 3) / drawn_in


def _png_height(path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        return image.height
