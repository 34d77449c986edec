"""`flygnn replicate`: one replicate run of a fixed recipe, recorded as a CSV row, or the next run of a plan."""

from __future__ import annotations

import argparse
from pathlib import Path

from flygnn.metric_names import UPSTREAM_METRICS

# exit statuses that end a shell loop over `--next`: nothing left to run, or stopped by SIGUSR1
NOTHING_LEFT = 3
STOPPED = 4
# --per-type: a finished run is left without its per-type record
INCOMPLETE = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replicate",
        help="train a fixed recipe with other seeds, stimulus or σ and record its scores in data/replicates/",
        description=(
            "Simulate a dataset (once per simulation seed and stimulus), train the recipe on it, score the model "
            "by upstream's rules (the book's Table 1 code) and write one row to data/replicates/<run>.csv. "
            "Running the same command again resumes an interrupted run. Recipes: src/flygnn/presets/recipes.yaml. "
            "--next works down data/replicates/plan.yaml instead: run it once per core, in a loop "
            "(`while flygnn replicate --next; do :; done`); --list shows where the plan stands. "
            "Beside each row, data/replicates/per-type/<run>.csv holds the run's per-cell-type recovery; "
            "--per-type writes it for the plan's finished runs that lack it, from their cached bundles, "
            "without training."
        ),
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--sigma", type=float, help="run one replicate at this intrinsic noise level σ (>= 0)")
    which.add_argument(
        "--next",
        action="store_true",
        help=(
            f"run the plan's next run (a resumable one first); exit 0 after it, {NOTHING_LEFT} when nothing is "
            f"left, {STOPPED} when stopped (SIGUSR1) with its state saved"
        ),
    )
    which.add_argument("--list", action="store_true", help="list the plan's runs and their status")
    which.add_argument(
        "--per-type",
        action="store_true",
        help=(
            "write data/replicates/per-type/<run>.csv for every finished run of the plan that lacks it, from "
            "the run's bundle in data/cache/replicates/ (no training; a run trained elsewhere cannot); "
            f"exit 0 when every finished run has one, {INCOMPLETE} when some could not be written"
        ),
    )
    parser.add_argument("--plan", help="plan file (default: data/replicates/plan.yaml)")
    parser.add_argument("--recipe", default="fast", help="recipe name (default: fast)")
    parser.add_argument(
        "--train-seed", type=int, default=0, help="seed of the model's initialisation and frame sampling"
    )
    parser.add_argument(
        "--simulation-seed", type=int, default=0, help="seed of the stimulus and the noise (a new dataset)"
    )
    parser.add_argument(
        "--stimulus", default="natural", help="stimulus kind: natural | flashes | gratings | edges | mixed"
    )
    parser.add_argument(
        "--configuration",
        type=float,
        metavar="SIGMA",
        help="train with the published configuration of this σ instead of the recipe's (an ablation)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: one run per core)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from flygnn.errors import FlygnnError
    from flygnn.project import ProjectLayout
    from flygnn.replicate_runs import PLAN_FILE, REPLICATES_FOLDER, ReplicateRun, load_plan, record_path
    from flygnn.stages.replicate import next_run, run_progress, run_replicate, run_status
    from flygnn.stimulus import KINDS

    layout = ProjectLayout.find()
    if args.next or args.list or args.per_type:
        plan = Path(args.plan) if args.plan else layout.project_root / REPLICATES_FOLDER / PLAN_FILE
        runs = load_plan(plan)
        if args.per_type:
            return _per_type(layout, runs)
        if args.list:
            counts: dict[str, int] = {}
            for planned in runs:
                status = run_status(layout, planned)
                counts[status] = counts.get(status, 0) + 1
                done = run_progress(layout, planned) if status in ("running", "resumable") else None
                total = planned.resolved_recipe().iterations
                progress = f"{done:,}/{total:,}" if done is not None else ""
                print(f"{status:9}  {progress:>13}  {planned.command()}")
            print(", ".join(f"{counts[s]} {s}" for s in ("done", "running", "resumable", "todo") if s in counts))
            return 0
        replicate = next_run(layout, runs)
        if replicate is None:
            print(f"every run of {layout.relative(plan)} is done or being worked on")
            return NOTHING_LEFT
        print(f"next: {replicate.command()}", flush=True)
    else:
        if args.stimulus not in KINDS:
            raise FlygnnError(f"unknown --stimulus {args.stimulus!r}; choose one of: {', '.join(KINDS)}.")
        replicate = ReplicateRun(
            recipe=args.recipe,
            sigma=args.sigma,
            train_seed=args.train_seed,
            simulation_seed=args.simulation_seed,
            stimulus=args.stimulus,
            configuration=args.configuration,
        )
    from flygnn.cli.options import training_process

    stop = training_process(args.threads)
    record = run_replicate(replicate, layout=layout, threads=args.threads, progress=not args.no_progress, stop=stop)
    if record is None:
        print(f"{replicate.name}: stopped before the recipe's end; the same command resumes it")
        return STOPPED
    scores = " · ".join(f"{k} {record[k]}" for k in UPSTREAM_METRICS)
    print(f"{replicate.name}: {record['iterations']} iterations in {record['training_minutes']} min · {scores}")
    print(f"wrote {layout.relative(record_path(layout, replicate))}")
    return 0


def _per_type(layout, runs) -> int:
    from flygnn.stages.replicate import add_per_type_records

    outcomes = add_per_type_records(layout, runs)
    for outcome in outcomes:
        if outcome.state == "written":
            print(f"wrote {layout.relative(outcome.path)}")
        elif outcome.state == "failed":
            print(f"{outcome.run.name}: no per-type record: {outcome.reason}")
    counts = {
        state: sum(o.state == state for o in outcomes) for state in ("written", "failed", "present", "unfinished")
    }
    unfinished = counts["unfinished"]
    print(
        f"per-type records: {counts['written']} written, {counts['failed']} could not be written, "
        f"{counts['present']} already there; {unfinished} run{'' if unfinished == 1 else 's'} of the plan not "
        "finished (a run writes its own when it finishes)"
    )
    return INCOMPLETE if counts["failed"] else 0
