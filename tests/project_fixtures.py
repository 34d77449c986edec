"""The stand-in flygnn project the CLI, report and workflow tests share.

``make_project`` builds a tiny flygnn project in a temporary folder: the real book
files (``_quarto.yml``, ``index.qmd``, ``chapters/``, ``data/published.yaml``,
``Snakefile``), a conditions file, fake bundles and one stand-in notebook per
analysis section. A stand-in notebook takes the real parameters, writes a 1×1 PNG
per figure family and a metrics fragment whose values come from the bundle
(``test_quality``), and raises (``test_fail_section``) or ends its kernel
(``test_die_section``) when the bundle asks it to, so tests can drive every path of the runner in seconds without a trained model.
``analysed_copy`` is such a project already analysed; ``write_fake_history`` and
``write_fake_per_type`` add a bundle's training history and a condition's per-type table.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import numpy as np
import yaml

from flygnn.analysis.per_type import PER_TYPE_COLUMNS, write_per_type
from flygnn.bundle import ACTIVITY_FILE, HISTORY_FILE, META_FILE, MODEL_FILE
from flygnn.project import ProjectLayout
from flygnn.sections import SECTIONS, book_figure_stems
from flygnn.train.history import write_history

ROOT = Path(__file__).resolve().parents[1]
BOOK_FILES = ["_quarto.yml", "index.qmd", "data/published.yaml", "Snakefile"]
PNG_1x1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
# where the stand-ins put the upstream metrics (the real notebooks decide this themselves)
UPSTREAM_METRIC_SECTION = {
    "W_corrected_R2": "connectivity",
    "W_corrected_slope": "connectivity",
    "tau_R2": "biophysics",
    "V_rest_R2": "biophysics",
    "clustering_accuracy": "embeddings",
}
# and one more metric of each section, so every section has a fragment and a row beyond the summary table
EXTRA_METRIC = {
    "connectivity": "W_raw_R2",
    "embeddings": "clustering_purity",
    "functions": "g_phi_R2_median",
    "biophysics": "tau_R2_per_type",
    "spectral": "spectral_left_alignment",
    "validation": "heldout_dvdt_R2",
}


def standin_source(section) -> str:
    families = {f.name: list(book_figure_stems(f)) for f in section.figures}
    upstream = [m for m, s in UPSTREAM_METRIC_SECTION.items() if s == section.name]
    return f"""
import base64, json, pathlib
out = pathlib.Path(output_dir)
meta = json.loads((pathlib.Path(bundle) / {META_FILE!r}).read_text())
if meta.get("test_fail_section") == {section.name!r}:
    raise RuntimeError("stand-in failure in {section.name}")
if meta.get("test_die_section") == {section.name!r}:
    # a kernel that dies (a crash in a C library, the out-of-memory killer) after saying why
    import os
    os.write(2, b"stand-in kernel dies in {section.name}\\n")
    os._exit(1)
if meta.get("test_hold_section") == {section.name!r}:
    # a long notebook: say which process runs it, then wait while the test holds it
    import os, time
    hold = pathlib.Path(meta["test_hold_file"])
    hold.with_suffix(".pid").write_text(str(os.getpid()))
    until = time.monotonic() + 60
    while hold.exists() and time.monotonic() < until:
        time.sleep(0.1)
for family, stems in {families!r}.items():
    if family in meta.get("test_skip_figures", []):
        continue
    for stem in stems:
        (out / "figures" / f"{{stem}}.png").write_bytes(base64.b64decode({PNG_1x1!r}))
quality = meta["test_quality"]
metrics = {{name: {{"value": quality, "definition": "stand-in " + name}} for name in {upstream!r}}}
metrics[{EXTRA_METRIC[section.name]!r}] = {{"value": round(sigma + quality, 6), "definition": "stand-in extra"}}
(out / "metrics" / "{section.name}.json").write_text(json.dumps(metrics))
with open(out / "cache" / "sections.txt", "a") as log:
    log.write("{section.name}\\n")
"""


def write_standin_notebooks(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for section in SECTIONS:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        params = nbformat.v4.new_code_cell(
            'condition = ""\nsigma = 0.0\nbundle = ""\ndataset = ""\noutput_dir = ""\n'
            'flyvis_model = ""\nsynthetic_groundtruth = False'
        )
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(standin_source(section))]
        nbformat.write(nb, folder / f"{section.name}.ipynb")


def write_bundle(layout: ProjectLayout, name: str, sigma: float, quality: float = 0.9, **extra) -> Path:
    folder = layout.bundle_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": "flygnn-bundle/1",
        "condition": name,
        "sigma": sigma,
        "training": {"preset": "smoke", "iterations": 10, "device": "cpu"},
        "groundtruth": {"source": "synthetic (seed=0)", "synthetic": True, "fingerprint": "gt0"},
        "dataset": {"path": f"data/datasets/{name}.zarr", "fingerprint": "ds0"},
        "versions": {"flygnn": "0.1.0", "torch": "2.x"},
        "architecture": {"n_neurons": 443, "n_edges": 8174, "embedding_dim": 2, "hidden": 32, "layers": 3, "extent": 1},
        "test_quality": quality,
        **extra,
    }
    (folder / META_FILE).write_text(json.dumps(meta))
    (folder / MODEL_FILE).write_bytes(b"model-" + name.encode())
    (folder / ACTIVITY_FILE).write_bytes(b"activity-" + name.encode())
    return folder


def make_project(
    root: Path, conditions: list[tuple[str, float]] = (("sigma-0", 0.0), ("sigma-0p5", 0.5)), bundles: bool = True
) -> ProjectLayout:
    """A stand-in project under ``root`` (see the module docstring)."""
    for name in BOOK_FILES:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, target)
    shutil.copytree(ROOT / "chapters", root / "chapters", ignore=shutil.ignore_patterns("_generated"))
    entries = [{"name": n, "sigma": s, "label": f"σ = {s:g}"} for n, s in conditions]
    (root / "data" / "conditions.yaml").write_text(yaml.safe_dump({"conditions": entries}, allow_unicode=True))
    layout = ProjectLayout.at(root)
    write_standin_notebooks(layout.notebooks)
    if bundles:
        for number, (name, sigma) in enumerate(conditions):
            write_bundle(layout, name, sigma, quality=round(0.9 + 0.01 * number, 4))
    return layout


_TEMPLATE: dict[str, Path] = {}


def analysed_copy(destination: Path) -> ProjectLayout:
    """A stand-in project whose two conditions were analysed, copied to ``destination``.

    The analysis (10 stand-in notebooks through the real runner) runs once per test
    session; results are relocatable because the runner writes relative paths.
    """
    if "root" not in _TEMPLATE:
        import atexit
        import tempfile

        from flygnn.conditions import load_conditions
        from flygnn.stages.analyze import AnalysisRunner

        root = Path(tempfile.mkdtemp(prefix="flygnn-report-template-"))
        atexit.register(shutil.rmtree, root, True)
        layout = make_project(root)
        runs = AnalysisRunner(layout).run(load_conditions(layout.conditions_file))
        assert [r.status for r in runs] == ["ok", "ok"], [r.message for r in runs]
        _TEMPLATE["root"] = root
    shutil.copytree(_TEMPLATE["root"], destination, dirs_exist_ok=True)
    return ProjectLayout.at(destination)


def write_fake_history(bundle_dir, scored=True):
    """A training history of 20 log rows in ``bundle_dir``, recovery scored every 500 iterations."""
    rows = []
    for number, iteration in enumerate(range(100, 2100, 100)):
        row = {
            "iteration": iteration,
            "wall_time_s": 30.0 * (number + 1),
            "prediction": 100.0 / (number + 1),
            "loss": 100.0 / (number + 1),
            "iterations_per_s": 3.0,
        }
        if scored and iteration % 500 == 0:
            row.update(W_corrected_R2=0.5 + iteration / 5000, W_corrected_slope=0.9, tau_R2=0.7, V_rest_R2=0.1)
        rows.append(row)
    write_history(rows, bundle_dir / HISTORY_FILE)
    return rows


def write_fake_per_type(result_dir, zero_range=(0, 0)):
    """A per-type table of two types in ``result_dir``; ``zero_range``: each type's neurons without range."""
    columns = {
        "type": np.array(["A", "B"], dtype=object),
        "neurons": np.array([3, 2]),
        "incoming_edges": np.array([4, 5]),
        "no_input_neurons": np.array(zero_range),
        "zero_range_neurons": np.array(zero_range),
        "zero_range_no_input_neurons": np.array(zero_range),
        "unidentifiable_neurons": np.array([3, 1]),
        "tau_true": np.array([0.02, 0.2]),
        "tau_recovered": np.array([0.021, 0.18]),
        "V_rest_true": np.array([0.5, -0.25]),
        "V_rest_recovered": np.array([0.4, -0.1]),
        "W_incoming_R2": np.array([0.93, np.nan]),
        "W_incoming_edges_scored": np.array([4, 5]),
        "W_residual_share": np.array([0.7, 0.3]),
        "tau_residual_share": np.array([0.15, 0.85]),
        "V_rest_residual_share": np.array([0.4, 0.6]),
    }
    assert list(columns) == list(PER_TYPE_COLUMNS)
    write_per_type(result_dir / "per-type.csv", columns)
