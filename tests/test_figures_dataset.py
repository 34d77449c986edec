"""Dataset figures: structure of the returned figures, data they draw, saving as PNG + PDF."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from flygnn.errors import FlygnnError
from flygnn.figures.dataset import (
    DEFAULT_TRACE_TYPES,
    activity_ranges,
    plot_activity_ranges,
    plot_activity_traces,
    plot_stimulus_frames,
)
from flygnn.figures.style import save_figure
from flygnn.stimulus import StimulusSpec, stimulus_movie


def test_stimulus_frames_draw_one_hexagon_per_column(small_network):
    u, v = small_network.columns_u, small_network.columns_v
    frames = stimulus_movie(StimulusSpec(seed=0), u, v, "train", 40)
    fig = plot_stimulus_frames(frames, u, v, frame_indices=[0, 10, 39], title="natural")
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if any(isinstance(c, PolyCollection) for c in ax.collections)]
    assert len(panels) == 3 and len(fig.axes) == 4  # three frames + colour bar
    for ax, index in zip(panels, [0, 10, 39], strict=False):
        (hexagons,) = ax.collections
        assert len(hexagons.get_paths()) == 19
        np.testing.assert_array_equal(hexagons.get_array(), frames[index])
        assert hexagons.get_clim() == (0.0, 1.0)
        assert ax.get_title() == f"frame {index}"
    default = plot_stimulus_frames(frames, u, v, dt=0.02)
    assert len(default.axes) == 8 + 1 and default.axes[1].get_title() == "t = 0.12 s"  # frame round(39/7) = 6


def test_stimulus_frames_reject_mismatched_input(small_network):
    u, v = small_network.columns_u, small_network.columns_v
    with pytest.raises(FlygnnError, match="n_columns=19"):
        plot_stimulus_frames(np.zeros((5, 7)), u, v)
    with pytest.raises(FlygnnError, match="within 0..4"):
        plot_stimulus_frames(np.zeros((5, 19)), u, v, frame_indices=[5])


def test_activity_traces_show_the_central_neuron_of_each_type(small_network):
    net = small_network
    T = 30
    voltage = np.random.default_rng(0).normal(size=(T, net.n_neurons)).astype(np.float32)
    fig = plot_activity_traces(
        voltage, net.neuron_type, net.type_names, dt=0.02, neuron_u=net.neuron_u, neuron_v=net.neuron_v
    )
    assert len(fig.axes) == len(DEFAULT_TRACE_TYPES)
    for ax, name in zip(fig.axes, DEFAULT_TRACE_TYPES, strict=False):
        k = net.type_names.index(name)
        neuron = np.flatnonzero((net.neuron_type == k) & (net.neuron_u == 0) & (net.neuron_v == 0))[0]
        (line,) = ax.get_lines()
        np.testing.assert_array_equal(line.get_ydata(), voltage[:, neuron])
        np.testing.assert_allclose(line.get_xdata(), np.arange(T) * 0.02)
        assert ax.get_ylabel() == name
    assert fig.axes[-1].get_xlabel() == "time (s)"
    # without coordinates the middle neuron of a type is the central column (u-major order)
    plain = plot_activity_traces(voltage, net.neuron_type, net.type_names, dt=0.02, types=("L1",))
    neuron = np.flatnonzero(
        (net.neuron_type == net.type_names.index("L1")) & (net.neuron_u == 0) & (net.neuron_v == 0)
    )[0]
    np.testing.assert_array_equal(plain.axes[0].get_lines()[0].get_ydata(), voltage[:, neuron])
    with_stimulus = plot_activity_traces(
        voltage, net.neuron_type, net.type_names, 0.02, types=("R1", "L2"), stimulus=np.zeros(T)
    )
    assert len(with_stimulus.axes) == 3


def test_activity_traces_reject_unknown_types(small_network):
    net = small_network
    with pytest.raises(FlygnnError, match="unknown cell type.*'T6'"):
        plot_activity_traces(np.zeros((4, net.n_neurons)), net.neuron_type, net.type_names, 0.02, types=("L1", "T6"))
    with pytest.raises(FlygnnError, match="needs neuron_u and neuron_v"):
        plot_activity_traces(np.zeros((4, net.n_neurons)), net.neuron_type, net.type_names, 0.02, column=(1, 0))


def test_activity_ranges_known_answer():
    neuron_type = np.array([0, 0, 1, 1, 1])
    mean = np.array([1.0, 3.0, 0.0, 0.0, 3.0])
    std = np.array([1.0, 1.0, 0.0, 2.0, 2.0])
    ranges = activity_ranges(mean, std, neuron_type, n_types=3)
    np.testing.assert_allclose(ranges["mean"][:2], [2.0, 1.0])
    np.testing.assert_allclose(ranges["std"][:2], [1.0, np.sqrt(8 / 3)])
    np.testing.assert_allclose(ranges["low"][:2], [0.0, -2.0])
    np.testing.assert_allclose(ranges["high"][:2], [4.0, 5.0])
    assert np.isnan(ranges["mean"][2])  # a type without neurons is not drawn


def test_activity_ranges_label_every_type(small_network):
    net = small_network
    rng = np.random.default_rng(1)
    fig = plot_activity_ranges(
        rng.normal(size=net.n_neurons), rng.uniform(0.1, 1, net.n_neurons), net.neuron_type, net.type_names
    )
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(net.type_names)
    assert len(ax.collections) == 3  # ranges, std bars, means
    assert ax.get_ylabel() == "voltage (a.u.)"
    with pytest.raises(FlygnnError, match="one length"):
        plot_activity_ranges(np.zeros(3), np.zeros(4), np.zeros(3, dtype=int), net.type_names)


def test_save_figure_writes_png_and_pdf(tmp_path, small_network):
    u, v = small_network.columns_u, small_network.columns_v
    fig = plot_stimulus_frames(np.full((3, 19), 0.5), u, v)
    paths = save_figure(fig, tmp_path, "stimulus-frames")
    assert [p.name for p in paths] == ["stimulus-frames.png", "stimulus-frames.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"


def test_save_figure_same_figure_same_bytes(tmp_path, small_network):
    # a re-analysis with unchanged inputs must rewrite identical files (no creation date in the PDF)
    u, v = small_network.columns_u, small_network.columns_v
    written = []
    for run in ("first", "second"):
        fig = plot_stimulus_frames(np.full((3, 19), 0.5), u, v)
        written.append([p.read_bytes() for p in save_figure(fig, tmp_path / run, "stimulus-frames")])
    assert written[0] == written[1]
    assert b"/CreationDate" not in written[0][1]
