"""Every figure family draws from synthetic analysis results, with units on its axes, and is saved as
PNG and PDF. Limits shared across σ: tests/test_figures_limits.py."""

from __future__ import annotations

import dataclasses

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from flygnn.analysis import (
    BiophysicalParameters,
    FunctionCurves,
    GaugeCorrection,
    LinearisedDynamics,
    OracleModel,
    SpectralAnalysis,
    biophysics_metrics,
    dynamics_metrics,
    principal_components,
    spectral_metrics,
    weight_metrics,
)
from flygnn.figures.biophysics import parameter_figure
from flygnn.figures.embeddings import (
    EMBEDDING_FIGSIZE,
    cluster_confusion_figure,
    embeddings_figure,
    embeddings_pairs_figure,
    umap_types_figure,
)
from flygnn.figures.functions import message_function_figure, update_function_figure
from flygnn.figures.spectral import alignment_figure, dynamics_figure, spectral_figure
from flygnn.figures.style import add_type_legend, legend_columns, save_figure, type_family, type_order
from flygnn.figures.weights import corrected_weights_figure, raw_weights_figure

N_TYPES = 65
TYPE_NAMES = tuple(f"T{k}" for k in range(N_TYPES - 3)) + ("R1", "Mi1", "Lawf2")
# the 65 flyvis cell types, in the connectome's order
FLYVIS_TYPES = (
    "R1 R2 R3 R4 R5 R6 R7 R8 L1 L2 L3 L4 L5 Lawf1 Lawf2 Am C2 C3 CT1(Lo1) CT1(M10) Mi1 Mi2 Mi3 Mi4 Mi9 Mi10 Mi11 "
    "Mi12 Mi13 Mi14 Mi15 T1 T2 T2a T3 T4a T4b T4c T4d T5a T5b T5c T5d Tm1 Tm2 Tm3 Tm4 Tm5Y Tm5a Tm5b Tm5c Tm9 Tm16 "
    "Tm20 Tm28 Tm30 TmY3 TmY4 TmY5a TmY9 TmY10 TmY13 TmY14 TmY15 TmY18"
).split()
UNITLESS_AXES = ("rank", "type index")  # counts and indices


def assert_units_on_every_axis(fig: Figure) -> None:
    """Every labelled axis of every visible panel says its unit, in parentheses (counts and indices excepted)."""
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison or ax.get_label() == "<colorbar>":  # axis off: a text column
            continue
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            assert label, f"an axis without a label in {ax.get_title()!r}"
            if not label.startswith(UNITLESS_AXES):
                assert "(" in label and ")" in label, f"no unit in axis label {label!r}"


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    n, e = 260, 2000
    neuron_type = np.arange(n) % N_TYPES
    source, target = rng.integers(0, n, e), rng.integers(0, n, e)
    W = rng.normal(0, 1, e)
    tau = rng.uniform(0.02, 0.3, N_TYPES)[neuron_type]
    v_rest = rng.uniform(0, 0.8, N_TYPES)[neuron_type]
    model = OracleModel(
        source,
        target,
        W,
        tau,
        v_rest,
        message_gain=rng.uniform(0.5, 2, n),
        update_gain=rng.uniform(0.5, 2, n),
        embedding=rng.normal(size=(n, 4)),
    )
    mean, std = rng.uniform(-0.1, 1, n), rng.uniform(0.05, 0.3, n)
    mean[:3] = -1.0  # unidentifiable message gains: left out of g_φ², NaN W*
    frames = mean + std * rng.normal(size=(16, n))
    activity = {
        "voltage_mean": mean,
        "voltage_std": std,
        "frames_voltage": frames,
        "frames_stimulus": np.zeros_like(frames),
    }
    gauge = GaugeCorrection().fit(model, activity)
    return {
        "model": model,
        "gauge": gauge,
        "W": W,
        "tau": tau,
        "v_rest": v_rest,
        "type": neuron_type,
        "bio": BiophysicalParameters().fit(gauge, neuron_type, N_TYPES),
        "curves": FunctionCurves(16).fit(model, mean, std, tau, v_rest),
        "source": source,
        "target": target,
        "n": n,
    }


def saved(fig: Figure, tmp_path, stem: str):
    paths = save_figure(fig, tmp_path, stem)
    assert [p.name for p in paths] == [f"{stem}.png", f"{stem}.pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    return paths


def test_type_order_groups_families():
    order = type_order(("T4a", "Mi1", "T4b", "Mi4"))
    assert order == [0, 2, 1, 3]


@pytest.mark.parametrize("ncol", [6, 7, 9, 11])
def test_type_legend_is_laid_out_by_family(ncol):
    """Each family is a bold header followed by all its types; blocks flow down the columns in order."""
    assert len(FLYVIS_TYPES) == N_TYPES
    columns = legend_columns(FLYVIS_TYPES, ncol)
    assert len(columns) <= ncol
    flow = [entry for column in columns for entry in column]
    assert [value for kind, value in flow if kind == "type"] == type_order(FLYVIS_TYPES)  # every type once
    current = None
    for kind, value in flow:
        if kind == "family":
            current = value
        else:
            assert type_family(FLYVIS_TYPES[value]) == current
    assert all(column[-1][0] == "type" for column in columns)  # no header alone at the bottom of a column
    fig, _ = plt.subplots()
    legend = add_type_legend(fig, FLYVIS_TYPES, ncol=ncol)
    texts = legend.get_texts()
    headers = [t.get_text() for t in texts if t.get_fontweight() == "bold"]
    assert headers == list(dict.fromkeys(type_family(name) for name in FLYVIS_TYPES))
    labelled = {
        t.get_text(): h
        for t, h in zip(texts, legend.legend_handles, strict=False)
        if t.get_text() in FLYVIS_TYPES and t.get_fontweight() != "bold"
    }
    assert len(labelled) == N_TYPES
    assert len({h.get_color() for h in labelled.values()}) == N_TYPES  # 65 distinct colours
    plt.close(fig)


@pytest.mark.slow
def test_weight_figures_show_counts_and_all_points(fitted, tmp_path):
    import copy

    W, gauge = fitted["W"], copy.copy(fitted["gauge"])  # a shallow copy: the fixture is shared
    corrected = gauge.upstream_corrected_W_.copy()
    corrected[10] = W[10] + 50  # beyond |W* − W| > 5: left out and counted
    gauge.upstream_corrected_W_ = corrected
    metrics = weight_metrics(W, gauge)
    fig = corrected_weights_figure(W, corrected, metrics)
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    n_nan = int(np.isnan(gauge.corrected_W_).sum())
    assert n_nan > 0
    assert "left out: 1 (|W* − W| > 5)" in text
    assert f"upstream's fill: {n_nan:,} undefined W*" in text
    assert f"R² = {metrics['W_corrected_R2'].value:.4f} (fit)" in text  # the number of the tables, not recomputed
    assert f"R² = {metrics['W_corrected_R2_small_weights'].value:.4f}" in text
    kept = np.abs(corrected - W) <= 5
    low, high = fig.axes[0].get_ylim()
    assert (low, high) == fig.axes[0].get_xlim()  # W*'s axis is W's: the identity is the diagonal
    assert low < W.min() and high > W.max() and high - low < 1.1 * np.ptp(W)  # the true W's range
    # the density: every scored edge inside the axes is counted in one hexagon, on a log colour scale
    (hexagons,) = [c for c in fig.axes[0].collections if isinstance(c.norm, LogNorm)]
    beyond = kept & ((corrected < low) | (corrected > high))
    assert hexagons.get_array().sum() == kept.sum() - beyond.sum()
    core = kept & (np.abs(W) < 0.5)
    assert fig.axes[1].get_xlim() == fig.axes[1].get_ylim() == pytest.approx((-0.53, 0.53))
    assert f"{core.sum() / kept.sum():.1%}" in fig.axes[1].get_title()
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "weights-corrected")
    fig = raw_weights_figure(W, gauge.learned_W_, metrics)
    assert fig.axes[0].get_ylim() == fig.axes[0].get_xlim()
    assert f"R² = {metrics['W_raw_R2'].value:.4f}" in " ".join(t.get_text() for t in fig.axes[0].texts)
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "weights-raw")


def visible_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


@pytest.mark.parametrize("d", [2, 4])
def test_embedding_figure_has_the_same_layout_for_every_dimension(fitted, d):
    embedding = fitted["model"].a.numpy()[:, :d]
    components, explained = principal_components(embedding)
    fig = embeddings_figure(components, explained, fitted["type"], TYPE_NAMES, d)
    assert len(visible_axes(fig)) == 1  # one scatter of the first two principal components for d = 2 and d = 4
    assert (
        fig.axes[0].get_xlabel().startswith("PC 1 of a")
        and f"{explained[0]:.0%} of variance" in fig.axes[0].get_xlabel()
    )
    assert f"d = {d}" in fig.axes[0].get_title()
    assert_units_on_every_axis(fig)
    fig = embeddings_pairs_figure(embedding, fitted["type"], TYPE_NAMES)
    assert len(visible_axes(fig)) == d * (d - 1) // 2  # every pair of dimensions
    # as wide as one embedding panel whatever d: the book prints the σ = 0 (d = 4) figure beside d = 2's
    assert fig.get_size_inches()[0] == pytest.approx(EMBEDDING_FIGSIZE[0])
    plt.close("all")


@pytest.mark.slow
def test_embedding_figures_use_all_dimensions_and_65_colours(fitted, tmp_path):
    embedding = fitted["model"].a.numpy()
    fig = embeddings_pairs_figure(embedding, fitted["type"], TYPE_NAMES)
    assert len(visible_axes(fig)) == 6  # all pairs of d = 4
    legend = fig.legends[0]
    labelled = [
        h
        for t, h in zip(legend.get_texts(), legend.legend_handles, strict=False)
        if t.get_text() in TYPE_NAMES and t.get_fontweight() != "bold"
    ]  # family headers are bold
    assert len(labelled) == N_TYPES
    colours = {tuple(h.get_color()) if not isinstance(h.get_color(), str) else h.get_color() for h in labelled}
    assert len(colours) == N_TYPES
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "embeddings-pairs")
    components, explained = principal_components(embedding)
    saved(embeddings_figure(components, explained, fitted["type"], TYPE_NAMES, 4), tmp_path, "embeddings")


def test_umap_types_names_every_type_at_its_median():
    rng = np.random.default_rng(1)
    neuron_type = np.arange(650) % N_TYPES
    xy = rng.normal(size=(650, 2)) * 0.1 + np.c_[neuron_type, -neuron_type]  # type t around (t, -t)
    fig = umap_types_figure(xy, neuron_type, TYPE_NAMES)
    labels = {t.get_text(): t.xy for t in fig.axes[0].texts}
    assert set(labels) == set(TYPE_NAMES)
    for t, name in enumerate(TYPE_NAMES):
        np.testing.assert_allclose(labels[name], np.median(xy[neuron_type == t], axis=0))
    assert not fig.legends  # the names are on the panel: no 65-colour legend to look up
    plt.close(fig)


def test_cluster_confusion_puts_the_hungarian_matches_on_the_diagonal(tmp_path):
    # type t is cluster 3t + 1, except the first type's neurons, split evenly over two clusters
    neuron_type = np.repeat(np.arange(N_TYPES), 10)
    labels = 3 * neuron_type + 1
    labels[:5] = 500
    fig = cluster_confusion_figure(labels, neuron_type, TYPE_NAMES, 100, {"accuracy": 0.5, "on a alone": 0.25})
    ax = fig.axes[0]
    matrix = ax.get_images()[0].get_array()
    assert matrix.shape == (N_TYPES, 100)  # every condition's matrix has the GMM's 100 columns
    rows = type_order(TYPE_NAMES)
    diagonal = np.diag(matrix[:, :N_TYPES])
    assert diagonal[rows.index(0)] == 0.5 and np.all(np.delete(diagonal, rows.index(0)) == 1.0)
    assert matrix[rows.index(0), N_TYPES] == 0.5  # the unmatched half, first after the matched
    assert "66 non-empty of 100" in ax.get_title()
    assert not ax.texts  # the scores are beside the matrix: on it they would hide cells
    (scores,) = [text for other in fig.axes for text in other.texts]
    # written as the book's tables write metrics.json (flygnn.metric_format), so figure and table agree
    assert "accuracy:\n  0.5000" in scores.get_text() and "on a alone:\n  0.2500" in scores.get_text()
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "umap-clusters")


@pytest.mark.slow
def test_function_figures(fitted, tmp_path):
    curves, gauge = fitted["curves"], fitted["gauge"]
    fig = update_function_figure(curves.voltages_, curves.update_, curves.true_update_, fitted["type"], TYPE_NAMES)
    assert len(fig.axes) == 2
    assert "260 of 260" in fig.axes[0].get_title()
    assert "a.u./s" in fig.axes[0].get_ylabel() and "a.u." in fig.axes[0].get_xlabel()
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "f-theta")
    fig = message_function_figure(curves.voltages_, curves.message_, gauge.message_slope_, fitted["type"], TYPE_NAMES)
    identifiable = int(np.isfinite(gauge.message_slope_).sum())
    assert identifiable <= 257  # the 3 silent neurons (and any other μ + s ≤ 0) are left out and counted
    assert f"{identifiable} of 260" in fig.axes[0].get_title()
    assert f"{260 - identifiable} without an identifiable gain" in fig.axes[0].get_title()
    assert "normalised to slope 1" in fig._suptitle.get_text()
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "g-phi")


@pytest.mark.slow
def test_parameter_figure_pins_far_points_to_the_border(fitted, tmp_path):
    bio, gauge = fitted["bio"], fitted["gauge"]
    metrics = biophysics_metrics(fitted["tau"], fitted["v_rest"], bio, gauge.zero_range_, fitted["type"])
    tau = bio.upstream_tau_.copy()
    tau[:4] = [50.0, -20.0, 60.0, np.nan]
    fig = parameter_figure(
        fitted["tau"], tau, bio.tau_, fitted["type"], TYPE_NAMES, "τ", "s", metrics, "tau", floor=0.0
    )
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "3 beyond, at the edge" in text and "1 undefined (NaN)" in text
    assert fig.axes[0].get_ylim()[1] < 50
    assert fig.axes[0].get_ylim()[0] == pytest.approx(-0.03 * fig.axes[0].get_ylim()[1] / 1.03, rel=1e-6)
    assert fig.axes[0].get_xlabel() == "true τ (s)"
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "tau")
    fig = parameter_figure(
        fitted["v_rest"],
        bio.upstream_v_rest_,
        bio.v_rest_,
        fitted["type"],
        TYPE_NAMES,
        "V_rest",
        "a.u.",
        metrics,
        "V_rest",
        extra=("operating point", bio.v_rest_operating_, "V_rest_operating"),
    )
    assert len(fig.axes) == 3
    assert fig.axes[0].get_xlabel() == "true V_rest (a.u.)"
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "v-rest")


def test_parameter_figure_shows_the_numbers_of_the_metrics(fitted):
    """The panels carry the analysis' scores (upstream's rules per neuron), not numbers of their own."""
    bio, gauge = fitted["bio"], fitted["gauge"]
    metrics = biophysics_metrics(fitted["tau"], fitted["v_rest"], bio, gauge.zero_range_, fitted["type"])
    metrics["tau_R2"].value, metrics["tau_R2_per_type"].value = 0.123456, None
    fig = parameter_figure(
        fitted["tau"], bio.upstream_tau_, bio.tau_, fitted["type"], TYPE_NAMES, "τ", "s", metrics, "tau"
    )
    neuron_text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "R² = 0.1235 (upstream's rules)" in neuron_text
    assert f"slope = {metrics['tau_slope'].value:.4f}" in neuron_text
    assert "R² = n/a" in " ".join(t.get_text() for t in fig.axes[1].texts)
    fig = parameter_figure(
        fitted["v_rest"],
        bio.upstream_v_rest_,
        bio.v_rest_,
        fitted["type"],
        TYPE_NAMES,
        "V_rest",
        "a.u.",
        metrics,
        "V_rest",
        extra=("operating point", bio.v_rest_operating_, "V_rest_operating"),
    )
    operating = metrics["V_rest_operating_R2_per_type"].value
    assert f"R² = {operating:.4f}" in " ".join(t.get_text() for t in fig.axes[2].texts)
    plt.close("all")


@pytest.mark.slow
def test_spectral_figures_are_two_rows_of_three(fitted, tmp_path):
    spectral = SpectralAnalysis(n_eigenvalues=30, n_singular=20, n_permutations=2).fit(
        fitted["W"], fitted["gauge"].corrected_W_, fitted["source"], fitted["target"], fitted["n"]
    )
    metrics = spectral_metrics(spectral)
    fig = spectral_figure(spectral, metrics)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title()[:3] for ax in panels] == ["(a)", "(b)", "(c)"]
    assert "undefined W* left out" in fig._suptitle.get_text()
    true = spectral.eigenvalues_true_
    low, high = panels[0].get_xlim()  # (a): limits from W's eigenvalues, not widened to an equal aspect
    assert (
        low < true.real.min() and high > true.real.max() and high - low < 2.0 * np.ptp(true.real)
    )  # padded, then out to the coarse grid
    text = " ".join(t.get_text() for t in panels[1].texts)  # (b): the analysis' numbers, W* and the null
    assert f"R² = {metrics['spectral_singular_values_R2'].value:.4f}" in text
    assert f"null: R² = {metrics['spectral_singular_values_R2_null'].value:.4f}" in text
    fig.canvas.draw()
    log_panel = panels[2]
    assert log_panel.get_yscale() == "log"
    labels = [t.get_text() for t in log_panel.get_yticklabels() if t.get_text()]
    low, high = log_panel.get_ylim()
    shown = [float(t) for t in labels if low <= float(t) <= high]
    assert len(shown) >= 3  # (c): readable ticks on the log axis, not only one or two powers of ten
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "spectral")
    fig = alignment_figure(spectral)
    assert [ax.get_title()[:3] for ax in fig.axes if ax.get_title()] == ["(d)", "(e)", "(f)"]
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "spectral-alignment")


def test_dynamics_figure(fitted, tmp_path):
    mean = np.linspace(-0.2, 1.0, fitted["n"])
    dynamics = LinearisedDynamics(n_eigenvalues=30).fit(
        fitted["W"],
        fitted["tau"],
        fitted["gauge"].corrected_W_,
        fitted["bio"].tau_,
        fitted["source"],
        fitted["target"],
        mean,
    )
    metrics = dynamics_metrics(dynamics)
    fig = dynamics_figure(dynamics, metrics, fitted["tau"])
    assert [ax.get_title()[:3] for ax in fig.axes] == ["(a)", "(b)"]
    assert fig.axes[0].get_xlabel() == "Re λ (1/s)"
    rate = 1 / fitted["tau"].max()  # the limits: from the true τ alone
    assert fig.axes[0].get_xlim() == fig.axes[1].get_ylim() == pytest.approx((-2 * rate, 0.25 * rate))
    title = fig._suptitle.get_text()  # the numbers are in the figure's title, not over the curves
    assert f"mean |Δ Re λ| / |Re λ| by rank = {metrics['jacobian_rightmost_error'].value:.3f}" in title
    assert f"{int(dynamics.active_.sum()):,} neurons with μ > 0" in title
    fig.canvas.draw()
    legend = fig.axes[1].get_legend().get_window_extent()
    for line in fig.axes[1].get_lines()[:2]:  # true, learned
        points = line.get_transform().transform(line.get_xydata())
        assert legend.count_contains(points) == 0, f"the legend of (b) covers the {line.get_label()} curve"
    assert_units_on_every_axis(fig)
    saved(fig, tmp_path, "spectral-dynamics")


@pytest.mark.slow
def test_a_figure_can_lose_its_type_legend_and_the_legend_stands_alone(tmp_path):
    """The book's σ-grid shows the panels without their legends above one legend (remove_type_legend,
    type_legend_figure); other legends stay."""
    from PIL import Image

    from flygnn.figures.style import RC, remove_type_legend, type_legend_figure

    with matplotlib.rc_context(RC):  # the report's style: saved figures are cropped to what is drawn
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1], [0, 1], label="identity")
        fig.legend(loc="upper right")
        add_type_legend(fig, FLYVIS_TYPES)
        save_figure(fig, tmp_path, "full")
        assert remove_type_legend(fig) and len(fig.legends) == 1  # the other legend is kept
        assert not remove_type_legend(fig)
        save_figure(fig, tmp_path, "panel")
        plt.close(fig)
        legend = type_legend_figure(FLYVIS_TYPES)
        (texts,) = [[t.get_text() for t in item.get_texts()] for item in legend.legends]
        assert set(FLYVIS_TYPES) <= set(texts)
        save_figure(legend, tmp_path, "legend")
    sizes = {stem: Image.open(tmp_path / f"{stem}.png").size for stem in ("full", "panel", "legend")}
    assert sizes["panel"][1] < 0.7 * sizes["full"][1]  # the 10-row legend below the axes is gone
    assert sizes["legend"][0] > sizes["legend"][1] * 2  # wide: one row across the grid


def test_type_legend_keeps_small_families_whole():
    """On a wide figure the columns get short, but no family of up to 9 types is broken across two."""
    columns = legend_columns(FLYVIS_TYPES, 11)
    for family in ("R", "L", "T4", "T5", "TmY"):
        holding = [
            k
            for k, column in enumerate(columns)
            if any(kind == "type" and type_family(FLYVIS_TYPES[v]) == family for kind, v in column)
        ]
        assert len(holding) == 1, family


def test_drawing_figures_leaves_the_callers_matplotlib_backend_and_pyplot_alone(tmp_path):
    # a notebook or GUI session that imports flygnn keeps its backend, and nothing is left open in pyplot
    import subprocess
    import sys

    script = f"""
import matplotlib
matplotlib.use("svg")
import matplotlib.pyplot as plt
import numpy as np
from flygnn.figures.training import plot_training_loss
from flygnn.figures.style import save_figure
fig = plot_training_loss([{{"iteration": float(i), "loss": 1.0 / (1 + i), "iterations_per_s": 5.0}} for i in range(0, 5000, 50)])
paths = save_figure(fig, {str(tmp_path)!r}, "loss")
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert plt.get_fignums() == [], plt.get_fignums()
print(*[p.stat().st_size > 0 for p in paths])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


def test_recovery_curves_keep_values_near_one_apart_on_r2_rows():
    # σ = 0.05's τ R² 0.983 against its published 0.9888, beside a σ = 0 curve at 0.45: on a
    # linear axis the gap is about 1 % of the panel; on the log-odds scale over 4 %
    from flygnn.figures.book import RecoverySeries, recovery_curves_figure

    iterations = np.array([1000.0, 2000.0, 3000.0])
    series = [
        RecoverySeries(
            "σ = 0",
            iterations,
            iterations / 5,
            {"tau_R2": np.array([0.40, 0.45, 0.44]), "W_corrected_slope": np.array([0.8, 0.9, 0.93])},
        ),
        RecoverySeries(
            "σ = 0.05",
            iterations,
            iterations / 5,
            {"tau_R2": np.array([0.97, 0.983, 0.983]), "W_corrected_slope": np.array([1.0, 1.0, 0.99])},
        ),
    ]
    fig = recovery_curves_figure(
        series, ["σ = 0", "σ = 0.05"], {"tau_R2": "τ R²", "W_corrected_slope": "slope"}, {"tau_R2": [0.5277, 0.9888]}
    )
    tau_ax, slope_ax = fig.axes[0], fig.axes[2]
    assert tau_ax.get_yscale() == "function" and slope_ax.get_yscale() == "linear"
    to_axes = lambda ax, y: ax.transLimits.transform(ax.transScale.transform([[0.5, y]]))[0, 1]  # noqa: E731
    assert to_axes(tau_ax, 0.9888) - to_axes(tau_ax, 0.983) > 0.04
    low, high = tau_ax.get_ylim()
    assert low <= 0.40 and 0.9888 < high < 1.0
    labels = [t.get_text() for t in tau_ax.get_yticklabels()]
    assert "0.99" in labels and "0.9" in labels


def test_recovery_curves_keep_an_r2_row_away_from_both_ends_linear():
    from flygnn.figures.book import RecoverySeries, recovery_curves_figure

    iterations = np.array([1000.0, 2000.0])
    series = [
        RecoverySeries("σ = 0", iterations, iterations, {"V_rest_R2": np.array([0.30, 0.34])}),
        RecoverySeries("σ = 0.5", iterations, iterations, {"V_rest_R2": np.array([0.78, 0.87])}),
    ]
    fig = recovery_curves_figure(
        series, ["σ = 0", "σ = 0.5"], {"V_rest_R2": "V_rest R²"}, {"V_rest_R2": [0.31, 0.7892]}
    )
    assert fig.axes[0].get_yscale() == "linear"


def test_recovery_curves_keep_values_near_zero_apart_next_to_values_near_one():
    # σ = 0's V_rest R² 0.045 against its published 0.088, beside σ = 0.5 at 0.96: on a linear
    # axis (or on −log10(1 − R²)) the gap is a few pixels at the bottom of the panel
    from flygnn.figures.book import RecoverySeries, recovery_curves_figure

    iterations = np.array([1000.0, 2000.0, 3000.0])
    series = [
        RecoverySeries("σ = 0", iterations, iterations, {"V_rest_R2": np.array([-0.2, 0.03, 0.045])}),
        RecoverySeries("σ = 0.5", iterations, iterations, {"V_rest_R2": np.array([0.78, 0.9, 0.96])}),
    ]
    fig = recovery_curves_figure(
        series, ["σ = 0", "σ = 0.5"], {"V_rest_R2": "V_rest R²"}, {"V_rest_R2": [0.0884, 0.7892]}
    )
    ax = fig.axes[0]
    assert ax.get_yscale() == "function"
    to_axes = lambda y: ax.transLimits.transform(ax.transScale.transform([[0.5, y]]))[0, 1]  # noqa: E731
    assert to_axes(0.0884) - to_axes(0.045) > 0.05
    assert 0.0 < to_axes(-0.2) < to_axes(0.0) < to_axes(0.045)  # a negative R² is drawn, below 0
    low, high = ax.get_ylim()
    assert low < -0.2 and 0.96 < high < 1.0
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert {"0", "0.1", "0.5", "0.9"} <= set(labels)


def test_recovery_curves_mark_learning_rate_changes_in_the_conditions_colour():
    from matplotlib.colors import same_color

    from flygnn.figures.book import RecoverySeries, condition_colors, recovery_curves_figure

    iterations = np.array([2000.0, 4000.0, 6000.0])
    plain = RecoverySeries("σ = 0", iterations, iterations / 2, {"tau_R2": np.array([0.40, 0.45, 0.44])})
    stepped = RecoverySeries(
        "σ = 0.5",
        iterations,
        iterations / 2,
        {"tau_R2": np.array([0.998, 0.9990, 0.9996])},
        rate_changes=[(5000.0, 0.3)],
    )
    args = (["σ = 0", "σ = 0.5"], {"tau_R2": "τ R²"}, {"tau_R2": [0.5277, 0.9997]})
    fig = recovery_curves_figure([plain, stepped], *args)
    by_iteration, by_time = fig.axes
    for ax, position in ((by_iteration, 5000.0), (by_time, 2500.0 / 60)):  # interpolated: 5000 it → 2500 s, in minutes
        dotted = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
        assert len(dotted) == 1 and dotted[0].get_xdata()[0] == pytest.approx(position)
        assert same_color(dotted[0].get_color(), condition_colors(2)[1])
    # the marks do not move the R² limits (a vertical line's y data are 0 and 1 in axes units)
    assert (
        by_iteration.get_ylim()
        == recovery_curves_figure([plain, dataclasses.replace(stepped, rate_changes=())], *args).axes[0].get_ylim()
    )
    assert "learning-rate change (dotted)" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_log_odds_scale_is_its_own_inverse_on_both_sides_of_its_joint():
    from flygnn.figures.book import _from_log_odds, _log_odds

    r2 = np.array([-3.0, -0.2, 0.0, 0.005, 0.01, 0.045, 0.5, 0.9, 0.99, 0.99970])
    np.testing.assert_allclose(_from_log_odds(_log_odds(r2)), r2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(_log_odds([0.05, 0.5, 0.9, 0.99]), [-np.log10(19), 0.0, np.log10(9), np.log10(99)])
    assert np.all(np.diff(_log_odds(r2)) > 0)  # monotonic across the joint at 0.05


def test_recovery_curves_label_iterations_as_the_training_loss_figure_does():
    # both figures sit in the same chapter: 20k, 40k … in one and 20000, 40000 … in the other read as two scales
    from flygnn.figures.book import RecoverySeries, recovery_curves_figure
    from flygnn.figures.training import visible_tick_labels

    iterations = np.linspace(2000.0, 113_750.0, 40)
    series = [RecoverySeries("σ = 0.05", iterations, iterations / 5, {"tau_R2": np.linspace(0.9, 0.984, 40)})]
    fig = recovery_curves_figure(series, ["σ = 0.05"], {"tau_R2": "τ R²"}, {"tau_R2": [0.9888]})
    fig.canvas.draw()
    texts = [label.get_text() for label in visible_tick_labels(fig.axes[0])]
    assert len(texts) >= 2 and all(text.endswith("k") for text in texts if text != "0"), texts
