"""flyvis' direction selectivity and flash response indices on numpy arrays.

Known answers first (one angle → 1, isotropic → 0, cosine tuning → ½ at its phase, FRI
signs and flyvis' |min| shift), then the same numbers as flyvis' own xarray functions on
random responses.
"""

from __future__ import annotations

import numpy as np
import pytest

from flygnn.analysis.probes import ANGLES, SPEEDS
from flygnn.analysis.selectivity import (
    angular_difference,
    direction_selectivity_index,
    flash_response_index,
    peak_responses,
    preferred_direction,
)

ANGLE_ARRAY = np.array(ANGLES, dtype=float)


def test_dsi_of_a_response_at_one_angle_is_one_and_of_no_response_zero():
    peaks = np.zeros((2, 12, 1))  # (OFF/ON, angles, speeds)
    peaks[1, 4, 0] = 0.7
    dsi = direction_selectivity_index(peaks, ANGLE_ARRAY)
    np.testing.assert_allclose(dsi, [0.0, 1.0], atol=1e-12)
    assert preferred_direction(peaks, ANGLE_ARRAY)[1] == pytest.approx(np.radians(120.0))


def test_dsi_of_an_isotropic_response_is_zero():
    peaks = np.full((2, 12, 3), 0.4)
    np.testing.assert_allclose(direction_selectivity_index(peaks, ANGLE_ARRAY), [0.0, 0.0], atol=1e-12)


def test_dsi_of_cosine_tuning_is_one_half_at_its_phase():
    phase = np.radians(210.0)
    tuning = 1.0 + np.cos(np.radians(ANGLE_ARRAY) - phase)
    peaks = np.stack([tuning, tuning])[:, :, None]
    np.testing.assert_allclose(direction_selectivity_index(peaks, ANGLE_ARRAY), [0.5, 0.5], atol=1e-12)
    assert angular_difference(preferred_direction(peaks, ANGLE_ARRAY)[0], phase) < 1e-9


def test_dsi_is_normalised_by_the_stronger_polarity():
    peaks = np.zeros((2, 12, 1))
    peaks[1, 0, 0] = 1.0  # ON at one angle
    peaks[0, 3, 0] = 2.0  # OFF twice as strong at another
    np.testing.assert_allclose(direction_selectivity_index(peaks, ANGLE_ARRAY), [1.0, 0.5], atol=1e-12)


def test_dsi_averages_over_speeds():
    peaks = np.zeros((2, 12, 2))
    peaks[1, 0, 0] = 1.0  # selective at the first speed
    peaks[1, :, 1] = 1.0  # isotropic at the second
    assert direction_selectivity_index(peaks, ANGLE_ARRAY)[1] == pytest.approx(0.5)


def test_peak_responses_are_rectified_and_keep_divergence_visible():
    responses = np.array([[-1.0, 0.2], [-0.5, 0.9], [-2.0, 0.1]])
    np.testing.assert_array_equal(peak_responses(responses), [0.0, 0.9])
    assert np.isnan(peak_responses(np.array([[np.nan], [1.0]])))[0]


def test_flash_response_index_known_answers():
    off = np.array([0.0, 1.0, 0.5])
    on = np.array([0.0, 3.0, 2.0])
    assert flash_response_index(off, on) == pytest.approx(0.5)  # ON preferred
    assert flash_response_index(on, off) == pytest.approx(-0.5)  # OFF preferred
    # negative responses: shifted by |min| = 1 over both -> peaks 2 (ON) and 1 (OFF)
    assert flash_response_index(np.array([-1.0, 0.0]), np.array([-1.0, 1.0])) == pytest.approx(1 / 3)
    # flyvis adds |min| also when the minimum is positive: peaks 2.5 and 1.5
    assert flash_response_index(np.array([0.5, 1.0]), np.array([0.5, 2.0])) == pytest.approx(0.25)
    assert flash_response_index(np.zeros(3), np.zeros(3)) == 0.0  # no response: 0, not NaN


def test_angular_difference_wraps():
    assert angular_difference(np.radians(350), np.radians(10)) == pytest.approx(np.radians(20))
    assert angular_difference(np.pi, -np.pi) == pytest.approx(0.0)


# --- against flyvis' own functions ------------------------------------------------------------


@pytest.fixture(scope="module")
def flyvis_analysis():
    moving = pytest.importorskip("flyvis.analysis.moving_bar_responses")
    flashes = pytest.importorskip("flyvis.analysis.flash_responses")
    return moving, flashes


def test_dsi_and_preferred_direction_match_flyvis(flyvis_analysis):
    """flyvis' direction_selectivity_index / preferred_direction on an xarray dataset of the
    MovingEdge layout; ours on the same responses cut to the window flyvis uses."""
    import xarray as xr

    moving, _ = flyvis_analysis
    rng = np.random.default_rng(3)
    dt, t_pre, n_neurons = 0.02, 0.1, 5
    intensities = (0, 1)
    travel = 21 * 2.25 / 5.8  # columns, flyvis' offsets range(-10, 11)
    n_frames = int(round((t_pre + travel / min(SPEEDS) + 0.2) / dt))
    time = np.arange(n_frames) * dt - t_pre
    samples = [(a, 80, i, s) for a in ANGLES for i in intensities for s in SPEEDS]  # flyvis' sample order
    responses = rng.normal(0.2, 1.0, (1, len(samples), n_frames, n_neurons))
    responses[..., 3] *= np.cos(np.radians([a for a, *_ in samples]))[None, :, None] + 1.2  # a tuned neuron
    inside = np.array([(time >= 0) & (time <= travel / s) for *_, s in samples])
    responses[:, ~inside] = 50.0  # large responses outside the window: must be ignored
    dataset = xr.Dataset(
        {"responses": (["network_id", "sample", "frame", "neuron"], responses)},
        coords={
            "sample": np.arange(len(samples)),
            "angle": ("sample", [a for a, *_ in samples]),
            "width": ("sample", [w for _, w, *_ in samples]),
            "intensity": ("sample", [i for _, _, i, _ in samples]),
            "speed": ("sample", [s for *_, s in samples]),
            "frame": np.arange(n_frames),
            "time": ("frame", time),
        },
        attrs={"config": {"offsets": (-10, 11)}},
    )
    expected_dsi = moving.direction_selectivity_index(dataset).transpose("intensity", "neuron").values
    expected_pd = moving.preferred_direction(dataset).squeeze().transpose("intensity", "neuron").values

    peaks = np.empty((2, len(ANGLES), len(SPEEDS), n_neurons))
    for index, (angle, _, intensity, speed) in enumerate(samples):
        window = responses[0, index, inside[index]]
        peaks[intensities.index(intensity), ANGLES.index(angle), SPEEDS.index(speed)] = peak_responses(window)
    np.testing.assert_allclose(direction_selectivity_index(peaks, ANGLE_ARRAY), expected_dsi, rtol=1e-12)
    np.testing.assert_allclose(preferred_direction(peaks, ANGLE_ARRAY), expected_pd, rtol=1e-12, atol=1e-12)


def test_flash_response_index_matches_flyvis(flyvis_analysis):
    import xarray as xr

    _, flashes = flyvis_analysis
    rng = np.random.default_rng(4)
    dt, t_pre, t_stim, n_neurons = 0.02, 0.2, 0.5, 6
    n_frames = int(round((2 * t_pre + t_stim) / dt))
    time = np.arange(n_frames) * dt - t_pre
    samples = [(0.5, 0.0, -1), (0.5, 1.0, -1), (0.5, 0.0, 6), (0.5, 1.0, 6)]  # (baseline, intensity, radius)
    responses = rng.normal(0.0, 1.0, (1, len(samples), n_frames, n_neurons))
    responses[..., 2] += 3.0  # an all-positive neuron: flyvis' |min| shift adds instead of subtracting
    dataset = xr.Dataset(
        {"responses": (["network_id", "sample", "frame", "neuron"], responses)},
        coords={
            "sample": np.arange(len(samples)),
            "baseline": ("sample", [b for b, _, _ in samples]),
            "intensity": ("sample", [i for _, i, _ in samples]),
            "radius": ("sample", [r for *_, r in samples]),
            "frame": np.arange(n_frames),
            "time": ("frame", time),
        },
        attrs={"config": {"alternations": (0, 1, 0), "dt": dt, "t_stim": t_stim}},
    )
    expected = flashes.flash_response_index(dataset, radius=6).values.squeeze()
    window = (time >= -dt) & (time <= t_stim)  # flyvis: "-dt <= time <= t_stim", compared exactly
    ours = flash_response_index(responses[0, 2][window], responses[0, 3][window])
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
