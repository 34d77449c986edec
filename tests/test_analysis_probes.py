"""Probe stimuli of the functional validation: flyvis' moving edges and flashes on our lattice."""

from __future__ import annotations

import numpy as np
import pytest

from flygnn.analysis.probes import (
    EDGE_END,
    EDGE_START,
    GREY,
    central_neurons,
    edge_frames,
    flash,
    input_current,
    moving_edge,
)
from flygnn.errors import FlygnnError
from flygnn.stimulus import lattice_positions


def hexagon(radius: int) -> tuple[np.ndarray, np.ndarray]:
    cells = [(u, v) for u in range(-radius, radius + 1) for v in range(-radius, radius + 1) if abs(u + v) <= radius]
    u, v = np.array(cells).T
    return u, v


def test_edge_frames_is_flyvis_travel_over_speed():
    travel = 21 * 2.25 / 5.8  # columns: flyvis' offsets range(-10, 11), LED 2.25°, column 5.8°
    assert EDGE_END - EDGE_START == pytest.approx(travel)
    assert edge_frames(2.4, 0.02) == round(travel / 2.4 / 0.02) == 170
    assert edge_frames(25.0, 0.02) == 16
    with pytest.raises(FlygnnError, match="positive"):
        edge_frames(0.0, 0.02)


@pytest.mark.parametrize("intensity", [0.0, 1.0])
def test_an_edge_sweeps_from_behind_the_centre_past_it(intensity):
    u, v = hexagon(6)
    movie = moving_edge(u, v, angle=0.0, speed=9.7, intensity=intensity, dt=0.02)
    x = lattice_positions(u, v)[:, 0]
    centre = np.flatnonzero((u == 0) & (v == 0))[0]
    assert movie.shape == (edge_frames(9.7, 0.02), u.size)
    assert movie[0, centre] == GREY  # the front starts 3.9 columns before the centre
    assert movie[-1, centre] == intensity  # and ends 4.3 columns past it
    np.testing.assert_array_equal(movie[0, x < EDGE_START - 0.5], intensity)  # behind the front from the start
    np.testing.assert_array_equal(movie[:, x > EDGE_END + 0.5], GREY)  # never reached
    step = np.diff(movie, axis=0) * np.sign(intensity - GREY)
    assert (step >= 0).all()  # a column once covered stays covered


def test_edge_direction_follows_the_angle():
    u, v = hexagon(4)
    positions = lattice_positions(u, v)
    for angle, direction in ((0.0, (1, 0)), (90.0, (0, 1)), (180.0, (-1, 0))):
        movie = moving_edge(u, v, angle, speed=13.0, intensity=1.0, dt=0.02)
        first_covered = (movie < 1.0).sum(axis=0)  # frames before a column is fully ON
        projection = positions @ np.array(direction, dtype=float)
        # columns further along the direction of motion are covered later
        assert np.corrcoef(projection, first_covered)[0, 1] > 0.95


def test_flash_disc_and_full_field():
    u, v = hexagon(3)
    assert (flash(u, v, 1.0, radius=1) == 1.0).sum() == 7  # the centre and its 6 neighbours
    assert (flash(u, v, 0.0, radius=1) == GREY).sum() == u.size - 7
    np.testing.assert_array_equal(flash(u, v, 0.0, radius=-1), 0.0)


def test_input_current_feeds_photoreceptors_their_columns_luminance(tiny_network):
    net = tiny_network
    luminance = np.arange(net.n_columns, dtype=np.float32)[None].repeat(2, axis=0)
    current = input_current(luminance, net.input_indices, net.input_column, net.n_neurons)
    assert current.shape == (2, net.n_neurons)
    np.testing.assert_array_equal(current[:, net.input_indices], luminance[:, net.input_column])
    others = np.setdiff1d(np.arange(net.n_neurons), net.input_indices)
    assert not current[:, others].any()


def test_central_neurons_one_per_type_in_column_zero(tiny_network):
    net = tiny_network
    central = central_neurons(net.neuron_type, net.neuron_u, net.neuron_v, net.n_types)
    np.testing.assert_array_equal(net.neuron_type[central], np.arange(net.n_types))
    assert (net.neuron_u[central] == 0).all() and (net.neuron_v[central] == 0).all()
    with pytest.raises(FlygnnError, match="central column"):
        central_neurons(net.neuron_type, net.neuron_u + 5, net.neuron_v, net.n_types)
