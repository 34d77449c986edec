"""The per-condition cache the section notebooks share: ``<output_dir>/cache/<name>-<key>.npz``.

Quantities that several sections use or that take long are computed once per
condition, keyed by the fingerprints of their inputs, written atomically and guarded
by a file lock, so notebooks running in parallel never compute the same thing twice.
Only plain arrays are stored: a cache file is never unpickled.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from flygnn.atomic import read_cached_arrays, write_cached_arrays

# Bump when a cached quantity's definition changes, so old caches are not reused.
CACHE_VERSION = 2  # 2: upstream-rule gauge attributes, 1000-point fits, upstream clustering


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


def cache_key(*parts: Any) -> str:
    """16 hex digits naming a cached quantity's inputs (fingerprints, options) and :data:`CACHE_VERSION`."""
    return hashlib.sha256(json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str).encode()).hexdigest()[:16]


def restore(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any] | None = None):
    """An instance of a fitted estimator rebuilt from its cached learned attributes."""
    obj = cls.__new__(cls)
    for name, value in arrays.items():
        setattr(obj, name, value)
    for name, value in (scalars or {}).items():
        setattr(obj, name, value)
    return obj
