"""Same inputs, same bytes: the metrics must not depend on how many threads the machine gives.

`flygnn analyze` run by hand uses every core; run by `flygnn report` through Snakemake it
gets OMP_NUM_THREADS=1 and friends. Sums split across threads round differently, so a
metric computed both ways must still be written with the same bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from oracle_networks import activity_for
from threadpoolctl import threadpool_info, threadpool_limits

from flygnn.analysis.metrics import identity_r2, ols_fit, upstream_fit
from flygnn.analysis.threads import ANALYSIS_THREADS, fixed_threads

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def write_synthetic_analysis(out: Path) -> None:
    """Every metric family (and the per-type table) of a seeded model on a random network, written to ``out``.

    30,000 edges: above the length from which OpenBLAS splits a dot product across threads.
    """
    from flygnn.analysis import (
        BiophysicalParameters,
        FunctionCurves,
        GaugeCorrection,
        LinearisedDynamics,
        SpectralAnalysis,
        TypeClustering,
        biophysics_metrics,
        clustering_control_metrics,
        clustering_features,
        clustering_metrics,
        dynamics_metrics,
        function_metrics,
        gauge_metrics,
        spectral_metrics,
        weight_metrics,
        write_metrics,
    )
    from flygnn.analysis.per_type import per_type_recovery, write_per_type
    from flygnn.model import FlyVisGNN

    n, e, n_types = 1200, 30_000, 12
    rng = np.random.default_rng(0)
    source, target = rng.integers(0, n, e), rng.integers(0, n, e)
    neuron_type = np.arange(n) % n_types
    true_W = rng.normal(0, 0.3, e)
    tau, v_rest = rng.uniform(0.02, 0.3, n), rng.uniform(0.0, 0.8, n)
    activity = activity_for(n, k=40, seed=2)
    torch.manual_seed(0)
    model = FlyVisGNN(source, target, n, embedding_dim=2, hidden=32)
    with torch.no_grad():
        model.a.copy_(torch.as_tensor(rng.normal(0, 1, (n_types, 2))[neuron_type] + rng.normal(0, 0.1, (n, 2))))

    gauge = GaugeCorrection(n_points=200).fit(model, activity)
    bio = BiophysicalParameters().fit(gauge, neuron_type, n_types)
    curves = FunctionCurves().fit(model, activity["voltage_mean"], activity["voltage_std"], tau, v_rest)
    embedding = model.a.detach().double().numpy()
    features, _ = clustering_features(embedding, bio.tau_, bio.v_rest_, gauge.corrected_W_, source, target)
    ours = TypeClustering(n_components=n_types, seeds=(0, 1)).fit(features, neuron_type)
    upstream_rules = dict(standardize=False, init_params="kmeans", reg_covar=1e-6, seeds=(42,), n_components=n_types)
    upstream = TypeClustering(**upstream_rules).fit(features, neuron_type)
    alone = TypeClustering(**upstream_rules).fit(embedding, neuron_type)
    # ARPACK and the block decomposition, as on the full network
    spectra = SpectralAnalysis(40, 20, 2, dense=False).fit(true_W, gauge.corrected_W_, source, target, n)
    mean = activity["voltage_mean"]
    dynamics = LinearisedDynamics(20, dense=False).fit(true_W, tau, gauge.corrected_W_, bio.tau_, source, target, mean)

    metrics = weight_metrics(true_W, gauge) | gauge_metrics(gauge)
    metrics |= biophysics_metrics(tau, v_rest, bio, gauge.zero_range_, neuron_type)
    metrics |= function_metrics(curves, gauge.message_slope_)
    metrics |= clustering_metrics(upstream.accuracy_, ours.scores_, ours.imputed_)
    metrics |= clustering_control_metrics(alone.accuracy_, upstream.accuracy_)
    metrics |= spectral_metrics(spectra) | dynamics_metrics(dynamics)
    write_metrics(out / "metrics.json", metrics, {"network": "random"})
    names = [f"T{t}" for t in range(n_types)]
    write_per_type(
        out / "per-type.csv",
        per_type_recovery(
            names,
            neuron_type,
            target,
            tau,
            v_rest,
            true_W,
            bio.upstream_tau_,
            bio.upstream_v_rest_,
            gauge.upstream_corrected_W_,
            gauge.zero_range_,
            gauge.unidentifiable_,
        ),
    )


def _analyse_in_subprocess(out: Path, threads: int) -> None:
    env = {**os.environ, **{name: str(threads) for name in THREAD_VARIABLES}}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")]))
    code = "import sys; from pathlib import Path; from test_analysis_determinism import write_synthetic_analysis as w; w(Path(sys.argv[1]))"
    out.mkdir()
    done = subprocess.run([sys.executable, "-c", code, str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_metrics_bytes_do_not_depend_on_the_thread_count(tmp_path):
    """What Snakemake (one thread) and a standalone `flygnn analyze` (every core) write is the same."""
    _analyse_in_subprocess(tmp_path / "one", 1)
    _analyse_in_subprocess(tmp_path / "two", 2)
    for name in ("metrics.json", "per-type.csv"):
        one, two = (tmp_path / "one" / name).read_bytes(), (tmp_path / "two" / name).read_bytes()
        assert one == two, f"{name} differs between 1 and 2 threads"


@pytest.mark.parametrize("fit", [ols_fit, upstream_fit, identity_r2])
def test_long_sums_do_not_depend_on_blas_threads(fit):
    """50,000 pairs: OpenBLAS would split a dot product of this length across its threads."""
    rng = np.random.default_rng(0)
    true = rng.normal(size=50_000)
    learned = true + rng.normal(size=true.size)
    results = []
    for threads in (1, 2, 3):
        with threadpool_limits(limits=threads):
            results.append(fit(true, learned))
    assert results[0] == results[1] == results[2]


def test_long_sums_keep_their_value():
    rng = np.random.default_rng(1)
    true = rng.normal(size=20_000)
    learned = 2 * true + 0.5 + rng.normal(0, 0.1, true.size)
    r2, slope = ols_fit(true, learned)
    assert slope == pytest.approx(np.polyfit(true, learned, 1)[0], rel=1e-12)
    assert r2 == pytest.approx(np.corrcoef(true, learned)[0, 1] ** 2, rel=1e-12)


def test_fixed_threads_pins_and_restores():
    before_torch = torch.get_num_threads()
    before_blas = [info["num_threads"] for info in threadpool_info()]
    with fixed_threads():
        assert torch.get_num_threads() == ANALYSIS_THREADS
        assert all(info["num_threads"] == ANALYSIS_THREADS for info in threadpool_info())
    assert torch.get_num_threads() == before_torch
    assert [info["num_threads"] for info in threadpool_info()] == before_blas
