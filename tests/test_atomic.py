"""Atomic writes: nothing half-written, nothing private, disk-full turned into a message."""

from __future__ import annotations

import errno
import os
import stat
import tempfile

import numpy as np
import pytest

from flygnn.atomic import atomic_directory, atomic_path, write_cached_arrays, write_json
from flygnn.errors import FlygnnError


def test_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_rewrite(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"a": 1})
    with pytest.raises(ValueError):
        write_json(target, {"a": float("nan")})  # NaN is not JSON: refused, old file kept
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_outputs_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        write_json(tmp_path / "x.json", {})
        with atomic_directory(tmp_path / "bundle") as tmp:
            (tmp / "f").write_text("x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "bundle").stat().st_mode) == 0o755


def test_directory_is_replaced_only_when_complete(tmp_path):
    target = tmp_path / "bundle"
    with atomic_directory(target) as tmp:
        (tmp / "old").write_text("1")
    with pytest.raises(FlygnnError, match="already exists"):
        with atomic_directory(target):
            pass
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(target, overwrite=True) as tmp:
            (tmp / "new").write_text("2")
            raise KeyboardInterrupt
    assert [p.name for p in target.iterdir()] == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_disk_full_becomes_a_message(tmp_path):
    with pytest.raises(FlygnnError, match="no space left"):
        with atomic_path(tmp_path / "big.bin"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def _denied(*args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied", str(kwargs.get("dir", "?")) + "/.x.tmp")


@pytest.mark.parametrize("writer", ["atomic_path", "atomic_directory"])
def test_an_unwritable_output_folder_is_a_message_not_a_traceback(tmp_path, monkeypatch, writer):
    monkeypatch.setattr(tempfile, "mkstemp", _denied)
    monkeypatch.setattr(tempfile, "mkdtemp", _denied)
    target = tmp_path / "results" / "sigma-0"
    with pytest.raises(FlygnnError) as refused:
        with (atomic_path if writer == "atomic_path" else atomic_directory)(target):
            pass
    assert str(refused.value) == (
        f"cannot write {target}: {target.parent} is not writable (Permission denied); make it writable for you "
        "(or choose another output folder) and run again."
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_results_folder_is_a_message(tmp_path):
    (tmp_path / "results").mkdir(mode=0o555)
    with pytest.raises(FlygnnError, match=r"results is not writable \(Permission denied\)"):
        with atomic_directory(tmp_path / "results" / "sigma-0"):
            pass


def test_an_unwritable_cache_only_warns(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(tempfile, "mkstemp", _denied)
    with caplog.at_level("WARNING", logger="flygnn"):
        write_cached_arrays(tmp_path / "cache.npz", {"x": np.zeros(2)})
    assert not (tmp_path / "cache.npz").exists()
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"cannot write the cache {tmp_path / 'cache.npz'}") and "\n" not in warning
