"""The chapters' results paragraphs: numbers from metrics.json, words that follow from them and claim no more."""

from __future__ import annotations

import pytest

from flygnn.conditions import Condition
from flygnn.report.findings import Reader, spectral

CONDITION = Condition("sigma-0", 0.0, "σ = 0")


def spectral_metrics(**values):
    """metrics.json entries of the spectral section; ``values`` override the defaults."""
    defaults = {
        "spectral_singular_values_R2": (0.9969, {"k": 100}),
        "spectral_singular_values_R2_null": (0.8827, {}),
        "spectral_singular_values_error": (0.0273, {"k": 100}),
        "spectral_singular_values_error_null": (0.0529, {}),
        "spectral_left_alignment": (0.2917, {"k": 100}),
        "spectral_right_alignment": (0.2921, {"k": 100}),
        "spectral_left_alignment_null": (0.0313, {}),
        "spectral_right_alignment_null": (0.0346, {}),
        "spectral_random_alignment": (0.0234, {}),
        "jacobian_spectral_abscissa_true": (-3.1616, {}),
        "jacobian_spectral_abscissa_learned": (-3.3581, {}),
        "jacobian_rightmost_error": (0.0937, {"k": 100}),
        "jacobian_active_neurons": (11207, {}),
        "jacobian_excluded_neurons": (34, {}),
    }
    metrics = {name: {"value": value, "definition": "d", **details} for name, (value, details) in defaults.items()}
    for name, value in values.items():
        metrics[name]["value"] = value
    return metrics


def test_spectral_numbers_and_their_reading():
    text = spectral(Reader(spectral_metrics(), CONDITION))
    assert (
        "the top-100 singular values of W\\* matched by rank to W's have R² 0.9969 (permutation null: 0.8827)" in text
    )
    assert "mean relative error of 0.0273 (below the null's 0.0529)" in text
    assert (
        "with those of W\\* is 0.2917 (left) and 0.2921 (right), above the null's 0.0313 and 0.0346 and the "
        "0.0234 expected" in text
    )
    assert "(@fig-spectral-dynamics; 11,207 neurons with μ\u00a0>\u00a00; 34 neurons without τ̂ left out)" in text
    assert (
        "largest real part at -3.3581\u00a0s\u207b\u00b9 learned against -3.1616\u00a0s\u207b\u00b9 true: both stable at μ, the "
        "learned slowest mode decaying faster than the true one" in text
    )
    assert (
        "its 100 rightmost eigenvalues, matched by rank, differ from the true ones by a mean relative error of 0.0937"
        in text
    )


@pytest.mark.parametrize(
    "values, words",
    [
        ({"spectral_singular_values_error": 0.06}, "mean relative error of 0.0600 (not below the null's 0.0529)"),
        ({"spectral_right_alignment": 0.03}, "0.2917 (left) and 0.0300 (right), not clearly above the null's"),
        ({"spectral_random_alignment": 0.5}, "not clearly above the null's 0.0313 and 0.0346 and the 0.5000"),
        (
            {"jacobian_spectral_abscissa_learned": -3.0},
            "the learned slowest mode decaying more slowly than the true one",
        ),
        (
            {"jacobian_spectral_abscissa_learned": 0.2},
            "0.2000\u00a0s\u207b\u00b9 learned against -3.1616\u00a0s\u207b\u00b9 true: the "
            "learned linearisation is not stable at μ",
        ),
        ({"jacobian_excluded_neurons": 0}, "(@fig-spectral-dynamics; 11,207 neurons with μ\u00a0>\u00a00) has"),
    ],
)
def test_spectral_words_follow_the_numbers(values, words):
    assert words in spectral(Reader(spectral_metrics(**values), CONDITION))


def test_spectral_without_numbers_says_why_and_draws_no_conclusion():
    metrics = spectral_metrics(spectral_singular_values_error_null=None, spectral_left_alignment=float("nan"))
    metrics.pop("jacobian_spectral_abscissa_learned")
    text = spectral(Reader(metrics, CONDITION))
    assert "(null: n/a (undefined: metrics.json holds no finite value))" in text
    assert "n/a (undefined: metrics.json holds no finite value) (left) and 0.2921 (right), against the null's" in text
    assert (
        "n/a (not computed: absent from results/sigma-0/metrics.json) s\u207b\u00b9 learned against -3.1616\u00a0s\u207b\u00b9 true;"
        in text
    )
    for claim in ("below", "above", "stable", "faster", "slowly"):
        assert claim not in text, claim
