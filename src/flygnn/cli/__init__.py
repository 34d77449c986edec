"""The ``flygnn`` command: one subcommand per pipeline stage.

Each subcommand lives in its own module here, exposing ``register(subparsers)``
which adds its parser and sets ``func`` to a handler taking the parsed args and
returning an exit status. Handlers are thin: they call library functions.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from flygnn import __version__
from flygnn.errors import FlygnnError

# Each module imports its heavy dependencies (torch, flyvis) inside the handler, so
# `flygnn --help` and light commands start fast (importing torch alone costs seconds).
COMMAND_MODULES = [
    "network",
    "simulate",
    "train",
    "replicate",
    "bundle",
    "analyze",
    "report",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flygnn",
        description=(
            "Simulate the fly visual system on its connectome, train a GNN on the "
            "voltage traces and publish what it learned as a Quarto book."
        ),
    )
    parser.add_argument("--version", action="version", version=f"flygnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"flygnn.cli.{name}").register(subparsers)
    return parser


# the exit status of an interrupted command (128 + SIGINT, as a shell reports Ctrl-C)
INTERRUPTED = 130


def _terminate(signum, frame):  # noqa: ARG001
    # Turn SIGTERM (kill, a cluster scheduler's time limit) into an exception so the
    # atomic writers discard their temporary files instead of leaving them behind.
    raise KeyboardInterrupt


class _Warnings(logging.Handler):
    """What the library reports as a warning (a leftover folder it could not remove) reaches the
    terminal, on whatever sys.stderr is now; its progress (INFO) goes only to a run's log file."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"warning: {record.getMessage()}", file=sys.stderr)


def _show_warnings() -> None:
    package = logging.getLogger("flygnn")
    if not any(isinstance(handler, _Warnings) for handler in package.handlers):
        package.addHandler(_Warnings(logging.WARNING))


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    # SIGINT stops a run whoever started it: a process started with SIGINT ignored (a background
    # job of a script, a parent that ignored it: ignored signals survive exec) would otherwise
    # shrug off `kill -INT` and run on
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _show_warnings()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FlygnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished outputs are kept, partial ones were discarded", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`flygnn replicate --list | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def entry() -> None:
    """The ``flygnn`` command: :func:`main`, and after an interrupt an exit that waits for nothing.

    By then every output was discarded or kept and every lock released (on the way up to
    :func:`main`); a thread a library left running (papermill's, whose kernel was killed) must
    not hold the process: a cluster scheduler's SIGTERM would otherwise be followed by SIGKILL.
    """
    code = main()
    if code == INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
