"""The σ-grids compare: every figure of a same-unit quantity takes its limits from the truth or a fixed
range, so two conditions with the same truth and different learned values get the same axes, read back
from the saved limits; a learned value beyond them is drawn at the edge, marked, and counted."""

from __future__ import annotations

import copy
import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import LogNorm
from matplotlib.markers import MarkerStyle
from test_figures import N_TYPES, TYPE_NAMES, fitted  # noqa: F401  (the shared synthetic network)

from flygnn.analysis import (
    FunctionCurves,
    LinearisedDynamics,
    SpectralAnalysis,
    biophysics_metrics,
    dynamics_metrics,
    spectral_metrics,
    weight_metrics,
)
from flygnn.figures.biophysics import parameter_figure
from flygnn.figures.embeddings import cluster_confusion_figure
from flygnn.figures.functions import message_function_figure, update_function_figure
from flygnn.figures.limits import (
    BEYOND_MARKERS,
    LIMITS_SUFFIX,
    nice_bounds,
    nice_ceiling,
    pin_beyond,
    shared_limits,
    write_limits,
)
from flygnn.figures.spectral import alignment_figure, dynamics_figure, spectral_figure
from flygnn.figures.weights import corrected_weights_figure, raw_weights_figure
from flygnn.sections import SECTIONS, figure_families

SECTION_FAMILIES = {section.name: section.figures for section in SECTIONS}


def test_nice_bounds_known_answers():
    # the natural voltage ranges of the three committed conditions (σ = 0, 0.05, 0.5) land on one window
    assert nice_bounds(-3.5772, 5.2712) == nice_bounds(-3.6096, 5.2304) == nice_bounds(-4.6928, 6.2098) == (-5, 7.5)
    assert nice_bounds(0.3, 0.9) == (0.25, 1.0)
    assert nice_bounds(-0.2, -0.01) == (-0.2, -0.01)
    assert [nice_ceiling(v) for v in (0.0, 1.0, 1.01, 2.2, 2.6, 7.6, 42.0)] == [0, 1, 2, 2.5, 5, 10, 50]


def test_a_point_beyond_the_limits_is_drawn_at_the_edge_it_lies_beyond():
    fig, ax = plt.subplots()
    x = np.array([0.0, 5.0, 0.0, 0.5, -3.0, np.nan])
    y = np.array([0.0, 0.2, -5.0, 0.5, 9.0, 0.0])
    outside = pin_beyond(ax, x, y, (-1, 1), (-1, 1), color="k")
    assert outside.tolist() == [False, True, True, False, True, False]
    drawn = {
        tuple(np.round(c.get_offsets()[0], 6)): c.get_paths()[0]
        for c in ax.collections  # one collection per edge
    }
    assert set(drawn) == {(1.0, 0.2), (0.0, -1.0), (-1.0, 1.0)}  # above wins over left: (−3, 9) is on the top
    styles = {side: MarkerStyle(m) for side, m in BEYOND_MARKERS.items()}
    markers = {side: style.get_path().transformed(style.get_transform()) for side, style in styles.items()}
    assert np.allclose(drawn[(1.0, 0.2)].vertices, markers["right"].vertices)
    assert np.allclose(drawn[(0.0, -1.0)].vertices, markers["below"].vertices)
    assert np.allclose(drawn[(-1.0, 1.0)].vertices, markers["above"].vertices)
    assert all(not c.get_clip_on() for c in ax.collections)  # drawn whole on the edge
    plt.close(fig)


def _condition(fitted, k: int) -> dict:  # noqa: F811
    """One condition's learned values: the same truth, learned values that differ with ``k``."""
    rng = np.random.default_rng(10 + k)
    gauge, bio = copy.copy(fitted["gauge"]), copy.copy(fitted["bio"])
    W = fitted["W"]
    scale = 1.0 + 0.7 * k
    gauge.upstream_corrected_W_ = W * scale + rng.normal(0, 0.3 * scale, W.size)
    gauge.corrected_W_ = gauge.upstream_corrected_W_.copy()
    gauge.learned_W_ = W * (0.2 + k) + rng.normal(0, 0.1, W.size)
    bio.upstream_tau_ = np.clip(fitted["tau"] * scale + rng.normal(0, 0.05, fitted["n"]), 0, 1)
    bio.tau_ = bio.upstream_tau_ * 1.1
    bio.upstream_v_rest_ = fitted["v_rest"] * scale
    bio.v_rest_ = bio.upstream_v_rest_.copy()
    bio.v_rest_operating_ = bio.v_rest_ + 0.1 * k
    curves = copy.copy(fitted["curves"])
    curves.update_ = curves.true_update_ * scale + k
    curves.message_ = curves.message_ * scale + k
    return {"gauge": gauge, "bio": bio, "curves": curves, "labels": rng.integers(0, 100 - 20 * k, fitted["n"])}


def draw_shared_families(fitted, learned: dict) -> dict:  # noqa: F811
    """Every figure family whose axes the σ-grid shares, drawn as the notebooks draw it."""
    W, gauge, bio, curves = fitted["W"], learned["gauge"], learned["bio"], learned["curves"]
    neuron_type = fitted["type"]
    weights = weight_metrics(W, gauge)
    bio_metrics = biophysics_metrics(fitted["tau"], fitted["v_rest"], bio, gauge.zero_range_, neuron_type)
    spectral = SpectralAnalysis(n_eigenvalues=30, n_singular=20, n_permutations=2).fit(
        W, gauge.corrected_W_, fitted["source"], fitted["target"], fitted["n"]
    )
    mean = np.linspace(-0.2, 1.0, fitted["n"])
    dynamics = LinearisedDynamics(n_eigenvalues=30).fit(
        W, fitted["tau"], gauge.corrected_W_, bio.tau_, fitted["source"], fitted["target"], mean
    )
    return {
        "weights-raw": raw_weights_figure(W, gauge.learned_W_, weights),
        "weights-corrected": corrected_weights_figure(W, gauge.upstream_corrected_W_, weights),
        "umap-clusters": cluster_confusion_figure(learned["labels"], neuron_type, TYPE_NAMES, 100, {}),
        "f-theta": update_function_figure(
            curves.voltages_, curves.update_, curves.true_update_, neuron_type, TYPE_NAMES
        ),
        "g-phi": message_function_figure(
            curves.voltages_, curves.message_, gauge.message_slope_, neuron_type, TYPE_NAMES
        ),
        "tau": parameter_figure(
            fitted["tau"],
            bio.upstream_tau_,
            bio.tau_,
            neuron_type,
            TYPE_NAMES,
            "τ",
            "s",
            bio_metrics,
            "tau",
            filled=gauge.zero_range_,
            floor=0.0,
        ),
        "v-rest": parameter_figure(
            fitted["v_rest"],
            bio.upstream_v_rest_,
            bio.v_rest_,
            neuron_type,
            TYPE_NAMES,
            "V_rest",
            "a.u.",
            bio_metrics,
            "V_rest",
            filled=gauge.zero_range_,
            extra=("operating point", bio.v_rest_operating_, "V_rest_operating"),
        ),
        "spectral": spectral_figure(spectral, spectral_metrics(spectral)),
        "spectral-alignment": alignment_figure(spectral),
        "spectral-dynamics": dynamics_figure(dynamics, dynamics_metrics(dynamics), fitted["tau"]),
    }


@pytest.mark.slow
def test_every_shared_family_has_the_same_limits_for_two_conditions(fitted, tmp_path):  # noqa: F811
    first, second = _condition(fitted, 0), _condition(fitted, 1)
    assert not np.allclose(first["gauge"].upstream_corrected_W_, second["gauge"].upstream_corrected_W_)
    figures = [draw_shared_families(fitted, learned) for learned in (first, second)]
    # the validation's figures draw a fitted validation: test_figures_validation checks them the same way
    validation = {family.name for family in SECTION_FAMILIES["validation"]}
    shared = {family.name for family in figure_families() if family.shared_axes} - validation
    assert set(figures[0]) == shared, "a family the σ-grid shares is not checked here"
    for name in sorted(shared):
        read = []
        for k, drawn in enumerate(figures):
            directory = tmp_path / f"condition-{k}"
            path = write_limits(drawn[name], directory, name)  # as the notebook saves them
            assert path == directory / f"{name}{LIMITS_SUFFIX}"
            read.append(json.loads(path.read_text()))
        assert read[0], f"{name}: no panel is marked as shared"
        assert read[0] == read[1], f"{name}: the two conditions' axes differ"
        drawn_axes = figures[0][name].axes  # a panel with its axis off is a column of text, without limits
        panels = len([ax for ax in drawn_axes if ax.get_visible() and ax.axison and ax.get_label() != "<colorbar>"])
        assert len(read[0]) == panels, f"{name}: a panel's limits are not recorded"
    plt.close("all")


def test_unshared_families_write_no_limits(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 3])
    assert shared_limits(fig) == {} and write_limits(fig, tmp_path, "embeddings") is None
    assert not list(tmp_path.iterdir())
    plt.close(fig)


def test_a_weight_beyond_the_true_range_is_drawn_at_the_edge_and_counted(fitted):  # noqa: F811
    learned = _condition(fitted, 0)
    gauge, W = learned["gauge"], fitted["W"]
    corrected = W.copy()
    top = int(np.argmax(W))
    corrected[top] = W[top] + 4.0  # |W* − W| = 4: scored, and beyond the true range
    gauge.upstream_corrected_W_ = corrected
    fig = corrected_weights_figure(W, corrected, weight_metrics(W, gauge))
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    (hexagons,) = [c for c in ax.collections if isinstance(c.norm, LogNorm)]
    assert hexagons.get_array().sum() == W.size - 1  # every other edge in the density
    (pinned,) = [c for c in ax.collections if not isinstance(c.norm, LogNorm)]
    np.testing.assert_allclose(pinned.get_offsets(), [[W[top], high]])
    assert "1 beyond the axes (▲▼◀▶)" in " ".join(t.get_text() for t in ax.texts)
    plt.close(fig)


def test_neurons_scored_tau_one_are_drawn_hollow_at_the_top_and_counted(fitted):  # noqa: F811
    learned = _condition(fitted, 0)
    gauge, bio = learned["gauge"], learned["bio"]
    zero_range = np.zeros(fitted["n"], bool)
    zero_range[[3, 4]] = True  # voltage never varied: upstream scores τ̂ = 1
    gauge.zero_range_ = zero_range
    tau = bio.upstream_tau_.copy()
    tau[[3, 4]] = 1.0
    metrics = biophysics_metrics(fitted["tau"], fitted["v_rest"], bio, zero_range, fitted["type"])
    fig = parameter_figure(
        fitted["tau"], tau, bio.tau_, fitted["type"], TYPE_NAMES, "τ", "s", metrics, "tau", filled=zero_range, floor=0
    )
    ax = fig.axes[0]
    high = ax.get_ylim()[1]
    assert high < 1.0  # the view is the truth's, not stretched to τ̂ = 1
    hollow = [c for c in ax.collections if len(c.get_facecolors()) and np.allclose(c.get_facecolors()[0], 1)]
    assert len(hollow) == 1  # white triangles, drawn over the coloured ones
    np.testing.assert_allclose(hollow[0].get_offsets(), [[fitted["tau"][3], high], [fitted["tau"][4], high]])
    assert "2 never varied: τ = 1 by rule" in " ".join(t.get_text() for t in ax.texts)
    plt.close(fig)


def test_a_learned_curve_beyond_the_true_range_runs_along_the_edge_marked_and_counted(fitted):  # noqa: F811
    curves = FunctionCurves(16).fit(
        fitted["model"],
        np.full(fitted["n"], 0.5),
        np.full(fitted["n"], 0.2),
        fitted["tau"],
        fitted["v_rest"],
    )
    learned = curves.true_update_.copy()
    learned[:, 0] += np.linspace(0, 1e4, learned.shape[0])  # one neuron's f_θ shoots off upwards
    fig = update_function_figure(curves.voltages_, learned, curves.true_update_, fitted["type"], TYPE_NAMES)
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert high < 1e3  # the truth's range, not the learned curve's
    assert "1 leave the axes" in ax.get_title()
    (marks,) = ax.collections[1:]
    np.testing.assert_allclose(marks.get_offsets(), [[curves.voltages_[-1, 0], high]])  # where it is furthest out
    segments = ax.collections[0].get_segments()
    assert max(s[:, 1].max() for s in segments) == pytest.approx(high)  # clipped to the edge, not dropped
    plt.close(fig)


def test_spectral_axes_agree_when_the_scored_edges_differ_a_little(fitted):  # noqa: F811
    """The 'true' spectra are W's on the edges where W* is defined, a set that differs a little between
    noise levels (σ = 0 and 0.5 disagreed by 0.09 in the eigenvalues' real range): the limits are
    rounded to a coarse grid, so the σ-grid's panels still agree."""
    spectral = SpectralAnalysis(5, 5, 2).fit(
        fitted["W"], fitted["gauge"].corrected_W_, fitted["source"], fitted["target"], fitted["n"]
    )
    other = copy.copy(spectral)
    other.eigenvalues_true_ = spectral.eigenvalues_true_ * 1.03
    other.singular_values_true_ = spectral.singular_values_true_ * 1.03
    drawn = [shared_limits(spectral_figure(s, spectral_metrics(s))) for s in (spectral, other)]
    assert drawn[0] == drawn[1]
