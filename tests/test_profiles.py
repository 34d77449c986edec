"""The cluster profiles run the workflow through their Snakemake executor plugins.

There is no cluster here, so the test puts stand-ins for the scheduler's commands first
on PATH: ``sbatch``/``srun``/``sacct``/``squeue``/``scancel`` (plus ``sinfo`` and
``sacctmgr``, which the SLURM plugin asks for partitions and accounts) and
``bsub``/``bjobs``/``bkill`` (plus ``badmin`` and ``lsclusters``, which the LSF plugin
reads its configuration from). A submitted job runs on this machine in the background;
the stand-ins report its state with the commands and in the output formats the plugins
parse (read from snakemake_executor_plugin_slurm / _lsf):

- ``sbatch --parsable ... --output LOG -D DIR --wrap="CMD"`` prints the job id;
  ``sacct -X --parsable2 --noheader --format=JobIdRaw,State --name RUN`` and
  ``squeue --format=%i|%T --noheader --name RUN`` print ``id|STATE`` (PENDING, RUNNING,
  COMPLETED, FAILED, CANCELLED); inside the job ``srun [options] CMD`` runs CMD.
- ``bsub -J NAME -o LOG ... -cwd DIR "CMD"`` prints ``Job <id> is submitted to queue <q>.``;
  ``bjobs -noheader -o 'jobid stat' -aJ PATTERN`` prints ``id STAT`` (PEND, RUN, DONE, EXIT).

The workflow is the tiny stand-in project of the report tests (one condition, fake
bundle, stand-in notebooks): the analyze job goes through the scheduler, the chapters
rule stays local (``localrules``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib.util import find_spec
from pathlib import Path

import pytest
from project_fixtures import ROOT, make_project

from flygnn.project import ProjectLayout
from flygnn.sections import SECTIONS

# end-to-end: papermill, subprocesses or training (README: the quick loop skips them)
pytestmark = pytest.mark.slow

STAND_IN = r'''
import fnmatch, json, os, signal, subprocess, sys, time
from pathlib import Path

STATE = Path(os.environ["FAKE_SCHEDULER_DIR"])
JOBS = STATE / "jobs"
# generic state -> what each scheduler calls it
SLURM = {"pending": "PENDING", "running": "RUNNING", "done": "COMPLETED", "failed": "FAILED", "cancelled": "CANCELLED"}
LSF = {"pending": "PEND", "running": "RUN", "done": "DONE", "failed": "EXIT", "cancelled": "EXIT"}


def write(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def submit(name, command, cwd, log, env):
    JOBS.mkdir(parents=True, exist_ok=True)
    number = 1000
    while True:
        number += 1
        try:
            (JOBS / str(number)).mkdir()
            break
        except FileExistsError:
            continue
    job = JOBS / str(number)
    env = {key: value.replace("%ID", str(number)) for key, value in env.items()}
    write(job / "spec.json", json.dumps({"name": name, "command": command, "cwd": cwd, "log": log, "env": env}))
    write(job / "state", "pending")
    runner = subprocess.Popen(
        [sys.executable, __file__, "--run", str(job)],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    write(job / "pid", str(runner.pid))
    return str(number)


def run(job):
    job = Path(job)
    spec = json.loads((job / "spec.json").read_text())
    write(job / "state", "running")
    log = Path(spec["log"].replace("%j", job.name).replace("%J", job.name))
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        status = subprocess.call(
            ["/bin/sh", "-c", spec["command"]], cwd=spec["cwd"], stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, **spec["env"]},
        )
    write(job / "exit", str(status))
    write(job / "state", "done" if status == 0 else "failed")


def jobs():
    for job in sorted(JOBS.glob("*")) if JOBS.is_dir() else []:
        if (job / "state").is_file():
            yield job.name, json.loads((job / "spec.json").read_text())["name"], (job / "state").read_text()


def cancel(ids):
    for number in ids:
        job = JOBS / number
        try:
            os.killpg(int((job / "pid").read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        write(job / "state", "cancelled")


def options(args, with_value):
    """(options, positionals) of a command line whose options in ``with_value`` take a value."""
    found, positional, rest = {}, [], list(args)
    while rest:
        arg = rest.pop(0)
        if arg.startswith("-") and "=" in arg and arg.split("=", 1)[0] not in with_value:
            key, value = arg.split("=", 1)
            found.setdefault(key, []).append(value)
        elif arg in with_value:
            found.setdefault(arg, []).append(rest.pop(0))
        elif arg.startswith("-"):
            found.setdefault(arg, []).append("")
        else:
            positional.append(arg)
    return found, positional


def value_after(args, flag):
    return args[args.index(flag) + 1] if flag in args else None


def main():
    tool, args = Path(sys.argv[0]).name, sys.argv[1:]
    if args[:1] == ["--run"]:
        return run(args[1])
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "calls.jsonl", "a") as calls:
        calls.write(json.dumps({"tool": tool, "args": args}) + "\n")

    if tool == "sbatch":
        found, positional = options(args, {"--job-name", "--output", "--comment", "-A", "-p", "-t", "--mem",
                                           "--mem-per-cpu", "-D", "-C", "--clusters"})
        command = found["--wrap"][0] if "--wrap" in found else Path(positional[0]).read_text()
        if positional[:1] == ["/dev/stdin"]:
            command = sys.stdin.read()
        env = {"SLURM_JOB_ID": "%ID", "SLURM_JOBID": "%ID", "SLURM_JOB_NAME": found["--job-name"][0],
               "SLURM_SUBMIT_DIR": os.getcwd()}
        print(submit(found["--job-name"][0], command, found.get("-D", [os.getcwd()])[0], found["--output"][0], env))
    elif tool == "srun":  # inside a job: run the step right here
        step = list(args)
        while step and step[0].startswith("-"):
            step.pop(0)
        os.execvp(step[0], step)
    elif tool in ("sacct", "squeue"):
        name = value_after(args, "--name")
        if name is not None:  # the plugin's status query: one "id|STATE" line per job of this run
            for number, job_name, state in jobs():
                if job_name == name:
                    print(f"{number}|{SLURM[state]}")
        # anything else (an account guess, a failed job's reason): nothing known
    elif tool == "scancel":
        cancel([a for a in args if a.isdigit()])
    elif tool == "sinfo":
        print("PARTITION\nsmoke*")
    elif tool == "sacctmgr":
        print("smoke-account")
    elif tool == "bsub":
        found, positional = options(args, {"-J", "-o", "-e", "-env", "-P", "-q", "-W", "-n", "-R", "-cwd", "-gpu", "-M"})
        name = found["-J"][0]
        number = submit(name, positional[-1], found["-cwd"][0], found["-o"][0], {"LSB_JOBID": "%ID", "LSB_JOBNAME": name})
        print(f"Job <{number}> is submitted to queue <{found.get('-q', ['normal'])[0]}>.")
    elif tool == "bjobs":
        pattern = value_after(args, "-aJ") or "*"
        for number, job_name, state in jobs():
            if fnmatch.fnmatchcase(job_name, pattern):
                print(f"{number} {LSF[state]}")
    elif tool == "bkill":
        cancel([a for a in args if a.isdigit()])
    elif tool == "badmin":
        print("MBD configuration at now")
        print(f"    LSB_SHAREDIR = {STATE / 'lsf' / 'work'}")
        print(f"    LSF_CONFDIR = {STATE / 'lsf' / 'conf'}")
        print("    LSF_UNIT_FOR_LIMITS = MB")
    elif tool == "lsclusters":
        print("CLUSTER_NAME   STATUS   MASTER_HOST   ADMIN   HOSTS   SERVERS")
        print("smoke          ok       localhost     root    1       1")
    else:
        sys.exit(f"stand-in scheduler: unknown tool {tool}")


main()
'''

SLURM_TOOLS = ("sbatch", "srun", "sacct", "squeue", "scancel", "sinfo", "sacctmgr")
LSF_TOOLS = ("bsub", "bjobs", "bkill", "badmin", "lsclusters")


def install_stand_ins(folder: Path, tools: tuple[str, ...]) -> Path:
    """The stand-in scheduler as executables ``folder/bin/<tool>``; its state under ``folder/state``."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    script = folder / "scheduler.py"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(STAND_IN))
    for tool in tools:
        os.symlink(script, bin_dir / tool)
    script.chmod(0o755)
    return bin_dir


def needs_plugin(name: str):
    return pytest.mark.skipif(
        find_spec(f"snakemake_executor_plugin_{name}") is None,
        reason=f"snakemake-executor-plugin-{name} is not installed (pip install -e '.[test]' installs it)",
    )


def cluster_project(tmp_path: Path) -> ProjectLayout:
    layout = make_project(tmp_path / "project", conditions=[("sigma-0", 0.0)])
    shutil.copytree(ROOT / "profiles", layout.root / "profiles")
    return layout


def run_profile(layout: ProjectLayout, bin_dir: Path, state: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_SCHEDULER_DIR": str(state),
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("SLURM_JOB_ID", None)
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args, "--seconds-between-status-checks", "1", "report"],
        cwd=layout.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )


def calls(state: Path, tool: str) -> list[list[str]]:
    lines = (state / "calls.jsonl").read_text().splitlines()
    return [entry["args"] for entry in map(json.loads, lines) if entry["tool"] == tool]


def assert_analysed(layout: ProjectLayout, completed: subprocess.CompletedProcess) -> None:
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-6000:]
    manifest = json.loads((layout.result_dir("sigma-0") / "manifest.json").read_text())
    assert manifest["status"] == "ok" and len(manifest["notebooks"]) == len(SECTIONS)
    assert (layout.results / "book.json").is_file(), "the local chapters rule ran after the cluster job"


@needs_plugin("slurm")
def test_slurm_profile_runs_the_analysis_as_sbatch_jobs(tmp_path):
    layout = cluster_project(tmp_path)
    state = tmp_path / "scheduler"
    bin_dir = install_stand_ins(tmp_path, SLURM_TOOLS)
    completed = run_profile(
        layout,
        bin_dir,
        state,
        "--profile",
        "profiles/slurm",
        "--default-resources",
        "slurm_account=smoke-account",
        "slurm_partition=smoke",
        "--slurm-init-seconds-before-status-checks",
        "1",
    )
    assert_analysed(layout, completed)
    [sbatch] = calls(state, "sbatch")  # one job: analyze; chapters is a local rule
    command = " ".join(sbatch)
    assert "--comment rule_analyze_wildcards_sigma-0" in command
    assert "-A smoke-account" in command and "-p smoke" in command
    assert "--mem 8000" in command and "-t 60" in command, "the rule's resources reach sbatch"
    assert len(calls(state, "srun")) == 1, "inside the allocation the job step runs through srun"
    assert any("--name" in args for args in calls(state, "sacct")), "job states come from sacct"


@needs_plugin("lsf")
def test_lsf_profile_runs_the_analysis_as_bsub_jobs(tmp_path):
    layout = cluster_project(tmp_path)
    state = tmp_path / "scheduler"
    params = state / "lsf" / "conf" / "lsbatch" / "smoke" / "configdir" / "lsb.params"
    params.parent.mkdir(parents=True)
    params.write_text("Begin Parameters\nDEFAULT_QUEUE = normal\nEnd Parameters\n")
    bin_dir = install_stand_ins(tmp_path, LSF_TOOLS)
    completed = run_profile(
        layout,
        bin_dir,
        state,
        "--profile",
        "profiles/lsf",
        "--default-resources",
        "lsf_project=smoke-project",
        "lsf_queue=smoke-queue",
    )
    assert_analysed(layout, completed)
    [bsub] = calls(state, "bsub")
    command = " ".join(bsub)
    assert "Snakemake_rule_analyze:condition=sigma-0" in command
    assert "-P smoke-project" in command and "-q smoke-queue" in command
    assert "rusage[mem=8000" in command and "-W 60" in command, "the rule's resources reach bsub"
    assert calls(state, "bjobs"), "job states come from bjobs"
