"""Execute one notebook with papermill so that a signal stops it, its kernel included.

papermill (through nbclient) starts the kernel in a session of its own, out of reach of
the terminal's Ctrl-C and of a signal to our process group, and, when it runs in the main
thread, takes over SIGINT and SIGTERM for the time of a notebook (and afterwards resets
SIGTERM to its default, which kills without cleaning up). So the notebook runs in a
worker thread, where nbclient leaves the signals alone, and the main thread waits: on
KeyboardInterrupt (Ctrl-C, or SIGTERM through ``flygnn.cli``) it stops every process this
one started, lets the worker end, and re-raises, so the staging folder is discarded and
the locks released on the way out.

The kernel's own output, what it prints outside the notebook's cells (a library's C-level
warning, the traceback ipykernel 7 sometimes logs as it shuts down), goes to a log file
beside the notebook instead of the user's terminal; the caller decides what to keep of it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import psutil

# what a stopped process gets to end cleanly before it is killed
STOP_GRACE_S = 5.0
# how long an interrupted run waits for papermill's thread to notice that its kernel is gone
# before it discards the staging folder anyway (nbclient notices within seconds, more under load)
NOTEBOOK_THREAD_JOIN_S = 10.0
# what a worker process needs, at most, to stop its kernels, wait for papermill's thread and
# discard its staging folder: its parent waits this long before it kills the worker
WORKER_STOP_S = 2 * STOP_GRACE_S + NOTEBOOK_THREAD_JOIN_S + 5.0


def stop_child_processes(grace_s: float = STOP_GRACE_S, kill: bool = False) -> list[int]:
    """Terminate every process below this one (kernels, workers), kill those that outlive
    ``grace_s``; returns their pids. ``kill``: kill at once (kernels, which have nothing to
    save, the run being abandoned, and whose threads print tracebacks when terminated)."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.kill() if kill else child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace_s)
    return [child.pid for child in children]


def kernel_logging_to(log: Path) -> type:
    """A jupyter_client kernel manager whose kernels write their stdout and stderr to ``log``."""
    from jupyter_client.manager import AsyncKernelManager

    class KernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            with open(log, "ab") as handle:  # the kernel process holds its own copy of the descriptor
                await super().start_kernel(**{"stdout": handle, "stderr": handle, **kw})

    return KernelManager


def execute_notebook(
    template: Path, output: Path, cwd: Path, kernel_log: Path | None = None, **papermill_options: Any
) -> None:
    """``papermill.execute_notebook(template, output, cwd=cwd, ...)``, interruptible (see above);
    with ``kernel_log``, the kernel's own output is appended to that file."""
    import papermill

    failure: list[BaseException] = []
    if kernel_log is not None:
        papermill_options["kernel_manager_class"] = kernel_logging_to(kernel_log)

    def work() -> None:
        try:
            papermill.execute_notebook(str(template), str(output), cwd=str(cwd), **papermill_options)
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)

    worker = threading.Thread(target=work, name=f"notebook {template.name}", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)  # returns to the interpreter often, so that signals are handled
    except BaseException:
        # the worker's sockets to the kernel break as it is stopped; their tracebacks
        # (tornado, asyncio) would bury the one line that says the run was interrupted
        for name in ("tornado", "asyncio"):
            logging.getLogger(name).disabled = True
        stop_child_processes(kill=True)
        worker.join(NOTEBOOK_THREAD_JOIN_S)
        raise
    if failure:
        raise failure[0]


class NotebookFailed(Exception):
    """One section's notebook failed; ``message`` says where and why."""

    def __init__(self, section: str, message: str, record: dict[str, Any]):
        super().__init__(message)
        self.section = section
        self.message = message
        self.record = record


def failure_details(exc: BaseException) -> dict[str, Any]:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        source_lines = [line for line in (exc.source or "").splitlines() if line.strip()]
        return {
            "cell_index": exc.cell_index,
            "execution_count": exc.exec_count,
            "source_head": "\n".join(source_lines[:3]),
            "error": f"{exc.ename}: {exc.evalue}",
        }
    return {"cell_index": None, "execution_count": None, "source_head": "", "error": f"{type(exc).__name__}: {exc}"}


def record_portable_paths(notebook: Path, template: Path, published: Path, root: Path | None) -> None:
    """Papermill records the absolute paths it read and wrote (here a staging folder that is
    gone a moment later); the executed notebook is published with the book, so it names
    them relative to the project instead."""
    import nbformat

    from flygnn.bundle import portable_path

    executed = nbformat.read(notebook, as_version=4)
    recorded = executed.metadata.get("papermill", {})
    recorded["input_path"] = portable_path(template, root)
    recorded["output_path"] = portable_path(published, root)
    nbformat.write(executed, notebook)
