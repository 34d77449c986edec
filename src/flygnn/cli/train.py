"""``flygnn train``: train the GNN on one condition's dataset and write its bundle."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the GNN on a simulated dataset and write a checkpoint bundle",
        description=(
            "Train the GNN of DESIGN section 6 on one condition's dataset and write its checkpoint "
            "bundle (model.safetensors, bundle.json, activity.safetensors, loss log and figure). "
            "Checkpoints every few minutes; --resume continues exactly."
        ),
    )
    parser.add_argument("--condition", required=True, help="condition name from data/conditions.yaml (e.g. sigma-0p5)")
    parser.add_argument("--conditions-file", help="default data/conditions.yaml")
    parser.add_argument("--preset", default="cpu", help="training preset: paper, cpu or smoke (default: cpu)")
    parser.add_argument("--dataset", help="dataset folder (default: data/datasets/<preset>/<condition>.zarr)")
    parser.add_argument("--out", help="bundle folder to write (default: data/bundles/<condition>)")
    parser.add_argument(
        "--checkpoint-dir", help="where training checkpoints go (default: data/cache/training/<preset>/<condition>)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --checkpoint-dir")
    parser.add_argument("--fresh", action="store_true", help="start over even if a checkpoint exists")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle at --out")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--iterations", type=int, help="override the preset's number of iterations")
    parser.add_argument("--batch-size", type=int, help="override the preset's frames per iteration")
    parser.add_argument("--seed", type=int, help="random seed (default: the preset's, 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: one run per core)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from flygnn.errors import FlygnnError
    from flygnn.train import train_condition, tune_cpu_allocator

    if args.threads < 1:
        raise FlygnnError(f"--threads must be >= 1, got {args.threads}.")
    if args.resume and args.fresh:
        raise FlygnnError("--resume and --fresh exclude each other.")
    torch.set_num_threads(args.threads)
    if args.device == "cpu":
        tune_cpu_allocator()
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
        overrides={"iterations": args.iterations, "batch_size": args.batch_size, "seed": args.seed},
        progress=not args.no_progress,
        conditions_file=args.conditions_file,
    )
    print(f"wrote bundle {out}")
    return 0
