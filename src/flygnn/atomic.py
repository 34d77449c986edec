"""Atomic writes: a later step must never trust a half-written file.

Everything is written to a temporary sibling and renamed into place on success;
``os.replace`` is atomic on POSIX within one filesystem. The caches (``.npz``) are read
back distrusting them all the same: a copy cut short or a damaged disk is recomputed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from flygnn.errors import FlygnnError

logger = logging.getLogger(__name__)
log = logger
T = TypeVar("T")
# what np.load raises for a truncated or damaged .npz (not a zip, a member cut short, a bad
# CRC), for a file of pickled objects (refused) and for members a cache should have had
UNREADABLE_NPZ = (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError)

# what open() and mkdir() ask for; the umask takes away from it
FILE_MODE, DIRECTORY_MODE = 0o666, 0o777


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _disk_full_message(path: Path) -> str:
    return (
        f"no space left on the device while writing {path}; nothing was kept. "
        "Free disk space (or choose another output folder) and run again."
    )


def _explained(path: Path, exc: OSError) -> FlygnnError | None:
    """The message for a failed write that the user can fix (no space, no permission, a
    read-only filesystem); None for anything else, which stays a traceback."""
    if exc.errno == errno.ENOSPC:
        return FlygnnError(_disk_full_message(path))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        folder = Path(exc.filename).parent if exc.filename else path.parent
        return FlygnnError(
            f"cannot write {path}: {folder} is not writable ({exc.strerror}); make it writable for you "
            "(or choose another output folder) and run again."
        )
    return None


@contextlib.contextmanager
def _writes_into(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        explained = _explained(path, exc)
        if explained is not None:
            raise explained from exc
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    The temporary name keeps the suffix so libraries that infer the format from it
    (matplotlib, safetensors) still work. The file gets the mode a plain ``open()`` gives
    (0666 less the umask) whatever the writer did: safetensors' ``save_file`` makes its
    files private (0600), which on a shared project folder hides a bundle from the
    users who can read the ``bundle.json`` beside it.
    """
    path = Path(path)
    with _writes_into(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, FILE_MODE & ~_umask())
        os.replace(tmp_path, path)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        explained = _explained(path, exc)
        if explained is not None:
            raise explained from exc
        raise
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def remove_tree(path: Path, shown: str | None = None) -> None:
    """Delete the folder ``path``; FlygnnError naming it and the fix when that is impossible.

    A folder made read-only (``chmod 555``) is made writable first: it is one of ours.
    """

    def writable_and_again(function, name, exc_info) -> None:  # noqa: ARG001
        parent = Path(name).parent
        try:
            for folder in {parent, Path(name)}:
                if folder.is_dir() and not folder.is_symlink():
                    folder.chmod(folder.stat().st_mode | stat.S_IRWXU)
            function(name)
        except FileNotFoundError:
            pass
        except OSError:
            raise exc_info[1] from None

    try:
        shutil.rmtree(path, onerror=writable_and_again)
    except FileNotFoundError:
        return
    except OSError as exc:
        if shown is None:
            below_cwd = os.path.relpath(path)
            shown = str(path) if below_cwd.startswith("..") else below_cwd
        raise FlygnnError(
            f"{shown} is left from an earlier run and cannot be removed ({exc.strerror}: {exc.filename}). "
            f"Remove it by hand (`chmod -R u+w {shown} && rm -rf {shown}`, as its owner), then run again."
        ) from exc


def leftovers(path: str | os.PathLike) -> list[Path]:
    """What ``atomic_directory(path)`` leaves when its process is killed: staging folders and the
    previous version moved aside. Remove them only when no other process writes ``path``."""
    path = Path(path)
    found = sorted(path.parent.glob(f".{path.name}.*.tmp"))
    old = path.with_name(f".{path.name}.old")
    return found + ([old] if old.exists() else [])


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; move it to ``path`` on success.

    With ``overwrite`` an existing ``path`` is replaced only after the new one is
    complete (the old one is moved aside to ``.<name>.old`` first and deleted after the
    swap). A ``.<name>.old`` left by a killed run is removed before any work starts (or
    reported with the fix); one that cannot be removed after the swap is reported as a
    warning, the new folder being complete and in place.
    """
    path = Path(path)
    with _writes_into(path):
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not overwrite:
        raise FlygnnError(f"{path} already exists; pass --overwrite to replace it.")
    old = path.with_name(f".{path.name}.old")
    if old.exists():
        remove_tree(old)
    with _writes_into(path):
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(tmp, DIRECTORY_MODE & ~_umask())  # mkdtemp makes it private (0700)
    try:
        yield tmp
        if path.exists():
            if old.exists():  # made while the block ran
                remove_tree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            try:
                remove_tree(old)
            except FlygnnError as exc:
                logger.warning("%s", exc)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        explained = _explained(path, exc)
        if explained is not None:
            raise explained from exc
        raise
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: Path, attempts: int = 10) -> None:
    """Remove a staging folder that a thread may still be writing into (an interrupted notebook's
    papermill thread saves its output a moment after the kernel is gone): try again while it exists."""
    for attempt in range(attempts):
        shutil.rmtree(tmp, ignore_errors=True)
        if not tmp.exists():
            return
        time.sleep(0.2 * (attempt + 1))


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def write_cached_arrays(path: str | os.PathLike, arrays: Mapping[str, Any]) -> None:
    """Plain arrays to the cache file ``path`` (``.npz``), atomically: never half-written.

    A cache that cannot be written (a read-only or full disk) only costs time on the next
    run: a one-line warning, no error.
    """
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    except (OSError, FlygnnError) as exc:
        log.warning("cannot write the cache %s (%s); it is computed again next time.", path, exc)


def read_cached_arrays(
    path: str | os.PathLike, build: Callable[[dict[str, np.ndarray]], T], *, delete_unreadable: bool = True
) -> T | None:
    """``build`` applied to every array of the cache file ``path``; None when there is none.

    A cache that cannot be read (truncated by a full disk or a killed copy, damaged, pickled,
    missing a member ``build`` needs) gets a one-line warning and None, so that the caller
    computes it again instead of failing; it is deleted unless ``delete_unreadable`` is
    False. Reading every member checks its CRC.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return build({name: data[name] for name in data.files})
    except UNREADABLE_NPZ as exc:
        reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.warning("cache %s is unreadable (%s); computing it again.", path, reason)
        if delete_unreadable:
            with contextlib.suppress(OSError):
                path.unlink()
        return None
