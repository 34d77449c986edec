"""``flygnn analyze``: run the analysis notebooks of one or more conditions (papermill)."""

from __future__ import annotations

import argparse

from flygnn.cli.network import GROUND_TRUTH_LOOKUP
from flygnn.cli.options import add_conditions_file_option, default_path
from flygnn.errors import FlygnnError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="run the analysis notebooks for one or more conditions",
        description=(
            "Execute analysis/<section>.ipynb for every section with papermill, per condition, "
            "into results/<condition>/ (notebooks, figures, metrics.json, manifest.json). The "
            "notebooks get the dataset the bundle was trained on when it is present. A condition "
            "whose bundle and notebooks are unchanged since its last successful run (compared by content) is skipped. A "
            "failing notebook stops its condition, keeps the previous results and is reported; the "
            "other conditions still run. One analysis of a condition runs at a time. Paths default to the project "
            "that contains the cwd."
        ),
    )
    parser.add_argument("--conditions", nargs="+", metavar="NAME", help="condition names (default: all)")
    add_conditions_file_option(parser)
    parser.add_argument(
        "--bundles", metavar="DIR", help=f"bundle folders <DIR>/<condition>/ (default: {default_path('bundles')})"
    )
    parser.add_argument(
        "--results", metavar="DIR", help=f"results <DIR>/<condition>/ (default: {default_path('results')})"
    )
    parser.add_argument(
        "--notebooks", metavar="DIR", help=f"analysis notebook templates (default: {default_path('notebooks')})"
    )
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel (must run this interpreter)")
    parser.add_argument(
        "--flyvis-model",
        default="",
        metavar="DIR",
        help=f"ground-truth flyvis network folder, checked before anything runs (default: {GROUND_TRUTH_LOOKUP})",
    )
    parser.add_argument(
        "--synthetic-groundtruth",
        action="store_true",
        default=None,
        help="compare with the synthetic ground truth (default: whatever each bundle was trained on)",
    )
    parser.add_argument("--force", action="store_true", help="re-run conditions that are up to date")
    parser.add_argument("--cores", type=int, default=1, help="conditions analysed at the same time (default 1)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar per notebook cell")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from flygnn.cli.report import show_event
    from flygnn.conditions import load_conditions, select_conditions
    from flygnn.project import ProjectLayout
    from flygnn.stages.analyze import analyze_conditions

    if args.cores < 1:
        raise FlygnnError(f"--cores must be at least 1, got {args.cores}.")
    layout = ProjectLayout.find(
        conditions_file=args.conditions_file,
        bundles=args.bundles,
        results=args.results,
        notebooks=args.notebooks,
    )
    conditions = select_conditions(load_conditions(layout.conditions_file), args.conditions)
    runs = analyze_conditions(
        layout,
        conditions,
        force=args.force,
        cores=args.cores,
        kernel_name=args.kernel,
        flyvis_model=args.flyvis_model,
        synthetic_groundtruth=args.synthetic_groundtruth,
        progress=args.progress,
        on_event=show_event,
    )
    failed = [r for r in runs if r.status == "failed"]
    summary = ", ".join(f"{r.condition}: {r.status}" for r in runs)
    print(f"analysis: {summary}")
    if failed:
        details = "\n".join(f"- {r.message}" for r in failed)
        raise FlygnnError(f"analysis failed for {len(failed)} of {len(runs)} condition(s):\n{details}")
    return 0
