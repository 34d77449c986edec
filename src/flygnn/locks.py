"""Locks between flygnn runs: one analysis of a condition, one build of the book at a time.

An ``fcntl`` lock on a file under ``results/.locks/``: the operating system releases it
when its process ends, however it ends (SIGKILL and a lost node included), so a lock is
never left behind and never needs removing by hand. The file holds who took it last
(pid, host, time), for the message a second run gets.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from flygnn.errors import FlygnnError

logger = logging.getLogger(__name__)


class LockHeld(FlygnnError):
    """Another process holds the lock."""


@contextlib.contextmanager
def exclusive_lock(path: Path, what: str, shown: str | None = None, wait: bool = False) -> Iterator[None]:
    """Hold the lock ``path`` for the block; FlygnnError at once when another process holds it.

    what: what the lock protects, for the message ("the analysis of sigma-0");
    shown: the lock's path as the user should read it (default: ``path``);
    wait: when another process holds the lock, say so and wait for it instead (for work
    that the other process does for both, like a shared dataset).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the whole block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "a process that did not say which"
            if wait:
                logger.warning("%s is running in another flygnn (%s); waiting for it to end", what, holder)
                fcntl.flock(handle, fcntl.LOCK_EX)
            else:
                raise LockHeld(
                    f"{what} is running in another flygnn ({holder}); wait for it to end or stop it. "
                    f"The lock {shown or path} is released as soon as that process ends."
                ) from None
        handle.seek(0)
        handle.truncate()
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {started}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock
