"""The papermill runner: layout, merged metrics, manifest, skip/force, failures, bad input."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from project_fixtures import EXTRA_METRIC, analysed_copy, make_project, write_bundle

from flygnn.bundle import bundle_fingerprint
from flygnn.conditions import Condition, load_conditions
from flygnn.errors import FlygnnError
from flygnn.notebook.parameters import NotebookParameters
from flygnn.sections import SECTIONS, book_figure_stems, figure_families
from flygnn.stages.analysis_inputs import (
    check_flyvis_model,
    check_kernel,
    merge_metrics,
    read_bundle_meta,
    validate_metrics_fragment,
)
from flygnn.stages.analyze import AnalysisRunner
from flygnn.stages.report import report_run

QUIET: dict = {}


def tree_digest(folder: Path, exclude: str = "failed") -> dict[str, str]:
    """Content hash of every file under ``folder`` (except the failure record)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and exclude not in p.relative_to(folder).parts
    }


def set_bundle_field(layout, condition: str, **fields) -> None:
    path = layout.bundle_dir(condition) / "bundle.json"
    meta = json.loads(path.read_text())
    meta.update(fields)
    path.write_text(json.dumps(meta))


def test_runner_writes_the_results_layout(tmp_path):
    layout = analysed_copy(tmp_path)
    result = layout.result_dir("sigma-0p5")
    for section in SECTIONS:
        executed = nbformat.read(result / "notebooks" / f"{section.name}.ipynb", as_version=4)
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1, "papermill injects the parameters exactly once"
        assert 'output_dir = "."' in injected[0].source
        assert 'bundle = "../../data/bundles/sigma-0p5"' in injected[0].source
        assert "sigma = 0.5" in injected[0].source
    for family in figure_families():
        assert (result / "figures" / f"{family.name}.png").is_file()
    # the cache is shared by the sections of one run: every section appended to it, in order
    assert (result / "cache" / "sections.txt").read_text().split() == [s.name for s in SECTIONS]
    assert not list(layout.results.glob(".*.tmp")), "no staging folder is left behind"
    assert not list(layout.results.glob(".*.old")), "nor the previous results"
    assert not list((result / "notebooks").glob(".*")), "no temporary notebook is left behind"


def test_published_results_name_no_path_of_this_machine(tmp_path):
    # the executed notebooks and manifests are published with the book: papermill's absolute
    # input/output paths (the output one a staging folder) are recorded relative to the project
    layout = analysed_copy(tmp_path)
    result = layout.result_dir("sigma-0p5")
    machine = {str(layout.root), str(Path(sys.executable).parent)}
    for path in [result / "manifest.json", *(result / "notebooks").glob("*.ipynb")]:
        text = path.read_text()
        assert not [m for m in machine if m in text], f"{path.name} names a folder of this machine"
    executed = nbformat.read(result / "notebooks" / "spectral.ipynb", as_version=4)
    assert executed.metadata.papermill.input_path == "analysis/spectral.ipynb"
    assert executed.metadata.papermill.output_path == "results/sigma-0p5/notebooks/spectral.ipynb"


def test_metrics_json_merges_the_section_fragments(tmp_path):
    layout = analysed_copy(tmp_path)
    document = json.loads((layout.result_dir("sigma-0p5") / "metrics.json").read_text())
    assert document["format"] == "flygnn-metrics/1"
    assert document["condition"] == "sigma-0p5" and document["sigma"] == 0.5
    metrics = document["metrics"]
    # known answers: the stand-ins write test_quality (0.91 for the second condition)
    assert metrics["W_corrected_R2"] == {
        "value": 0.91,
        "definition": "stand-in W_corrected_R2",
        "section": "connectivity",
    }
    assert metrics["clustering_accuracy"]["section"] == "embeddings"
    assert metrics[EXTRA_METRIC["spectral"]]["value"] == pytest.approx(0.5 + 0.91)
    assert len(metrics) == 5 + len(SECTIONS)
    assert document["inputs"]["bundle"]["sha256"] == bundle_fingerprint(layout.bundle_dir("sigma-0p5"))


def test_manifest_records_status_parameters_inputs_and_timings(tmp_path):
    layout = analysed_copy(tmp_path)
    manifest = json.loads((layout.result_dir("sigma-0") / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert (
        manifest["parameters"]
        == NotebookParameters(
            "sigma-0",
            0.0,
            "../../data/bundles/sigma-0",
            ".",
            synthetic_groundtruth=True,  # taken from the bundle's ground truth
        ).as_dict()
    )
    assert manifest["inputs"]["bundle"] == {
        "path": "data/bundles/sigma-0",
        "sha256": bundle_fingerprint(layout.bundle_dir("sigma-0")),
    }
    assert set(manifest["inputs"]["notebooks"]) == {s.name for s in SECTIONS}
    assert [n["section"] for n in manifest["notebooks"]] == [s.name for s in SECTIONS]
    assert all(n["status"] == "ok" and n["seconds"] > 0 for n in manifest["notebooks"])
    # the interpreter by name and version: no path of this machine's environment in a published file
    assert manifest["kernel"]["python"] == f"{platform.python_implementation()} {platform.python_version()}"
    assert "/" not in json.dumps(manifest["kernel"]) and ".venv" not in json.dumps(manifest)
    assert manifest["versions"]["flygnn"]
    assert manifest["wall_time_s"] >= sum(n["seconds"] for n in manifest["notebooks"]) * 0.99


def test_unchanged_condition_is_skipped_and_force_is_not(tmp_path):
    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    before = tree_digest(layout.results, exclude=".locks")
    runs = AnalysisRunner(layout, **QUIET).run(conditions)
    assert [r.status for r in runs] == ["skipped", "skipped"]
    assert tree_digest(layout.results, exclude=".locks") == before, "a skipped condition is not touched"
    # editing a notebook template makes every condition out of date
    notebook = layout.notebooks / "spectral.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("edited"))
    nbformat.write(nb, notebook)
    runner = AnalysisRunner(layout, **QUIET)
    assert not runner.is_up_to_date(
        conditions[0],
        runner.inputs(
            json.loads((layout.bundle_dir("sigma-0") / "bundle.json").read_text()),
            layout.bundle_dir("sigma-0"),
            runner.templates(),
        ),
        json.loads((layout.result_dir("sigma-0") / "manifest.json").read_text())["parameters"],
    )


def test_an_edit_of_the_library_the_notebooks_import_makes_the_results_stale(tmp_path, monkeypatch):
    import flygnn.stages.analyze as analyze

    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    assert all(plan.current for plan in AnalysisRunner(layout, **QUIET).plan(conditions))
    # what an edit of flygnn.figures.style (imported by every figure module) does to the digest
    monkeypatch.setattr(analyze, "source_digest", lambda names: "edited " + ",".join(names))
    plans = AnalysisRunner(layout, **QUIET).plan(conditions)
    assert not any(plan.current for plan in plans)
    assert all(plan.inputs["code"].startswith("edited ") for plan in plans)


@pytest.mark.slow
def test_forced_run_does_not_copy_a_truncated_cache(tmp_path, caplog):
    from flygnn.notebook.cache import cached_arrays

    layout = analysed_copy(tmp_path)
    cache = layout.result_dir("sigma-0") / "cache"
    for name in ("gauge", "spectral"):
        cached_arrays(cache, name, "k", lambda: {"x": np.arange(100.0)})
    truncated = cache / "spectral-k.npz"
    truncated.write_bytes(truncated.read_bytes()[:100])
    conditions = load_conditions(layout.conditions_file)[:1]
    with caplog.at_level("WARNING", logger="flygnn"):
        runs = AnalysisRunner(layout, **QUIET).run(conditions, force=True)
    assert [r.status for r in runs] == ["ok"], [r.message for r in runs]
    copied = {p.name for p in cache.iterdir()}  # the new run's cache, in the same place
    assert "gauge-k.npz" in copied and "spectral-k.npz" not in copied
    assert any("spectral-k.npz" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_results_missing_a_figure_the_book_shows_are_not_current(tmp_path):
    """Results of an older flygnn (without a figure the book now shows) are analysed again."""
    layout = analysed_copy(tmp_path)
    conditions = load_conditions(layout.conditions_file)
    shown = layout.result_dir("sigma-0") / "figures" / f"{book_figure_stems(SECTIONS[-1].figures[-1])[0]}.png"
    shown.unlink()
    runs = AnalysisRunner(layout, **QUIET).run(conditions)
    assert [r.status for r in runs] == ["ok", "skipped"]
    assert shown.is_file()


def test_failing_notebook_stops_its_condition_and_keeps_previous_results(tmp_path):
    layout = analysed_copy(tmp_path)
    set_bundle_field(layout, "sigma-0", test_fail_section="embeddings")
    before = tree_digest(layout.result_dir("sigma-0"))
    [run] = AnalysisRunner(layout, **QUIET).run([Condition("sigma-0", 0.0, "σ = 0")])
    assert run.status == "failed"
    # the message names the condition, the notebook, the cell and the error
    assert "condition sigma-0" in run.message
    assert "analysis/embeddings.ipynb failed in cell" in run.message
    assert "RuntimeError: stand-in failure in embeddings" in run.message
    assert "results/sigma-0/failed/embeddings.ipynb" in run.message
    assert "left untouched" in run.message
    assert tree_digest(layout.result_dir("sigma-0")) == before, "previous good results are untouched"
    failed = layout.result_dir("sigma-0") / "failed"
    record = json.loads((failed / "manifest.json").read_text())
    assert record["status"] == "failed" and record["error"]["section"] == "embeddings"
    assert [n["status"] for n in record["notebooks"]] == ["ok", "failed"], "stopped after the failing section"
    executed = nbformat.read(failed / "embeddings.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells for o in c.get("outputs", []))
    assert not list(layout.results.glob(".*.tmp")), "the staging folder was removed"


def test_a_dead_kernel_is_reported_with_its_last_words_and_nothing_on_the_terminal(tmp_path, capfd):
    layout = analysed_copy(tmp_path)
    set_bundle_field(layout, "sigma-0", test_die_section="embeddings")
    with report_run(layout) as log:
        [run] = AnalysisRunner(layout, **QUIET).run([Condition("sigma-0", 0.0, "σ = 0")])
    assert run.status == "failed"
    assert "analysis/embeddings.ipynb failed while executing: DeadKernelError" in run.message
    assert "the kernel's last words:\n    stand-in kernel dies in embeddings" in run.message
    assert "stand-in kernel dies" in log.read_text(), "the run's log keeps all the kernel printed"
    record = json.loads((layout.result_dir("sigma-0") / "failed" / "manifest.json").read_text())
    assert "stand-in kernel dies in embeddings" in record["notebooks"][-1]["kernel_output"]
    assert "stand-in kernel dies" not in capfd.readouterr().err
    assert not list(layout.results.rglob("*.kernel.log")), "the kernel's log is not left among the results"


def test_notebook_that_saves_no_figure_fails_its_condition(tmp_path):
    layout = make_project(tmp_path, conditions=[("sigma-0", 0.0)])
    set_bundle_field(layout, "sigma-0", test_skip_figures=["weights-corrected"])
    [run] = AnalysisRunner(layout, **QUIET).run(load_conditions(layout.conditions_file))
    assert run.status == "failed"
    assert "did not save ['figures/weights-corrected.png']" in run.message
    assert not (layout.result_dir("sigma-0") / "metrics.json").exists()


@pytest.mark.slow
def test_condition_without_bundle_is_reported_and_the_others_still_run(tmp_path):
    layout = analysed_copy(tmp_path)
    for path in layout.bundle_dir("sigma-0").iterdir():
        path.unlink()
    layout.bundle_dir("sigma-0").rmdir()
    set_bundle_field(layout, "sigma-0p5", test_quality=0.5)
    runs = AnalysisRunner(layout, **QUIET).run(load_conditions(layout.conditions_file))
    assert [r.status for r in runs] == ["failed", "ok"]
    assert "condition sigma-0: no checkpoint bundle at data/bundles/sigma-0/" in runs[0].message
    metrics = json.loads((layout.result_dir("sigma-0p5") / "metrics.json").read_text())["metrics"]
    assert metrics["tau_R2"]["value"] == 0.5, "the changed bundle was analysed again"
    cached = (layout.result_dir("sigma-0p5") / "cache" / "sections.txt").read_text().split()
    assert cached == [s.name for s in SECTIONS] * 2, "the previous run's cache is carried over"


def test_cli_analyze_reports_failures_with_exit_status_2(tmp_path, monkeypatch, capsys):
    from flygnn.cli import main

    layout = make_project(tmp_path, conditions=[("sigma-0", 0.0)], bundles=False)
    monkeypatch.chdir(layout.root / "chapters")  # any folder inside the project
    assert main(["analyze"]) == 2
    err = capsys.readouterr().err
    assert "analysis failed for 1 of 1 condition(s)" in err and "no checkpoint bundle at data/bundles/sigma-0/" in err


# --- input checks without running notebooks ---------------------------------------------


def test_bundle_checks_name_the_problem(tmp_path):
    layout = make_project(tmp_path, conditions=[("sigma-0", 0.0)])
    condition = Condition("sigma-0", 0.0, "σ = 0")
    assert read_bundle_meta(condition, layout.bundle_dir("sigma-0"))["sigma"] == 0.0
    with pytest.raises(FlygnnError, match="was trained at σ = 0"):
        read_bundle_meta(Condition("sigma-0", 0.05, "x"), layout.bundle_dir("sigma-0"))
    (layout.bundle_dir("sigma-0") / "bundle.json").write_text("{not json")
    with pytest.raises(FlygnnError, match="bundle.json is not valid JSON"):
        read_bundle_meta(condition, layout.bundle_dir("sigma-0"))
    (layout.bundle_dir("sigma-0") / "activity.safetensors").unlink()
    with pytest.raises(FlygnnError, match=r"incomplete: missing \['activity.safetensors'\]"):
        read_bundle_meta(condition, layout.bundle_dir("sigma-0"))


def test_bundle_fingerprint_follows_content_not_time(tmp_path):
    layout = make_project(tmp_path, conditions=[("sigma-0", 0.0)])
    folder = layout.bundle_dir("sigma-0")
    first = bundle_fingerprint(folder)
    model = folder / "model.safetensors"
    model.write_bytes(model.read_bytes())
    assert bundle_fingerprint(folder) == first
    model.write_bytes(model.read_bytes() + b"!")
    assert bundle_fingerprint(folder) != first


def test_missing_notebook_template_is_named(tmp_path):
    layout = make_project(tmp_path, conditions=[("sigma-0", 0.0)])
    (layout.notebooks / "spectral.ipynb").unlink()
    with pytest.raises(FlygnnError, match=r"analysis notebook\(s\) \['analysis/spectral.ipynb'\] not found"):
        AnalysisRunner(layout, **QUIET).run(load_conditions(layout.conditions_file))


def test_metrics_fragments_are_validated(tmp_path):
    path = tmp_path / "connectivity.json"
    path.write_text(json.dumps({"a": {"value": 1.5, "definition": "d"}, "b": {"value": None, "definition": "d"}}))
    assert validate_metrics_fragment(path, "connectivity")["b"]["value"] is None
    for bad, message in [
        ({"a": {"value": 1.0}}, "needs 'value' and 'definition'"),
        ({"a": {"value": "high", "definition": "d"}}, "must be a number or null"),
        ([1, 2], "must map metric names"),
    ]:
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=message):
            validate_metrics_fragment(path, "connectivity")
    path.write_text('{"a": {"value": NaN, "definition": "d"}}')
    with pytest.raises(ValueError, match="write null"):
        validate_metrics_fragment(path, "connectivity")


def test_a_metric_written_by_two_sections_is_an_error(tmp_path):
    for name in ("connectivity", "embeddings"):
        (tmp_path / f"{name}.json").write_text(json.dumps({"shared": {"value": 1.0, "definition": "d"}}))
    with pytest.raises(ValueError, match="written by both the connectivity and the embeddings notebook"):
        merge_metrics(tmp_path, SECTIONS)


def test_kernel_must_run_this_interpreter(tmp_path, monkeypatch):
    assert check_kernel("python3") == "python3"
    spec_dir = tmp_path / "kernels" / "elsewhere"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "other",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    with pytest.raises(FlygnnError, match="runs /usr/bin/python3, not this interpreter"):
        check_kernel("elsewhere")
    with pytest.raises(FlygnnError, match="no Jupyter kernel named 'nonexistent'"):
        check_kernel("nonexistent")


def test_synthetic_groundtruth_follows_the_bundle(tmp_path):
    layout = make_project(tmp_path, conditions=[("sigma-0", 0.0)])
    condition = Condition("sigma-0", 0.0, "σ = 0")
    write_bundle(layout, "sigma-0", 0.0, groundtruth={"source": "/models/flow/0000/000", "synthetic": False})
    meta = read_bundle_meta(condition, layout.bundle_dir("sigma-0"))
    runner = AnalysisRunner(layout, **QUIET)
    assert runner.parameters(condition, meta, layout.result_dir("sigma-0"))["synthetic_groundtruth"] is False
    forced = AnalysisRunner(layout, synthetic_groundtruth=True, **QUIET)
    assert forced.parameters(condition, meta, layout.result_dir("sigma-0"))["synthetic_groundtruth"] is True


@pytest.mark.slow
def test_a_later_success_removes_the_failure_record(tmp_path):
    layout = analysed_copy(tmp_path)
    good = (layout.bundle_dir("sigma-0") / "bundle.json").read_text()
    failed = layout.result_dir("sigma-0") / "failed"
    condition = [Condition("sigma-0", 0.0, "σ = 0")]
    set_bundle_field(layout, "sigma-0", test_fail_section="embeddings")
    assert AnalysisRunner(layout, **QUIET).run(condition)[0].status == "failed"
    assert failed.is_dir()
    # the bundle is back to what the good results were made from: they are current again
    (layout.bundle_dir("sigma-0") / "bundle.json").write_text(good)
    assert AnalysisRunner(layout, **QUIET).run(condition)[0].status == "skipped"
    assert not failed.exists(), "a stale failure record does not stay beside current results"

    set_bundle_field(layout, "sigma-0", test_fail_section="embeddings")
    AnalysisRunner(layout, **QUIET).run(condition)
    set_bundle_field(layout, "sigma-0", test_fail_section=None, test_quality=0.7)
    assert AnalysisRunner(layout, **QUIET).run(condition)[0].status == "ok"
    assert not failed.exists()


def test_missing_ground_truth_names_where_it_looked_and_suggests_no_synthetic_option(monkeypatch):
    import flygnn.groundtruth

    def nothing_found(path=None):
        raise FlygnnError(
            "no pretrained flyvis model found (looked at: $FLYGNN_FLYVIS_MODEL (not set); /x/flow/0000/000). "
            "Run `flyvis download-pretrained`, pass --flyvis-model DIR, or use --synthetic-groundtruth."
        )

    monkeypatch.setattr(flygnn.groundtruth, "find_flyvis_model", nothing_found)
    check_flyvis_model("", [])  # nobody needs it and nobody asked for it
    with pytest.raises(FlygnnError) as failure:
        check_flyvis_model("", ["sigma-0", "sigma-0p5"])
    message = str(failure.value)
    assert "looked at: $FLYGNN_FLYVIS_MODEL (not set); /x/flow/0000/000" in message
    assert "The analysis of sigma-0, sigma-0p5 compares" in message
    assert "--synthetic-groundtruth" not in message
