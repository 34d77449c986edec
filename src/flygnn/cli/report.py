"""``flygnn report``: bring the analyses and chapters up to date and render the book."""

from __future__ import annotations

import argparse
import os

from flygnn.cli.network import GROUND_TRUTH_LOOKUP
from flygnn.cli.options import add_conditions_file_option, default_path
from flygnn.errors import FlygnnError

# exit status when everything up to the render is done but Quarto is not installed
NO_QUARTO = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="analyse what changed and render the Quarto book (HTML and PDF)",
        description=(
            "Check the inputs (bundles, notebooks, ground truth; one message listing every problem), "
            "analyse the conditions whose bundle or notebooks changed (compared by content, "
            "several conditions at a time), regenerate the chapter parts, then `quarto render` into "
            "a staging folder that replaces _book/ only when the book is complete; a book made from "
            "unchanged files is not rendered again. Each run logs to results/logs/ (report-latest.log "
            f"is the newest). Without Quarto everything up to the render is done (exit status {NO_QUARTO})."
        ),
    )
    parser.add_argument("--no-render", action="store_true", help="stop after the analyses and chapters")
    parser.add_argument(
        "--cores",
        type=int,
        default=os.cpu_count() or 1,
        help="conditions analysed at the same time (default: this machine's cores, %(default)s)",
    )
    parser.add_argument("--force", action="store_true", help="re-run every analysis and render the book")
    add_conditions_file_option(parser)
    parser.add_argument(
        "--bundles", metavar="DIR", help=f"bundle folders <DIR>/<condition>/ (default: {default_path('bundles')})"
    )
    parser.add_argument(
        "--flyvis-model",
        default="",
        metavar="DIR",
        help=f"ground-truth flyvis network folder, checked before anything runs (default: {GROUND_TRUTH_LOOKUP})",
    )
    parser.add_argument(
        "--results", metavar="DIR", help=f"results <DIR>/<condition>/ (default: {default_path('results')})"
    )
    parser.add_argument(
        "--notebooks", metavar="DIR", help=f"analysis notebook templates (default: {default_path('notebooks')})"
    )
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument(
        "--pre-render",
        action="store_true",
        help="Quarto's pre-render step: update like --no-render unless `flygnn report` already did",
    )
    steps.add_argument(
        "--chapters-only",
        action="store_true",
        help="(workflow rule) write chapters/_generated/ from the existing results",
    )
    steps.add_argument(
        "--render-only", action="store_true", help="(workflow rule) render the book unless it is unchanged"
    )
    parser.set_defaults(func=run)


def show_event(event) -> None:
    """One line per notebook finished and per condition (the log has every event)."""
    if event.status != "running":
        print(event.describe(), flush=True)


def show_work(event) -> None:
    """What `flygnn report` shows: only work done (the summary counts the conditions up to date)."""
    if event.status not in ("running", "skipped"):
        print(event.describe(), flush=True)


def run(args: argparse.Namespace) -> int:
    from flygnn.conditions import load_conditions
    from flygnn.project import ProjectLayout
    from flygnn.report import book_check, chapters, quarto
    from flygnn.stages import report

    if args.cores < 1:
        raise FlygnnError(f"--cores must be at least 1, got {args.cores}.")
    if args.pre_render and os.environ.get(quarto.UPDATED_ENV):
        print("pre-render: flygnn report already brought the analyses and chapters up to date")
        return 0
    layout = ProjectLayout.find(
        conditions_file=args.conditions_file,
        bundles=args.bundles,
        results=args.results,
        notebooks=args.notebooks,
    )
    conditions = load_conditions(layout.conditions_file)
    book_check.load_quarto_config(layout)  # a broken _quarto.yml is reported before any work

    with report.report_run(layout) as log_file:
        if args.chapters_only:
            report.update_chapters(layout, conditions)
            return 0
        if args.render_only:
            report.render_report(layout, conditions, force=args.force)
            return 0
        update = report.update_report(
            layout,
            conditions,
            cores=args.cores,
            force=args.force,
            flyvis_model=args.flyvis_model,
            on_event=show_work,
        )
        print(update.summary())
        print(chapters.results_summary(layout, conditions))
        print(f"log: {layout.relative(log_file)}")
        if args.no_render or args.pre_render:
            return 0
        if quarto.find_quarto() is None:
            print(quarto.install_help())
            return NO_QUARTO
        report.render_report(layout, conditions, force=args.force)
    return 0
