"""Interrupted, killed and concurrent runs (issue 23, fault paths 1, 2 and 6).

A cluster scheduler ends a job with SIGTERM, a user with Ctrl-C (SIGINT), the kernel's
out-of-memory killer with SIGKILL; two shells may start the same analysis. None of these
may leave a process running, a lock held, or a leftover folder that breaks later runs.
The stand-in project's notebooks can be held in a cell (``test_hold_section``), so a run
is interrupted in the middle of a notebook, as in the reports.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from project_fixtures import ROOT, analysed_copy, make_project

from flygnn.cli import main
from flygnn.project import ProjectLayout
from flygnn.sections import SECTIONS

# end-to-end: papermill, subprocesses or training (README: the quick loop skips them)
pytestmark = pytest.mark.slow


def hold_in(layout: ProjectLayout, condition: str, section: str) -> Path:
    """Make ``condition``'s ``section`` notebook wait while the returned file exists (≤ 60 s)."""
    hold = layout.root / f"hold-{condition}"
    hold.write_text("")
    path = layout.bundle_dir(condition) / "bundle.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "test_hold_section": section, "test_hold_file": str(hold)}))
    return hold


def flygnn(layout: ProjectLayout, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, "-m", "flygnn", *args],
        cwd=layout.root,
        env=env,
        # started with SIGINT ignored, as a script's background job is (and as this test process may
        # be after a library ignored it): `kill -INT` must stop flygnn all the same
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 120) -> int:
    """The pid a held notebook's kernel wrote to ``path``."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if path.is_file() and path.read_text():
            return int(path.read_text())
        if process.poll() is not None:
            pytest.fail(f"flygnn ended before the notebook started:\n{process.communicate()}")
        time.sleep(0.2)
    process.kill()
    pytest.fail("the held notebook never started")


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += sorted(children - found)
            found |= children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def held_locks(layout: ProjectLayout) -> list[str]:
    """Snakemake's lock files, and flygnn's lock files that some process still holds."""
    held = [str(p) for p in (layout.root / ".snakemake" / "locks").glob("*")]
    for path in layout.results.rglob("*.lock") if layout.results.is_dir() else []:
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                held.append(str(path))
    return held


def staging_folders(layout: ProjectLayout) -> list[str]:
    return sorted(p.name for p in layout.results.glob(".*.tmp")) if layout.results.is_dir() else []


@pytest.mark.parametrize(
    ("signum", "cores"),
    [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-2-cores"],
)
def test_a_signal_during_a_notebook_stops_every_process_and_releases_the_locks(tmp_path, signum, cores):
    # with 2 cores both conditions are analysed at once, each in a worker process
    layout = make_project(tmp_path, conditions=[("sigma-0", 0.0), ("sigma-0p5", 0.5)][:cores])
    hold = hold_in(layout, "sigma-0", "embeddings")
    report = flygnn(layout, "report", "--no-render", "--cores", str(cores))
    kernel = wait_for(hold.with_suffix(".pid"), report)
    tree = descendants(report.pid)
    assert kernel in tree
    report.send_signal(signum)
    try:
        out, err = report.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        report.kill()
        pytest.fail("flygnn report did not stop on the signal")
    until = time.monotonic() + 30
    while any(alive(pid) for pid in tree) and time.monotonic() < until:
        time.sleep(0.2)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120] for pid in tree if alive(pid)}
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert report.returncode == 130, (out, err)
    assert not left, f"processes left running after flygnn report ended: {left}"
    assert held_locks(layout) == []
    assert staging_folders(layout) == [], "the interrupted analysis's staging folder is discarded"
    assert "interrupted" in err and "Traceback" not in err


def fail_to_remove(*names: str):
    """shutil.rmtree as it behaves for a folder the user may not delete (``chmod 555`` on its parent,
    another owner): nothing under a folder whose name ends with one of ``names`` goes away."""
    real = shutil.rmtree

    def rmtree(path, ignore_errors=False, onerror=None, **kwargs):
        if Path(path).name.endswith(names):
            exc = PermissionError(13, "Permission denied", str(Path(path) / "notebooks"))
            if ignore_errors:
                return None
            if onerror is not None:
                return onerror(os.rmdir, str(path), (PermissionError, exc, None))
            raise exc
        return real(path, ignore_errors=ignore_errors, onerror=onerror, **kwargs)

    return rmtree


def test_an_old_results_folder_that_cannot_be_removed_is_reported(tmp_path, monkeypatch, capfd):
    layout = analysed_copy(tmp_path)
    monkeypatch.chdir(layout.root)
    monkeypatch.setattr(shutil, "rmtree", fail_to_remove(".old"))
    status = main(["analyze", "--conditions", "sigma-0p5", "--force"])
    err = capfd.readouterr().err
    assert (layout.results / ".sigma-0p5.old").is_dir()
    assert "results/.sigma-0p5.old" in err and "rm -rf" in err, "the leftover is named with the fix"
    assert status == 0, "the new results are complete and in place"
    assert json.loads((layout.result_dir("sigma-0p5") / "manifest.json").read_text())["status"] == "ok"


def test_a_leftover_old_folder_is_removed_or_reported_before_any_notebook_runs(tmp_path, monkeypatch, capfd):
    layout = analysed_copy(tmp_path)
    monkeypatch.chdir(layout.root)
    leftover = layout.results / ".sigma-0p5.old"
    (leftover / "notebooks").mkdir(parents=True)
    (leftover / "notebooks" / "connectivity.ipynb").write_text("{}")
    manifest = (layout.result_dir("sigma-0p5") / "manifest.json").read_bytes()

    # one the user may not delete: a message naming it and the fix, before any kernel starts
    with monkeypatch.context() as patch:
        patch.setattr(shutil, "rmtree", fail_to_remove(".old"))
        t0 = time.perf_counter()
        assert main(["analyze", "--conditions", "sigma-0p5", "--force"]) == 2
        assert time.perf_counter() - t0 < 10
    err = capfd.readouterr().err
    assert "results/.sigma-0p5.old" in err and "rm -rf" in err and "Traceback" not in err
    assert (layout.result_dir("sigma-0p5") / "manifest.json").read_bytes() == manifest

    # one that can go: removed, and the analysis runs
    assert main(["analyze", "--conditions", "sigma-0p5", "--force"]) == 0
    assert not leftover.exists()
    assert (layout.result_dir("sigma-0p5") / "manifest.json").read_bytes() != manifest


def test_staging_folders_of_a_killed_run_are_removed_by_the_next(tmp_path, monkeypatch):
    layout = analysed_copy(tmp_path)
    monkeypatch.chdir(layout.root)
    # what `kill -9` during a notebook leaves behind (atomic_directory's staging folder)
    stale = layout.results / ".sigma-0p5.k1ll3d.tmp"
    (stale / "notebooks").mkdir(parents=True)
    (stale / "notebooks" / ".connectivity.running.ipynb").write_text("{}")
    other = layout.results / ".sigma-0.k1ll3d.tmp"
    other.mkdir()
    assert main(["analyze", "--conditions", "sigma-0p5"]) == 0, "up to date: nothing runs"
    assert not stale.exists(), "the staging folder of the killed run is gone"
    assert other.is_dir(), "only the analysed condition's folders are touched"
    assert main(["analyze"]) == 0
    assert staging_folders(layout) == []


def test_a_second_analysis_of_the_same_condition_is_refused_while_the_first_runs(tmp_path, monkeypatch, capfd):
    layout = analysed_copy(tmp_path)
    hold = hold_in(layout, "sigma-0p5", "connectivity")
    first = flygnn(layout, "analyze", "--conditions", "sigma-0p5")
    try:
        wait_for(hold.with_suffix(".pid"), first)
        running = staging_folders(layout)
        assert len(running) == 1
        monkeypatch.chdir(layout.root)
        capfd.readouterr()
        t0 = time.perf_counter()
        assert main(["analyze", "--conditions", "sigma-0p5"]) == 2
        assert time.perf_counter() - t0 < 10, "refused at once, not after running the notebooks"
        err = capfd.readouterr().err
        assert "sigma-0p5" in err and "another flygnn" in err and str(first.pid) in err
        assert staging_folders(layout) == running, "the running analysis's staging folder is left alone"
        assert main(["analyze", "--conditions", "sigma-0"]) == 0, "another condition is not blocked"
    finally:
        hold.unlink(missing_ok=True)
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, (out, err)
    assert staging_folders(layout) == []


def test_conditions_analysed_at_once_report_each_notebook_and_their_results(tmp_path, monkeypatch, capfd):
    layout = make_project(tmp_path)
    monkeypatch.chdir(layout.root)
    assert main(["report", "--no-render", "--cores", "2"]) == 0
    out = capfd.readouterr().out
    for name in ("sigma-0", "sigma-0p5"):
        assert sum(line.startswith(f"[{name}] ") and ": ok (" in line for line in out.splitlines()) == len(SECTIONS), (
            out
        )
        assert json.loads((layout.result_dir(name) / "manifest.json").read_text())["status"] == "ok"
    assert f"analysed 2 conditions ({2 * len(SECTIONS)} notebooks)" in out
    assert staging_folders(layout) == [] and held_locks(layout) == []
