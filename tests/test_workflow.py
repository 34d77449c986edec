"""``flygnn report`` and the Snakefile: incremental by content, per condition, never training.

What is out of date is decided from content only (docs/staleness.md): the tests change
file times without changing content, and content without changing times."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from project_fixtures import analysed_copy, make_project

from flygnn.cli import main
from flygnn.conditions import load_conditions
from flygnn.project import ProjectLayout
from flygnn.report.chapters import build_chapters
from flygnn.sections import SECTIONS
from flygnn.stages.report import ReportUpdate, book_fingerprint, chapters_fingerprint, format_duration

# end-to-end: papermill, subprocesses or training (README: the quick loop skips them)
pytestmark = pytest.mark.slow

CONDITIONS = ("sigma-0", "sigma-0p5")


def analysed_and_stamped(destination: Path, with_chapters: bool = False) -> ProjectLayout:
    """The analysed stand-in project, its chapters written when ``with_chapters``."""
    layout = analysed_copy(destination)
    if with_chapters:
        build_chapters(layout, load_conditions(layout.conditions_file), log=lambda message: None)
    return layout


def runs_of(layout: ProjectLayout) -> dict[str, str]:
    """When each condition's notebooks were last executed (manifest start time)."""
    runs = {}
    for name in CONDITIONS:
        path = layout.result_dir(name) / "manifest.json"
        runs[name] = json.loads(path.read_text())["started"] + f"/{path.stat().st_mtime_ns}" if path.is_file() else None
    return runs


def generated_state(layout: ProjectLayout) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(layout.generated.iterdir())}


def report(layout: ProjectLayout, monkeypatch, *args: str) -> int:
    monkeypatch.chdir(layout.root)
    return main(["report", "--no-render", *args])


def test_unchanged_rebuild_runs_no_notebook_and_a_changed_bundle_only_its_condition(tmp_path, monkeypatch, capfd):
    layout = analysed_and_stamped(tmp_path)
    before = runs_of(layout)
    assert report(layout, monkeypatch) == 0
    assert runs_of(layout) == before, "results that are up to date are not analysed again"
    assert (layout.results / "book.json").is_file()
    assert "connectivity: ok" not in capfd.readouterr().out
    generated = generated_state(layout)

    # a fresh clone or a `git pull` gives every file a new time: times decide nothing
    for path in [*layout.bundles.rglob("*"), *layout.notebooks.rglob("*")]:
        os.utime(path, (time.time() + 60,) * 2)
    t0 = time.perf_counter()
    assert report(layout, monkeypatch) == 0
    assert time.perf_counter() - t0 < 10, "nothing changed: seconds, not minutes"
    assert runs_of(layout) == before
    assert generated_state(layout) == generated, "unchanged chapters are not rewritten"
    assert "connectivity: ok" not in capfd.readouterr().out

    # a generated part deleted by a build of older code (which recorded the fingerprint of the
    # chapters without it) is written again: the record alone would say "unchanged"
    (layout.generated / "stimulus.qmd").unlink()
    record = json.loads(layout.book_record.read_text())
    conditions = load_conditions(layout.conditions_file)
    layout.book_record.write_text(json.dumps({**record, "inputs": chapters_fingerprint(layout, conditions)}))
    assert report(layout, monkeypatch) == 0
    now = generated_state(layout)
    assert "stimulus.qmd" in now, "the deleted part is written again"
    assert {k: v for k, v in now.items() if k != "stimulus.qmd"} == {
        k: v for k, v in generated.items() if k != "stimulus.qmd"
    }, "the other parts are not rewritten"

    bundle = layout.bundle_dir("sigma-0p5") / "bundle.json"
    meta = json.loads(bundle.read_text())
    meta["test_quality"] = 0.42
    bundle.write_text(json.dumps(meta))
    assert report(layout, monkeypatch) == 0
    out = capfd.readouterr().out
    after = runs_of(layout)
    assert after["sigma-0"] == before["sigma-0"], "the unchanged condition is not analysed again"
    assert after["sigma-0p5"] != before["sigma-0p5"], "the changed bundle is analysed again"
    assert f"[sigma-0p5] 1/{len(SECTIONS)} connectivity: ok" in out and "[sigma-0] " not in out
    table = re.sub(r" +", " ", (layout.generated / "summary-table.qmd").read_text())  # whatever the column widths
    assert "| W corrected R² | 0.9000 | 0.9263 | 0.4200 | 0.9898 |" in table


def test_missing_bundle_fails_the_build_naming_the_condition(tmp_path, monkeypatch, capfd):
    layout = analysed_and_stamped(tmp_path, with_chapters=True)
    generated = generated_state(layout)
    capfd.readouterr()
    for path in layout.bundle_dir("sigma-0").iterdir():
        path.unlink()
    assert report(layout, monkeypatch) == 2
    err = capfd.readouterr().err
    assert "nothing was analysed, the inputs are not ready" in err
    assert "condition sigma-0: bundle data/bundles/sigma-0 is incomplete" in err
    assert "sigma-0p5" not in err
    assert generated_state(layout) == generated, "the generated chapters are left as they were"


def test_failing_analysis_fails_the_build_and_keeps_previous_results(tmp_path, monkeypatch, capfd):
    layout = analysed_and_stamped(tmp_path, with_chapters=True)
    generated = generated_state(layout)
    metrics = (layout.result_dir("sigma-0p5") / "metrics.json").read_bytes()
    bundle = layout.bundle_dir("sigma-0p5") / "bundle.json"
    bundle.write_text(json.dumps({**json.loads(bundle.read_text()), "test_fail_section": "connectivity"}))
    capfd.readouterr()
    assert report(layout, monkeypatch) == 2
    err = capfd.readouterr().err.split("the report was not updated")[1]
    assert "sigma-0p5: notebook analysis/connectivity.ipynb failed in cell" in err
    assert "RuntimeError: stand-in failure in connectivity" in err
    assert (layout.result_dir("sigma-0p5") / "metrics.json").read_bytes() == metrics
    assert (layout.result_dir("sigma-0p5") / "manifest.json").is_file(), "the previous manifest is kept too"
    assert generated_state(layout) == generated


def test_pre_render_step_is_a_no_op_inside_flygnn_report(tmp_path, monkeypatch, capfd):
    layout = make_project(tmp_path)
    monkeypatch.chdir(layout.root)
    monkeypatch.setenv("FLYGNN_REPORT_UPDATED", "1")
    assert main(["report", "--pre-render"]) == 0
    assert "already brought the analyses and chapters up to date" in capfd.readouterr().out
    assert not layout.results.exists(), "nothing was analysed twice"


def test_report_takes_its_paths_from_the_project_in_any_sub_folder(tmp_path, monkeypatch):
    layout = analysed_copy(tmp_path)
    monkeypatch.chdir(layout.chapters)
    assert main(["report", "--chapters-only"]) == 0
    assert layout.book_record.is_file() and (layout.generated / "conditions.qmd").is_file()
    assert not (layout.chapters / "results").exists() and not (layout.chapters / "chapters").exists()


def test_report_no_longer_runs_a_workflow_engine_and_uses_every_core(tmp_path):
    from flygnn.cli import build_parser

    args = build_parser().parse_args(["report"])
    assert args.cores == (os.cpu_count() or 1), "the first build uses the whole machine"


def dry_run(layout: ProjectLayout, *targets: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--cores", "2", *targets],
        cwd=layout.root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_full_pipeline_trains_missing_bundles_on_a_gpu_resource(tmp_path):
    layout = make_project(tmp_path, bundles=False)
    plan = dry_run(layout, "report")
    for rule in ("simulate", "train", "analyze", "chapters"):
        assert f"rule {rule}:" in plan
    assert plan.count("rule train:") == 2, "one training job per condition"
    train = plan.split("rule train:")[1].split("rule ")[0]
    assert "gpu=1" in train
    assert "wildcards: condition=sigma-0" in plan and "data/datasets/cpu/sigma-0p5.zarr" in plan


def snakemake(layout: ProjectLayout, *targets: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    completed = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *targets],
        cwd=layout.root,
        capture_output=True,
        text=True,
        env=env,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


def test_snakemake_decides_by_content_not_by_file_times(tmp_path):
    layout = analysed_and_stamped(tmp_path)
    plan = dry_run(layout, "report")
    assert "rule train:" not in plan and "rule simulate:" not in plan, "existing bundles are never retrained"
    before = runs_of(layout)
    # its first run checks each condition (the analysis finds them current: no notebook runs)
    snakemake(layout, "report")
    assert runs_of(layout) == before
    assert (layout.results / "book.json").is_file()
    assert "Nothing to be done" in snakemake(layout, "--dry-run", "report").stdout

    # new file times, newer than every output, same content (a fresh checkout): still nothing to do
    for path in [*layout.bundles.rglob("*"), *layout.notebooks.rglob("*"), layout.conditions_file]:
        os.utime(path)
    assert "Nothing to be done" in snakemake(layout, "--dry-run", "report").stdout

    # new content at an old time (a `git pull` of a new bundle): that condition only
    bundle = layout.bundle_dir("sigma-0p5") / "bundle.json"
    stat = bundle.stat()
    bundle.write_text(json.dumps({**json.loads(bundle.read_text()), "test_quality": 0.3}))
    os.utime(bundle, (stat.st_atime - 3600, stat.st_mtime - 3600))
    plan = dry_run(layout, "report")
    assert plan.count("rule analyze:") == 1 and "condition=sigma-0p5" in plan
    snakemake(layout, "report")
    after = runs_of(layout)
    assert after["sigma-0"] == before["sigma-0"] and after["sigma-0p5"] != before["sigma-0p5"]
    table = re.sub(r" +", " ", (layout.generated / "summary-table.qmd").read_text())
    assert "| 0.3000 |" in table


def test_an_unchanged_book_is_not_rendered_again(tmp_path, monkeypatch, capfd):
    # a stand-in quarto that fails the test if it is asked to render
    layout = analysed_and_stamped(tmp_path, with_chapters=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    quarto = bin_dir / "quarto"
    quarto.write_text('#!/bin/sh\n[ "$1" = --version ] && echo 1.11.0 && exit 0\necho rendered >> "$0.calls"; exit 1\n')
    quarto.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    (layout.root / "_book").mkdir()
    conditions = load_conditions(layout.conditions_file)
    layout.render_record.write_text(json.dumps({"inputs": book_fingerprint(layout, conditions)}))
    monkeypatch.chdir(layout.root)
    capfd.readouterr()
    t0 = time.perf_counter()
    assert main(["report"]) == 0
    assert time.perf_counter() - t0 < 10
    assert not (bin_dir / "quarto.calls").exists(), "quarto was not run"
    assert "book unchanged since its last render" in capfd.readouterr().out

    # one changed hand-written chapter: rendered again (here the stand-in fails, as it should)
    (layout.chapters / "summary.qmd").write_text((layout.chapters / "summary.qmd").read_text() + "\nMore.\n")
    assert main(["report"]) == 2
    assert (bin_dir / "quarto.calls").read_text() == "rendered\n"


def test_generated_chapters_hold_nothing_that_changes_between_identical_builds(tmp_path):
    # the chapters are committed: a build from a fresh clone must leave `git status` clean
    layout = analysed_and_stamped(tmp_path, with_chapters=True)
    before = {p.name: p.read_text() for p in layout.generated.iterdir()}
    for name in CONDITIONS:  # analysed again another day, on another machine, as long
        path = layout.result_dir(name) / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest.update(started="2031-05-06T07:08:09+00:00", finished="2031-05-06T08:09:10+00:00", wall_time_s=999.0)
        path.write_text(json.dumps(manifest))
    build_chapters(layout, load_conditions(layout.conditions_file), log=lambda message: None)
    after = {p.name: p.read_text() for p in layout.generated.iterdir()}
    assert [name for name in before if before[name] != after[name]] == []


# --- issue 8: what a new user hit ----------------------------------------------------------


def test_standalone_analyze_keeps_the_conditions_up_to_date_for_report(tmp_path, monkeypatch, capfd):
    layout = analysed_and_stamped(tmp_path)
    monkeypatch.chdir(layout.root)
    assert main(["analyze", "--conditions", "sigma-0", "--force"]) == 0
    assert main(["analyze"]) == 0, "nothing changed: every condition is skipped"
    err = capfd.readouterr().err
    assert "IPKernelApp" not in err, "the kernel's transport warning does not reach the terminal"
    before = runs_of(layout)
    assert report(layout, monkeypatch) == 0
    assert runs_of(layout) == before, "report does not re-run what analyze just brought up to date"
    assert "connectivity: ok" not in capfd.readouterr().out


def test_nonexistent_flyvis_model_fails_even_when_nothing_changed(tmp_path, monkeypatch, capfd):
    layout = analysed_and_stamped(tmp_path, with_chapters=True)
    capfd.readouterr()
    assert report(layout, monkeypatch, "--flyvis-model", "/nonexistent") == 2
    out, err = capfd.readouterr()
    assert err.startswith("error: ") and "/nonexistent" in err and "--flyvis-model" in err
    assert "up to date" not in out


def _real_groundtruth_bundles(layout: ProjectLayout) -> None:
    for name in CONDITIONS:
        path = layout.bundle_dir(name) / "bundle.json"
        meta = json.loads(path.read_text())
        meta["groundtruth"] = {"source": "/somewhere/flow/0000/000", "synthetic": False, "fingerprint": "gt1"}
        path.write_text(json.dumps(meta))


def test_inputs_are_checked_before_the_workflow_starts(tmp_path, monkeypatch, capfd):
    layout = make_project(tmp_path)
    _real_groundtruth_bundles(layout)
    monkeypatch.setenv("FLYGNN_FLYVIS_MODEL", str(tmp_path / "no-such-model"))
    t0 = time.perf_counter()
    assert report(layout, monkeypatch) == 2
    assert time.perf_counter() - t0 < 10, "fails in seconds, before any notebook kernel starts"
    out, err = capfd.readouterr()
    assert not layout.results.exists() or not any(layout.results.glob("sigma-*/notebooks")), "no notebook ran"
    assert err.count("error:") == 1 and err.count("no-such-model") == 1, "one message, not one per notebook"
    assert "FLYGNN_FLYVIS_MODEL" in err and "--flyvis-model" in err
    assert "--synthetic-groundtruth" not in err, "flygnn report does not accept it; it is not suggested"
    assert "Traceback" not in out + err

    # bundle problems: all of them in one message, still before the workflow starts
    monkeypatch.delenv("FLYGNN_FLYVIS_MODEL")
    layout = make_project(tmp_path / "second")
    (layout.bundle_dir("sigma-0") / "model.safetensors").unlink()
    path = layout.bundle_dir("sigma-0p5") / "bundle.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "sigma": 0.05}))
    t0 = time.perf_counter()
    assert report(layout, monkeypatch) == 2
    assert time.perf_counter() - t0 < 10
    err = capfd.readouterr().err
    assert "sigma-0: " in err and "missing ['model.safetensors']" in err
    assert "sigma-0p5 has σ = 0.5 but the bundle at data/bundles/sigma-0p5/ was trained at σ = 0.05" in err
    assert not layout.results.exists() or not any(layout.results.glob("sigma-*/notebooks"))


def test_analyze_checks_the_ground_truth_before_starting_kernels(tmp_path, monkeypatch, capfd):
    layout = make_project(tmp_path)
    _real_groundtruth_bundles(layout)
    monkeypatch.setenv("FLYGNN_FLYVIS_MODEL", str(tmp_path / "no-such-model"))
    monkeypatch.chdir(layout.root)
    t0 = time.perf_counter()
    assert main(["analyze"]) == 2
    assert time.perf_counter() - t0 < 10
    err = capfd.readouterr().err
    assert err.count("no-such-model") == 1 and "--synthetic-groundtruth" not in err
    assert not any(layout.results.glob("sigma-*/notebooks")) if layout.results.exists() else True


def test_report_shows_one_line_per_notebook_and_logs_the_rest(tmp_path, monkeypatch, capfd):
    layout = analysed_and_stamped(tmp_path, with_chapters=True)
    bundle = layout.bundle_dir("sigma-0p5") / "bundle.json"
    bundle.write_text(json.dumps({**json.loads(bundle.read_text()), "test_quality": 0.5}))
    capfd.readouterr()
    assert report(layout, monkeypatch) == 0
    out, err = capfd.readouterr()
    terminal = out + err
    assert "IPKernelApp" not in terminal, "the kernel's chatter does not reach the terminal"
    lines = [line for line in out.splitlines() if line.startswith("[sigma-0p5] ")]
    assert len(lines) == len(SECTIONS) + 1, lines  # one line per notebook and the condition
    assert all(re.search(r"\d+(\.\d)? s", line) for line in lines), "every line carries its time"
    assert "[sigma-0] " not in out
    assert re.search(rf"analysed 1 condition \({len(SECTIONS)} notebooks\) in [\d.]+ s; chapters regenerated", out), out
    logs = re.findall(r"log: (\S+)", out)
    assert len(logs) == 1 and out.rstrip().endswith(logs[0])
    first = layout.root / logs[0]
    log = first.read_text()
    assert f"[sigma-0p5] 1/{len(SECTIONS)} connectivity: executing analysis/connectivity.ipynb" in log
    assert f"[sigma-0p5] 1/{len(SECTIONS)} connectivity: ok" in log

    assert report(layout, monkeypatch) == 0
    out = capfd.readouterr().out
    assert "up to date in" not in out
    assert re.search(r"nothing to analyse \(2 conditions up to date\); chapters unchanged; [\d.]+ s", out), out
    second = layout.root / re.findall(r"log: (\S+)", out)[0]
    assert second != first and first.read_text() == log, "each run keeps its own log"
    assert layout.latest_log.resolve() == second.resolve(), "report-latest.log points at the newest"


def test_the_summary_says_what_was_done():
    assert [format_duration(s) for s in (7.34, 428.9, 3725)] == ["7.3 s", "7 min 9 s", "1 h 2 min"]
    done = ReportUpdate(
        conditions=3, analysed=["a", "b", "c"], notebooks=15, chapters_changed=["x", "y"], seconds=428.9
    )
    assert done.summary() == "analysed 3 conditions (15 notebooks) in 7 min 9 s; chapters regenerated (2 parts changed)"
    idle = ReportUpdate(conditions=1, chapters_changed=[], seconds=2.5)
    assert idle.summary() == "nothing to analyse (1 condition up to date); chapters unchanged; 2.5 s"


def test_a_new_replicate_record_regenerates_the_chapters_that_read_it(tmp_path):
    """The run-to-run spread and the key findings come from data/replicates/: a record committed after
    the last build is an input like a bundle (the chapters' fingerprint covers it)."""
    from flygnn.stages.report import chapters_fingerprint

    layout = analysed_and_stamped(tmp_path, with_chapters=True)
    conditions = load_conditions(layout.conditions_file)
    before = chapters_fingerprint(layout, conditions)
    records = layout.root / "data" / "replicates"
    records.mkdir(parents=True, exist_ok=True)
    (records / "fast-sigma-0p5-natural-sim0-train9.csv").write_text("run,sigma\nx,0.5\n")
    assert chapters_fingerprint(layout, conditions) != before
    archived = layout.root / "data" / "records" / "some-run"
    archived.mkdir(parents=True)
    after_record = chapters_fingerprint(layout, conditions)
    (archived / "bundle.json").write_text("{}")
    assert chapters_fingerprint(layout, conditions) != after_record


def test_the_chapters_fingerprint_follows_the_code_that_writes_them(tmp_path, monkeypatch):
    """A changed template or table writer regenerates the parts even at the same version number."""
    from flygnn.stages import report as stage

    layout = analysed_and_stamped(tmp_path, with_chapters=True)
    conditions = load_conditions(layout.conditions_file)
    before = stage.chapters_fingerprint(layout, conditions)
    monkeypatch.setattr(stage, "_report_code_digest", lambda: "another version of the templates")
    assert stage.chapters_fingerprint(layout, conditions) != before


@pytest.mark.parametrize(
    "module",
    [
        "report/templates/stimulus.qmd.j2",
        "figures/book.py",
        "figures/style.py",
        "analysis/replicates.py",
        "metric_names.py",
    ],
)
def test_the_code_digest_covers_the_templates_and_the_book_figures_code(monkeypatch, module):
    """A changed figure of the book's own (recovery curves, replicate figures) is drawn again, and
    so is a part whose numbers come from library code the report imports (the spreads)."""
    import flygnn
    from flygnn.stages import report as stage

    before = stage._report_code_digest()
    target = Path(flygnn.__file__).parent / module
    read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read_bytes(self) + (b"#" if self == target else b""))
    assert stage._report_code_digest() != before


def test_a_redrawn_book_figure_is_a_new_book(tmp_path):
    """The recovery curves redrawn by new figure code, the chapter text the same: render again."""
    layout = analysed_and_stamped(tmp_path, with_chapters=True)
    conditions = load_conditions(layout.conditions_file)
    figure = layout.results / "book-figures" / "recovery-curves.png"
    assert figure.is_file()
    before = book_fingerprint(layout, conditions)
    figure.write_bytes(figure.read_bytes() + b"\0")
    assert book_fingerprint(layout, conditions) != before
