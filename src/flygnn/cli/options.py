"""Options several subcommands share, with their defaults spelled from :data:`flygnn.project.DEFAULT_PATHS`."""

from __future__ import annotations

from flygnn.project import DEFAULT_PATHS


def default_path(key: str, tail: str = "") -> str:
    """The default path ``key`` of the project layout as help text shows it (``tail`` appended)."""
    return DEFAULT_PATHS[key] + tail


def add_conditions_file_option(parser) -> None:
    parser.add_argument(
        "--conditions-file", metavar="YAML", help=f"the conditions (default: {default_path('conditions_file')})"
    )


def training_process(threads: int, tune_allocator: bool = True):
    """Set up this process for training: ``threads`` torch threads (>= 1, else a FlygnnError), glibc's
    allocator tuned (CPU runs), and SIGUSR1 as the clean stop. Returns the stop event the trainer watches."""
    import signal
    import threading

    import torch

    from flygnn.errors import FlygnnError
    from flygnn.train import tune_cpu_allocator

    if threads < 1:
        raise FlygnnError(f"--threads must be >= 1, got {threads}.")
    torch.set_num_threads(threads)
    if tune_allocator:
        tune_cpu_allocator()
    stop = threading.Event()
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda *_: stop.set())
    return stop
