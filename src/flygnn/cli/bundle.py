"""``flygnn import-upstream`` and ``flygnn bundle-info``: bring in and inspect checkpoint bundles."""

from __future__ import annotations

import argparse
import json

from flygnn.cli.options import add_conditions_file_option, default_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-upstream",
        help="convert a flyvis-gnn checkpoint and its dataset into a checkpoint bundle",
        description=(
            "Convert a flyvis-gnn checkpoint (best_model_with_*.pt; legacy lin_edge./lin_phi. names too) "
            "plus its dataset folder graphs_data/fly/<dataset>/ (ode_params.pt, or legacy edge_index.pt, and "
            "x_list_train) into a flygnn bundle. The ground truth in ode_params.pt (tau_i, V_i_rest, W) must "
            "equal flygnn's for the same network. The .pt files are loaded with weights_only=True: files "
            "that would run code are refused. Default paths are those of the project that contains the cwd."
        ),
    )
    parser.add_argument("checkpoint", help="the flyvis-gnn .pt checkpoint")
    parser.add_argument("--dataset", required=True, help="its dataset folder (or a flygnn dataset of the same network)")
    parser.add_argument("--condition", required=True, help="condition name for the bundle (e.g. sigma-0p05)")
    parser.add_argument(
        "--sigma", type=float, help="σ of the training data (default: the condition's, from --conditions-file)"
    )
    add_conditions_file_option(parser)
    parser.add_argument("--out", help=f"bundle folder to write (default: {default_path('bundles', '/<condition>')})")
    parser.add_argument(
        "--extent", type=int, default=8, help="network extent the checkpoint was trained on (default 8)"
    )
    parser.add_argument(
        "--flyvis-model",
        metavar="DIR",
        default=None,
        help="flyvis network directory the data were simulated from, the ground truth to check and score "
        "against (default: $FLYGNN_FLYVIS_MODEL, then the flow/0000/000 shipped with flygnn)",
    )
    parser.add_argument("--activity-frames", type=int, default=64, help="training frames sampled into the bundle")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle at --out")
    parser.set_defaults(func=import_command)

    info = subparsers.add_parser("bundle-info", help="validate a checkpoint bundle and print its summary")
    info.add_argument("bundle", help="bundle folder")
    info.set_defaults(func=info_command)


def import_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flygnn.conditions import load_conditions
    from flygnn.connectome import load_network
    from flygnn.errors import FlygnnError
    from flygnn.groundtruth import load_ground_truth
    from flygnn.project import ProjectLayout
    from flygnn.upstream import import_upstream

    layout = ProjectLayout.find(required=False, conditions_file=args.conditions_file)
    sigma = args.sigma
    if sigma is None:
        known = {c.name: c.sigma for c in load_conditions(layout.conditions_file)}
        if args.condition not in known:
            raise FlygnnError(
                f"condition {args.condition!r} is not in the conditions file (known: {sorted(known)}); pass --sigma."
            )
        sigma = known[args.condition]
    out = Path(args.out) if args.out else layout.bundle_dir(args.condition)
    network = load_network(extent=args.extent)
    # an explicit --flyvis-model must be found; without it the default lookup may come up empty
    truth = load_ground_truth(network, flyvis_model=args.flyvis_model) if args.flyvis_model else None
    path = import_upstream(
        args.checkpoint,
        args.dataset,
        out,
        condition=args.condition,
        sigma=sigma,
        network=network,
        ground_truth=truth,
        overwrite=args.overwrite,
        activity_frames=args.activity_frames,
    )
    print(f"wrote bundle {path}")
    return 0


def info_command(args: argparse.Namespace) -> int:
    from flygnn.bundle import STATE_FOLDER, load_bundle
    from flygnn.train.state import peek_iteration

    bundle = load_bundle(args.bundle)
    training = bundle.meta.get("training") or {}
    summary = {
        "bundle": str(bundle.path),
        "fingerprint": bundle.fingerprint(),
        "condition": bundle.condition,
        "sigma": bundle.sigma,
        "architecture": bundle.meta["architecture"],
        "training": {k: training.get(k) for k in ("preset", "iterations", "wall_time_s", "final_loss", "device")},
        "recovery": bundle.meta.get("recovery"),
        "activity_frames": int(bundle.activity["frames_voltage"].shape[0]),
        # how it was trained, leg by leg, and whether `flygnn train --resume` can continue it
        "legs": [
            {
                "from_iteration": leg.get("started_iteration"),
                "to_iteration": leg.get("ended_iteration"),
                "hours": round(float(leg.get("wall_time_s", 0.0)) / 3600, 2),
                "lr_factor": leg.get("lr_factor", 1.0),
                "batch_size": leg.get("batch_size"),
                "device": leg.get("device"),
            }
            for leg in training.get("legs", [])
        ],
        "resumable_state_iteration": peek_iteration(bundle.path / STATE_FOLDER),
    }
    print(json.dumps(summary, indent=2))
    return 0
