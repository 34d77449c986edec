"""Per-type recovery: known answers on a hand-made network, and the CSV the book reads."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from flygnn.analysis.metrics import upstream_fit
from flygnn.analysis.per_type import PER_TYPE_COLUMNS, per_type_csv, per_type_recovery, write_per_type

# 6 neurons: type 0 = {0, 1, 2}, type 1 = {3, 4}, type 2 = {5}; edges (source -> target)
NEURON_TYPE = np.array([0, 0, 0, 1, 1, 2])
SOURCE = np.array([3, 4, 3, 0, 1, 2, 5])
TARGET = np.array([0, 1, 2, 3, 4, 3, 4])
TRUE_W = np.array([0.5, -1.0, 2.0, 1.0, 1.0, 1.0, 1.0])  # into type 1: all equal
LEARNED_W = np.array([0.6, -0.9, 1.5, 0.8, 1.2, 9.0, 1.1])  # edge 5 is an outlier (|W* - W| > 5)


def table(**changes):
    arguments = dict(
        type_names=["A", "B", "C"],
        neuron_type=NEURON_TYPE,
        target=TARGET,
        true_tau=np.array([0.02, 0.02, 0.02, 0.1, 0.1, 0.3]),
        true_v_rest=np.array([0.5, 0.5, 0.5, -0.2, -0.2, 0.0]),
        true_W=TRUE_W,
        upstream_tau=np.array([0.01, 0.03, 0.05, 0.2, 1.0, 1.0]),
        upstream_v_rest=np.array([0.4, 0.6, 0.9, 0.0, 1.0, 1.0]),
        upstream_W=LEARNED_W,
        zero_range=np.array([False, False, False, False, True, True]),
        unidentifiable=np.array([True, True, False, False, False, False]),
    )
    arguments.update(changes)
    return per_type_recovery(**arguments)


def test_per_type_recovery_known_answer():
    columns = table()
    assert list(columns) == list(PER_TYPE_COLUMNS)
    assert list(columns["type"]) == ["A", "B", "C"]
    assert list(columns["neurons"]) == [3, 2, 1]
    assert list(columns["incoming_edges"]) == [3, 4, 0]
    assert list(columns["no_input_neurons"]) == [0, 0, 1]  # neuron 5 has no incoming edge
    assert list(columns["zero_range_neurons"]) == [0, 1, 1]
    assert list(columns["zero_range_no_input_neurons"]) == [0, 0, 1]
    assert list(columns["unidentifiable_neurons"]) == [2, 0, 0]
    np.testing.assert_allclose(columns["tau_true"], [0.02, 0.1, 0.3])
    np.testing.assert_allclose(columns["tau_recovered"], [0.03, 0.6, 1.0])  # medians of the upstream estimates
    np.testing.assert_allclose(columns["V_rest_recovered"], [0.6, 0.5, 1.0])
    # type A: the three edges into neurons 0, 1, 2, scored like W_corrected_R2
    assert columns["W_incoming_R2"][0] == pytest.approx(upstream_fit(TRUE_W[:3], LEARNED_W[:3])[0])
    assert list(columns["W_incoming_edges_scored"]) == [3, 3, 0]  # the outlier into B is left out


def test_undefined_incoming_r2_is_nan_not_a_guess():
    columns = table()
    assert math.isnan(columns["W_incoming_R2"][1]), "equal true weights: R² undefined"
    assert math.isnan(columns["W_incoming_R2"][2]), "no incoming edge"
    varied = table(true_W=np.array([0.5, -1.0, 2.0, 1.0, 2.0, 1.0, 3.0]))
    assert np.isfinite(varied["W_incoming_R2"][1])


def residual_shares_by_hand(true, learned, groups, n_groups):
    # an independent reference: numpy's polyfit line, squared residuals summed per group
    slope, intercept = np.polyfit(true, learned, 1)
    squares = (learned - (slope * true + intercept)) ** 2
    return np.bincount(groups, weights=squares, minlength=n_groups) / squares.sum()


def test_residual_shares_say_which_types_limit_each_score():
    columns = table()
    true_tau = np.array([0.02, 0.02, 0.02, 0.1, 0.1, 0.3])
    upstream_tau = np.array([0.01, 0.03, 0.05, 0.2, 1.0, 1.0])
    np.testing.assert_allclose(
        columns["tau_residual_share"], residual_shares_by_hand(true_tau, upstream_tau, NEURON_TYPE, 3)
    )
    np.testing.assert_allclose(
        columns["V_rest_residual_share"],
        residual_shares_by_hand(
            np.array([0.5, 0.5, 0.5, -0.2, -0.2, 0.0]), np.array([0.4, 0.6, 0.9, 0.0, 1.0, 1.0]), NEURON_TYPE, 3
        ),
    )
    # W: the scored edges only (the outlier, edge 5, is left out as in W_corrected_R2), by target type
    kept = np.arange(7) != 5
    np.testing.assert_allclose(
        columns["W_residual_share"],
        residual_shares_by_hand(TRUE_W[kept], LEARNED_W[kept], NEURON_TYPE[TARGET[kept]], 3),
    )
    for name in ("tau_residual_share", "V_rest_residual_share", "W_residual_share"):
        assert columns[name].sum() == pytest.approx(1.0)
    # one type off the line and the rest exact: it carries almost everything
    exact = table(upstream_tau=np.array([0.02, 0.02, 0.02, 0.2, 0.2, 0.3]))
    assert exact["tau_residual_share"][1] > 0.5
    # a perfect (linear) recovery leaves no residual to share: NaN, not a division by zero
    perfect = table(upstream_tau=2 * true_tau + 0.1)
    assert np.isnan(perfect["tau_residual_share"]).all()


def test_per_type_csv_round_trip(tmp_path):
    columns = table()
    path = write_per_type(tmp_path / "per-type.csv", columns)
    assert path.read_text() == per_type_csv(columns)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["type"] for r in rows] == ["A", "B", "C"]
    assert rows[1]["W_incoming_R2"] == "nan" and rows[0]["neurons"] == "3"
    assert float(rows[0]["tau_recovered"]) == pytest.approx(0.03)
