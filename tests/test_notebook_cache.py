"""The per-condition cache: computed once, reused, never unpickled, rebuilt when corrupt."""

from __future__ import annotations

import numpy as np
import pytest

from flygnn.notebook.cache import cache_key, cached_arrays, computing_code


def test_cached_arrays_compute_once_and_reuse(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3.0), "flag": np.array(True)}

    first = cached_arrays(tmp_path, "gauge", "abc", compute)
    second = cached_arrays(tmp_path, "gauge", "abc", compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(first["x"], second["x"])
    assert bool(second["flag"])
    assert [p.name for p in tmp_path.glob("*.npz")] == ["gauge-abc.npz"]
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically, nothing left behind
    cached_arrays(tmp_path, "gauge", "other-key", compute)  # another input: recomputed
    assert len(calls) == 2


def test_corrupt_cache_is_recomputed(tmp_path):
    (tmp_path / "spectral-k.npz").write_bytes(b"not an npz")
    result = cached_arrays(tmp_path, "spectral", "k", lambda: {"s": np.ones(2)})
    np.testing.assert_array_equal(result["s"], np.ones(2))
    assert cached_arrays(tmp_path, "spectral", "k", lambda: {"s": np.zeros(2)})["s"].sum() == 2


@pytest.mark.parametrize("keep", [0.5, 0.99], ids=["half", "all-but-the-end"])
def test_truncated_cache_is_recomputed(tmp_path, caplog, keep):
    cached_arrays(tmp_path, "spectral", "k", lambda: {"s": np.arange(1000.0)})
    path = tmp_path / "spectral-k.npz"
    whole = path.read_bytes()
    path.write_bytes(whole[: int(len(whole) * keep)])
    with caplog.at_level("WARNING", logger="flygnn"):
        result = cached_arrays(tmp_path, "spectral", "k", lambda: {"s": np.ones(2)})
    np.testing.assert_array_equal(result["s"], np.ones(2))
    assert any("spectral-k.npz" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(cached_arrays(tmp_path, "spectral", "k", lambda: {"s": np.zeros(2)})["s"], np.ones(2))


def test_failed_computation_leaves_no_cache(tmp_path):
    def broken():
        raise RuntimeError("boom")

    try:
        cached_arrays(tmp_path, "clustering", "k", broken)
    except RuntimeError:
        pass
    assert not list(tmp_path.glob("*.npz"))


def test_the_code_that_computes_a_quantity_is_part_of_its_key(tmp_path):
    """An edit of flygnn.analysis (or of what it imports) or of the notebook context makes every
    cached quantity stale; an edit of the figures, which only draw them, does not."""
    import shutil
    from pathlib import Path

    import flygnn

    package = tmp_path / "flygnn"
    shutil.copytree(Path(flygnn.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    assert computing_code(package) == computing_code(), "the copy computes what the installed package does"
    before = computing_code(package)
    for edited, stale in [
        ("figures/style.py", False),
        ("analysis/gauge.py", True),
        ("model.py", True),  # imported by flygnn.analysis
        ("notebook/context.py", True),
    ]:
        path = package / edited
        original = path.read_text()
        path.write_text(original + "\n# edited\n")
        assert (computing_code(package) != before) is stale, edited
        path.write_text(original)
    assert computing_code(package) == before
    assert cache_key("bundle") != cache_key("other bundle")
