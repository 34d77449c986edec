"""``flygnn train``: train the GNN on one condition's dataset and write its bundle."""

from __future__ import annotations

import argparse

from flygnn.cli.options import add_conditions_file_option, default_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the GNN on a simulated dataset and write a checkpoint bundle",
        description=(
            "Train the GNN (README 'The pipeline'; the model and loss are described in "
            "src/flygnn/train/loss.py) on one condition's dataset and write its checkpoint bundle: "
            "model.safetensors, bundle.json, activity.safetensors, the resumable training-state/, "
            "training-history.csv (loss terms, and recovery by upstream's rules every score_every "
            "iterations) and the loss figure. States are saved every few minutes and on Ctrl-C; "
            "--resume continues exactly, also in a fresh clone (it regenerates nothing: simulate the "
            "dataset first, which is deterministic). Send SIGUSR1 to end the leg early and write the bundle. "
            "Paths default to the project that contains the cwd."
        ),
    )
    parser.add_argument("--condition", required=True, help="condition name from data/conditions.yaml (e.g. sigma-0p5)")
    add_conditions_file_option(parser)
    parser.add_argument("--preset", default="cpu", help="training preset: paper, cpu or smoke (default: cpu)")
    parser.add_argument(
        "--dataset", help=f"dataset folder (default: {default_path('datasets', '/<preset>/<condition>.zarr')})"
    )
    parser.add_argument("--out", help=f"bundle folder to write (default: {default_path('bundles', '/<condition>')})")
    parser.add_argument(
        "--checkpoint-dir",
        help=f"where states go while a leg runs (default: {default_path('training_cache', '/<preset>/<condition>')})",
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--resume",
        action="store_true",
        help="continue the newest training state (the running leg's, or the one committed in the bundle) and replace the bundle",
    )
    start.add_argument("--fresh", action="store_true", help="start over even if a training state exists")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing bundle at --out when starting over"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--iterations", type=int, help="total iterations to reach (default: the preset's)")
    parser.add_argument("--batch-size", type=int, help="override the preset's frames per iteration")
    parser.add_argument("--seed", type=int, help="random seed (default: the preset's, 0)")
    parser.add_argument(
        "--lr-factor",
        type=float,
        help="multiply the learning rates by this factor in this leg (e.g. 0.3 for a final phase; default 1)",
    )
    parser.add_argument(
        "--lr-steps",
        metavar="IT:FACTOR,...",
        help="learning-rate steps within the run: from iteration IT on, the rates are multiplied by FACTOR "
        "(e.g. 60000:0.3,80000:0.1; absolute iterations, so pass the same steps when resuming; "
        "before the first step --lr-factor applies)",
    )
    parser.add_argument(
        "--frame-seed",
        type=int,
        metavar="N",
        help="draw this leg's training frames from a new stream seeded N instead of continuing the saved one "
        "(a resumed leg otherwise sees exactly the frames an uninterrupted run would)",
    )
    parser.add_argument(
        "--score-every", type=int, help="iterations between recovery scores in the history (0: only at the end)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        metavar="MINUTES",
        help="end this leg after about this many minutes of training: save the state and write the bundle",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: one run per core)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from flygnn.cli.options import training_process
    from flygnn.errors import FlygnnError
    from flygnn.stages.train import train_condition
    from flygnn.train import parse_lr_steps

    if args.time_limit is not None and args.time_limit <= 0:
        raise FlygnnError(f"--time-limit must be > 0 minutes, got {args.time_limit}.")
    stop = training_process(args.threads, tune_allocator=args.device == "cpu")
    out = train_condition(
        args.condition,
        args.preset,
        dataset=args.dataset,
        out=args.out,
        checkpoint_dir=args.checkpoint_dir,
        resume=args.resume,
        fresh=args.fresh,
        overwrite=args.overwrite,
        device=args.device,
        overrides={
            "iterations": args.iterations,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "score_every": args.score_every,
            "lr_factor": args.lr_factor,
            "frame_seed": args.frame_seed,
            "lr_steps": None if args.lr_steps is None else parse_lr_steps(args.lr_steps),
        },
        progress=not args.no_progress,
        conditions_file=args.conditions_file,
        time_limit_s=None if args.time_limit is None else 60.0 * args.time_limit,
        stop=stop,
    )
    print(f"wrote bundle {out}")
    return 0
