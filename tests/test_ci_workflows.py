"""The GitHub workflows: valid against GitHub's schema, clean under zizmor's audit, hardened.

check-jsonschema (its vendored GitHub-workflow schema) and zizmor both run offline; the
tests that need them are skipped with the reason when the executable is missing (they
come with the ``test`` extra). The structural checks below run without either tool.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
TORCH_CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"


def _executable(name: str) -> str:
    """The tool from this interpreter's environment (venv not activated) or PATH, else skip."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]' installs it)")
    return found


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)


def _steps(workflow: Path) -> list[dict]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    return [step for job in jobs.values() for step in job.get("steps", [])]


def _uses_lines(workflow: Path) -> list[str]:
    return [
        line.split("uses:", 1)[1].strip()
        for line in workflow.read_text().splitlines()
        if re.match(r"^\s*(- )?uses:", line)
    ]


def test_both_workflows_exist():
    assert [path.name for path in WORKFLOWS] == ["publish.yml", "tests.yml"]


def test_workflows_validate_against_the_github_schema():
    check_jsonschema = _executable("check-jsonschema")
    result = _run(check_jsonschema, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path):
    check_jsonschema = _executable("check-jsonschema")
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\non: push\njobs:\n  test:\n    steps:\n      - run: true\n")  # no runs-on
    result = _run(check_jsonschema, "--builtin-schema", "vendor.github-workflows", str(broken))
    assert result.returncode != 0


def test_workflows_pass_zizmors_offline_audit():
    zizmor = _executable("zizmor")
    result = _run(zizmor, "--offline", "--no-progress", *map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_flags_an_unpinned_action(tmp_path):
    zizmor = _executable("zizmor")
    unpinned = tmp_path / "unpinned.yml"
    unpinned.write_text(
        "name: unpinned\non: push\npermissions: {}\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n        with:\n          persist-credentials: false\n"
    )
    result = _run(zizmor, "--offline", "--no-progress", str(unpinned))
    assert result.returncode != 0 and "unpinned-uses" in result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_actions_are_pinned_to_a_commit_with_its_release_tag(workflow):
    uses = _uses_lines(workflow)
    assert uses, f"{workflow.name} uses no action?"
    for line in uses:
        assert PINNED.match(line), f"{workflow.name}: `{line}` is not pinned as owner/repo@<40-hex sha> # vX.Y.Z"


def test_one_action_is_pinned_to_one_commit_everywhere():
    pins: dict[str, set[str]] = {}
    for workflow in WORKFLOWS:
        for line in _uses_lines(workflow):
            action, ref = line.split("@", 1)
            pins.setdefault(action, set()).add(ref)
    assert {action: refs for action, refs in pins.items() if len(refs) > 1} == {}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_least_privilege_and_no_persisted_credentials(workflow):
    document = yaml.safe_load(workflow.read_text())
    assert document["permissions"] == {}, "grant permissions per job, not to the whole workflow"
    for name, job in document["jobs"].items():
        assert "permissions" in job, f"job {name} must state its permissions"
        writes = {scope for scope, level in job["permissions"].items() if level == "write"}
        assert writes <= ({"pages", "id-token"} if name == "deploy" else set()), f"job {name} may write {writes}"
    checkouts = [step for step in _steps(workflow) if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts and all(step["with"]["persist-credentials"] is False for step in checkouts)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_cpu_torch_and_the_shipped_ground_truth(workflow):
    runs = [step["run"] for step in _steps(workflow) if "run" in step]
    commands = [line.strip() for run in runs for line in run.splitlines()]
    installs = [i for i, command in enumerate(commands) if command.startswith("python -m pip install -e")]
    torch = [i for i, command in enumerate(commands) if "pip install torch" in command]
    assert installs and torch and torch[0] < installs[0], "install CPU-only torch before the project"
    assert TORCH_CPU_INDEX in commands[torch[0]]
    # the extra index is for torch only: the project's own dependencies come from PyPI
    assert all("download.pytorch.org" not in commands[i] for i in installs)
    text = workflow.read_text()
    for stale in ("download-pretrained", "FLYGNN_FLYVIS_MODEL", "FLYVIS_ROOT_DIR"):
        assert stale not in text, f"{workflow.name} still fetches the ground truth ({stale}); it ships with the package"
