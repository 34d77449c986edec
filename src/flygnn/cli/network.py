"""``flygnn network`` and ``flygnn groundtruth``: inspect the network and its ground truth."""

from __future__ import annotations

import json

# where connectome.cache_dir() keeps compiled networks and mapped ground truths
CACHE_HELP = (
    "Compiled networks and the ground truth mapped onto them are cached in $FLYGNN_CACHE_DIR "
    "(default ~/.cache/flygnn); deleting the folder only costs the time to rebuild them."
)
# groundtruth.find_flyvis_model's order, for every --flyvis-model help text
GROUND_TRUTH_LOOKUP = (
    "$FLYGNN_FLYVIS_MODEL, then the copy of flow/0000/000 shipped with flygnn, then "
    "flow/0000/000 where `flyvis download-pretrained` puts it"
)
EXTENT_HELP = "lattice radius in columns (default 8: 217 columns, the full network)"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "network",
        help="compile (and cache) the network; print its size",
        description="Compile the flyvis connectome at the given extent and print its size. " + CACHE_HELP,
    )
    parser.add_argument("--extent", type=int, default=8, help=EXTENT_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=network_command)

    parser = subparsers.add_parser(
        "groundtruth",
        help="print statistics of the ground truth τ, V_rest and W",
        description="Map the ground truth (τ, V_rest, W) of a flyvis network onto the compiled network "
        "and print its statistics. " + CACHE_HELP,
    )
    parser.add_argument("--extent", type=int, default=8, help=EXTENT_HELP)
    add_groundtruth_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=groundtruth_command)


def add_groundtruth_options(parser) -> None:
    parser.add_argument(
        "--flyvis-model",
        metavar="DIR",
        default=None,
        help=f"flyvis network directory with the ground truth (default: {GROUND_TRUTH_LOOKUP})",
    )
    parser.add_argument(
        "--synthetic-groundtruth",
        action="store_true",
        help="use a documented synthetic ground truth instead (labelled synthetic in every output)",
    )


def _print(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        width = max(map(len, summary))
        for key, value in summary.items():
            print(f"{key:<{width}}  {value}")


def network_command(args) -> int:
    from flygnn.connectome import load_network

    _print(load_network(args.extent).summary(), args.json)
    return 0


def groundtruth_command(args) -> int:
    from flygnn.connectome import load_network
    from flygnn.groundtruth import load_ground_truth

    network = load_network(args.extent)
    truth = load_ground_truth(network, args.flyvis_model, synthetic=args.synthetic_groundtruth)
    _print({"extent": network.extent, **truth.summary()}, args.json)
    return 0
