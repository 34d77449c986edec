"""The per-condition cache the section notebooks share: ``<output_dir>/cache/<name>-<key>.npz``.

Quantities that several sections use or that take long are computed once per
condition, keyed by the fingerprints of their inputs and by the digest of the code that
computes them (:func:`computing_code`), written atomically and guarded by a file lock, so
notebooks running in parallel never compute the same thing twice and an edit of that code
never serves a quantity the old code computed. Only plain arrays are stored: a cache file
is never unpickled.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from flygnn.atomic import read_cached_arrays, write_cached_arrays
from flygnn.code_digest import source_digest

# The cache files' layout. A change of what a quantity is needs no bump: the code that
# computes it is part of every key (computing_code).
CACHE_VERSION = 2
# what computes the cached quantities: flygnn.analysis, with every flygnn module it imports,
# and the notebook context, whose methods call it and choose what is stored
COMPUTING_MODULES = ("flygnn.analysis",)
COMPUTING_FILES = ("notebook/context.py",)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_arrays(
    directory: Path, name: str, key: str, compute: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Arrays from ``directory/<name>-<key>.npz``, computing and saving them (atomically) if absent.

    A lock file makes concurrent callers wait for the first one instead of recomputing.
    Never unpickles: object arrays are refused.
    """
    path = directory / f"{name}-{key}.npz"
    with _locked(directory / f".{name}.lock"):
        cached = read_cached_arrays(path, dict)  # an unreadable file is deleted: recomputed below
        if cached is not None:
            return cached
        arrays = compute()
        write_cached_arrays(path, arrays)
        return arrays


def unreadable_cache_files(directory: str | Path, names: list[str]) -> set[str]:
    """The ``.npz`` files among ``names`` in ``directory`` that cannot be read (each with a
    one-line warning), left where they are: as ``shutil.copytree``'s ``ignore``, so that a new
    analysis run starts from the previous run's cache without its damaged files."""
    directory = Path(directory)
    return {
        name
        for name in names
        if name.endswith(".npz")
        and (directory / name).is_file()
        and read_cached_arrays(directory / name, lambda arrays: True, delete_unreadable=False) is None
    }


def computing_code(root: Path | None = None) -> str:
    """The digest of the code that computes the cached quantities (:data:`COMPUTING_MODULES`
    and :data:`COMPUTING_FILES`) under the flygnn package folder ``root`` (the installed one)."""
    if root is None:
        return _installed_computing_code()
    return source_digest(COMPUTING_MODULES, [root / name for name in COMPUTING_FILES], root=root)


@functools.cache
def _installed_computing_code() -> str:  # once per kernel: the code does not change under it
    return computing_code(Path(__file__).resolve().parents[1])


def cache_key(*parts: Any) -> str:
    """16 hex digits naming a cached quantity's inputs (fingerprints, options), the code that
    computes it (:func:`computing_code`) and :data:`CACHE_VERSION`."""
    key = [CACHE_VERSION, computing_code(), *parts]
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def restore(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any] | None = None):
    """An instance of a fitted estimator rebuilt from its cached learned attributes."""
    obj = cls.__new__(cls)
    for name, value in arrays.items():
        setattr(obj, name, value)
    for name, value in (scalars or {}).items():
        setattr(obj, name, value)
    return obj
