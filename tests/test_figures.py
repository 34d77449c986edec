"""Every figure family draws from synthetic analysis results and is saved as PNG and PDF."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from flygnn.analysis import BiophysicalParameters, FunctionCurves, GaugeCorrection, OracleModel, SpectralAnalysis
from flygnn.figures.biophysics import parameter_figure
from flygnn.figures.embeddings import embeddings_figure, type_order, umap_clusters_figure, umap_types_figure
from flygnn.figures.functions import message_function_figure, update_function_figure
from flygnn.figures.spectral import spectral_figure
from flygnn.figures.style import save_figure
from flygnn.figures.weights import corrected_weights_figure, raw_weights_figure

N_TYPES = 65
TYPE_NAMES = tuple(f"T{k}" for k in range(N_TYPES - 3)) + ("R1", "Mi1", "Lawf2")


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    n, e = 260, 2000
    neuron_type = np.arange(n) % N_TYPES
    source, target = rng.integers(0, n, e), rng.integers(0, n, e)
    W = rng.normal(0, 1, e)
    tau = rng.uniform(0.02, 0.3, N_TYPES)[neuron_type]
    v_rest = rng.uniform(0, 0.8, N_TYPES)[neuron_type]
    model = OracleModel(source, target, W, tau, v_rest, message_gain=rng.uniform(0.5, 2, n),
                        update_gain=rng.uniform(0.5, 2, n), embedding=rng.normal(size=(n, 4)))
    mean, std = rng.uniform(-0.1, 1, n), rng.uniform(0.05, 0.3, n)
    mean[:3] = -1.0  # unidentifiable message gains: left out of g_φ², NaN W*
    frames = mean + std * rng.normal(size=(16, n))
    activity = {"voltage_mean": mean, "voltage_std": std, "frames_voltage": frames, "frames_stimulus": np.zeros_like(frames)}
    gauge = GaugeCorrection().fit(model, activity)
    return {
        "model": model, "gauge": gauge, "W": W, "tau": tau, "v_rest": v_rest, "type": neuron_type,
        "bio": BiophysicalParameters().fit(gauge, neuron_type, N_TYPES),
        "curves": FunctionCurves(16).fit(model, mean, std, tau, v_rest),
        "source": source, "target": target, "n": n,
    }


def saved(fig: Figure, tmp_path, stem: str):
    paths = save_figure(fig, tmp_path, stem)
    assert [p.name for p in paths] == [f"{stem}.png", f"{stem}.pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    return paths


def test_type_order_groups_families():
    order = type_order(("T4a", "Mi1", "T4b", "Mi4"))
    assert order == [0, 2, 1, 3]


def test_weight_figures_show_counts_and_all_points(fitted, tmp_path):
    import copy

    from flygnn.analysis import weight_metrics

    W, gauge = fitted["W"], copy.copy(fitted["gauge"])  # a shallow copy: the fixture is shared
    corrected = gauge.upstream_corrected_W_.copy()
    corrected[10] = W[10] + 50  # beyond |W* − W| > 5: left out and counted
    gauge.upstream_corrected_W_ = corrected
    metrics = weight_metrics(W, gauge)
    fig = corrected_weights_figure(W, corrected, metrics, "test")
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    n_nan = int(np.isnan(gauge.corrected_W_).sum())
    assert n_nan > 0
    assert "left out: 1 with |W* − W| > 5" in text
    assert f"scored with upstream's fill: {n_nan:,} undefined W*" in text
    assert f"R² = {metrics['W_corrected_R2'].value:.4f} (fit)" in text  # the number of the tables, not recomputed
    kept = np.abs(corrected - W) <= 5
    low, high = fig.axes[0].get_ylim()
    assert low <= corrected[kept].min() and high >= corrected[kept].max()  # limits from the data
    saved(fig, tmp_path, "weights-corrected")
    fig = raw_weights_figure(W, gauge.learned_W_, "test")
    low, high = fig.axes[0].get_ylim()
    assert low <= gauge.learned_W_.min() and high >= gauge.learned_W_.max()
    saved(fig, tmp_path, "weights-raw")


def test_embedding_figures_use_all_dimensions_and_65_colours(fitted, tmp_path):
    embedding = fitted["model"].a.numpy()
    fig = embeddings_figure(embedding, fitted["type"], TYPE_NAMES, "test")
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 6  # all pairs of d = 4
    legend = fig.legends[0]
    assert len(legend.get_texts()) == N_TYPES
    colours = {tuple(h.get_color()) if not isinstance(h.get_color(), str) else h.get_color() for h in legend.legend_handles}
    assert len(colours) == N_TYPES
    saved(fig, tmp_path, "embeddings")
    xy = np.random.default_rng(1).normal(size=(fitted["n"], 2))
    saved(umap_types_figure(xy, fitted["type"], TYPE_NAMES, "test"), tmp_path, "umap-types")
    labels = np.arange(fitted["n"]) % 100
    fig = umap_clusters_figure(xy, labels, "test", {"accuracy": 0.5})
    assert "100 clusters" in fig.axes[0].get_title()
    saved(fig, tmp_path, "umap-clusters")


def test_function_figures(fitted, tmp_path):
    curves, gauge = fitted["curves"], fitted["gauge"]
    fig = update_function_figure(curves.voltages_, curves.update_, curves.true_update_, fitted["type"], TYPE_NAMES, "test")
    assert len(fig.axes) == 2
    assert "260 of 260" in fig.axes[0].get_title()
    saved(fig, tmp_path, "f-theta")
    fig = message_function_figure(curves.voltages_, curves.message_, gauge.message_slope_, fitted["type"], TYPE_NAMES, "test")
    identifiable = int(np.isfinite(gauge.message_slope_).sum())
    assert identifiable <= 257  # the 3 silent neurons (and any other μ + s ≤ 0) are left out and counted
    assert f"{identifiable} of 260" in fig.axes[0].get_title()
    saved(fig, tmp_path, "g-phi")


def test_parameter_figure_pins_far_points_to_the_border(fitted, tmp_path):
    tau = fitted["bio"].tau_.copy()
    tau[:4] = [50.0, -20.0, 60.0, np.nan]
    fig = parameter_figure(fitted["tau"], tau, fitted["type"], TYPE_NAMES, "test", "τ", "s", score_clip=(0, 1))
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "3 beyond the view" in text and "1 undefined (NaN)" in text
    assert fig.axes[0].get_ylim()[1] < 50
    saved(fig, tmp_path, "tau")
    fig = parameter_figure(fitted["v_rest"], fitted["bio"].v_rest_, fitted["type"], TYPE_NAMES, "test", "V_rest",
                           extra=("operating point", fitted["bio"].v_rest_operating_))
    assert len(fig.axes) == 3
    saved(fig, tmp_path, "v-rest")


def test_spectral_figure_is_two_by_three(fitted, tmp_path):
    spectral = SpectralAnalysis(n_eigenvalues=30, n_singular=20).fit(
        fitted["W"], fitted["gauge"].corrected_W_, fitted["source"], fitted["target"], fitted["n"]
    )
    fig = spectral_figure(spectral, "test")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title()[:3] for ax in panels] == ["(a)", "(b)", "(c)", "(d)", "(e)", "(f)"]
    assert "undefined W* left out" in fig._suptitle.get_text()
    saved(fig, tmp_path, "spectral")
