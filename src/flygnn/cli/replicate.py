"""`flygnn replicate`: one replicate run of a fixed recipe, recorded as a CSV row."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replicate",
        help="train a fixed recipe with other seeds, stimulus or σ and record its scores in data/replicates/",
        description=(
            "Simulate a dataset (once per simulation seed and stimulus), train the recipe on it, score the model "
            "by upstream's rules (the book's Table 1 code) and write one row to data/replicates/<run>.csv. "
            "Running the same command again resumes an interrupted run. Recipes: src/flygnn/presets/recipes.yaml."
        ),
    )
    parser.add_argument("--recipe", default="fast", help="recipe name (default: fast)")
    parser.add_argument("--sigma", type=float, required=True, help="intrinsic noise level σ (>= 0)")
    parser.add_argument(
        "--train-seed", type=int, default=0, help="seed of the model's initialisation and frame sampling"
    )
    parser.add_argument(
        "--simulation-seed", type=int, default=0, help="seed of the stimulus and the noise (a new dataset)"
    )
    parser.add_argument(
        "--stimulus", default="natural", help="stimulus kind: natural | flashes | gratings | edges (default natural)"
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
    import signal
    import threading

    import torch

    from flygnn.errors import FlygnnError
    from flygnn.project import ProjectLayout
    from flygnn.stages.replicate import ReplicateRun, record_path, run_replicate
    from flygnn.stimulus import KINDS
    from flygnn.train import tune_cpu_allocator

    if args.threads < 1:
        raise FlygnnError(f"--threads must be >= 1, got {args.threads}.")
    if args.stimulus not in KINDS:
        raise FlygnnError(f"unknown --stimulus {args.stimulus!r}; choose one of: {', '.join(KINDS)}.")
    torch.set_num_threads(args.threads)
    tune_cpu_allocator()
    stop = threading.Event()
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda *_: stop.set())
    replicate = ReplicateRun(
        recipe=args.recipe,
        sigma=args.sigma,
        train_seed=args.train_seed,
        simulation_seed=args.simulation_seed,
        stimulus=args.stimulus,
        configuration=args.configuration,
    )
    layout = ProjectLayout.find()
    record = run_replicate(replicate, layout=layout, threads=args.threads, progress=not args.no_progress, stop=stop)
    if record is None:
        print(f"{replicate.name}: stopped before the recipe's end; the same command resumes it")
        return 0
    scores = " · ".join(
        f"{k} {record[k]}"
        for k in ("W_corrected_R2", "W_corrected_slope", "tau_R2", "V_rest_R2", "clustering_accuracy")
    )
    print(f"{replicate.name}: {record['iterations']} iterations in {record['training_minutes']} min · {scores}")
    print(f"wrote {layout.relative(record_path(layout, replicate))}")
    return 0
