"""The chapters' results at each noise level: a table of numbers from metrics.json, words that follow from them
and claim no more, and a sentence or two on what the noise levels share."""

from __future__ import annotations

import pytest

from flygnn.conditions import Condition
from flygnn.metric_names import UnknownMetricError
from flygnn.report.findings import SECTIONS, Reader, findings, recovery, recovery_words

NBSP = "\u00a0"
CONDITIONS = [
    Condition("sigma-0", 0.0, "σ = 0"),
    Condition("sigma-0p05", 0.05, "σ = 0.05"),
    Condition("sigma-0p5", 0.5, "σ = 0.5"),
]
LABELS = [c.label.replace(" ", NBSP) for c in CONDITIONS]


def entries(values):
    """metrics.json entries: name → value, or (value, details)."""
    out = {}
    for name, value in values.items():
        value, details = value if isinstance(value, tuple) else (value, {})
        out[name] = {"value": value, "definition": "d", **details}
    return out


BIOPHYSICS = [  # the numbers of chapters/_generated/findings-biophysics.qmd when this was written
    {
        "tau_R2": 0.5693,
        "tau_R2_excluding_zero_range": 0.8743,
        "zero_range_neurons": 34,
        "tau_R2_per_type": 0.8825,
        "V_rest_R2": 0.0892,
        "V_rest_R2_per_type": 0.0813,
        "V_rest_operating_R2": 0.0775,
    },
    {
        "tau_R2": 0.9843,
        "tau_R2_excluding_zero_range": 0.9843,
        "zero_range_neurons": 0,
        "tau_R2_per_type": 0.9690,
        "V_rest_R2": 0.6603,
        "V_rest_R2_per_type": 0.5717,
        "V_rest_operating_R2": 0.5415,
    },
    {
        "tau_R2": 0.9997,
        "tau_R2_excluding_zero_range": 0.9997,
        "zero_range_neurons": 0,
        "tau_R2_per_type": 0.9997,
        "V_rest_R2": 0.9604,
        "V_rest_R2_per_type": 0.9614,
        "V_rest_operating_R2": 0.9504,
    },
]


def spectral_values(**values):
    """The spectral section's entries of one condition; ``values`` override the defaults."""
    defaults = {
        "spectral_singular_values_R2": (0.9969, {"k": 100}),
        "spectral_singular_values_R2_null": 0.8827,
        "spectral_singular_values_error": (0.0273, {"k": 100}),
        "spectral_singular_values_error_null": 0.0529,
        "spectral_left_alignment": (0.2917, {"k": 100}),
        "spectral_right_alignment": (0.2921, {"k": 100}),
        "spectral_left_alignment_null": 0.0313,
        "spectral_right_alignment_null": 0.0346,
        "spectral_random_alignment": 0.0234,
        "jacobian_spectral_abscissa_true": -3.1616,
        "jacobian_spectral_abscissa_learned": -3.3581,
        "jacobian_rightmost_error": (0.0937, {"k": 100}),
        "jacobian_active_neurons": 11207,
        "jacobian_excluded_neurons": 34,
    }
    for name, value in values.items():
        defaults[name] = (value, defaults[name][1]) if isinstance(defaults[name], tuple) else value
    return entries(defaults)


def part(section, *per_condition, conditions=CONDITIONS):
    """findings() of ``section`` with one metrics mapping (or None) per condition."""
    return findings(section, conditions, {c.name: m for c, m in zip(conditions, per_condition, strict=True)})


def table(text):
    """The pipe table of a part: header cells, then row label → cells (one per condition)."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    header, separator, body = split[0], lines[1], split[2:]
    assert all(len(row) == len(header) for row in body), "every row has a cell per column"
    assert separator.startswith("|:-") and separator.count("-:|") == len(header) - 1, "label left, values right"
    rows = {row[0]: row[1:] for row in body}
    assert len(rows) == len(body), "no row label twice"
    return header[1:], rows


def sentences(text):
    """What follows the table, its caption and the reasons of its "n/a" cells."""
    return text.split("{#tbl-findings-")[1].split("}", 1)[1].strip()


def test_biophysics_known_answer():
    text = part("biophysics", *map(entries, BIOPHYSICS))
    header, rows = table(text)
    assert header == LABELS
    assert rows == {
        "τ R² (upstream)": ["0.5693", "0.9843", "0.9997"],
        "zero-range neurons": ["34", "0", "0"],
        "τ R² without zero-range neurons": ["0.8743", "—", "—"],
        "τ R² per type": ["0.8825", "0.9690", "0.9997"],
        "verdict on τ": ["only in part", "most of the variance", "most of the variance"],
        "V~rest~ R² (upstream)": ["0.0892", "0.6603", "0.9604"],
        "V~rest~ R² per type": ["0.0813", "0.5717", "0.9614"],
        "V~rest~ R² at the operating point": ["0.0775", "0.5415", "0.9504"],
        "verdict on V~rest~": ["not recovered", "only in part", "most of the variance"],
    }
    assert "{#tbl-findings-biophysics}" in text
    assert "score as τ̂ = 1; — where there are none" in text, "the caption says what the row leaves out"
    assert "below 0.1\nnot recovered, below 0.7 only in part" in text, "and the verdict's thresholds"
    assert "n/a" not in text and "Not available" not in text
    assert sentences(text) == (
        f"Across σ, τ R² rises from 0.5693 at {LABELS[0]} to 0.9997 at {LABELS[2]}; "
        f"V~rest~ R² rises from 0.0892 at {LABELS[0]} to 0.9604 at {LABELS[2]}."
    )
    assert text.endswith(".\n") and not text.endswith("\n\n")


@pytest.mark.parametrize(
    "r2, verdict",
    [(-0.5, "not recovered"), (0.0999, "not recovered"), (0.1, "only in part"), (0.6999, "only in part")]
    + [(0.7, "most of the variance"), (1.0, "most of the variance")],
)
def test_verdicts_at_the_threshold_edges(r2, verdict):
    assert recovery(r2) == verdict
    values = [dict(BIOPHYSICS[0], tau_R2=r2, V_rest_R2=r2)] + BIOPHYSICS[1:]
    _, rows = table(part("biophysics", *map(entries, values)))
    assert rows["verdict on τ"][0] == rows["verdict on V~rest~"][0] == verdict


def test_recovery_words_are_the_verdicts_in_a_sentence():
    assert recovery_words(0.0999, "V_rest") == "the fit does not recover V_rest"
    assert recovery_words(0.1, "τ") == "the fit recovers τ only in part"
    assert recovery_words(0.7, "τ") == "the fit recovers most of the variance of τ"
    assert recovery_words(None, "τ") == "τ: not available"


def test_a_missing_value_reads_n_a_and_its_reason_is_listed_below_the_table():
    values = [entries(v) for v in BIOPHYSICS]
    values[0]["tau_R2"]["value"] = float("nan")
    del values[1]["V_rest_R2"]
    values[2]["zero_range_neurons"]["value"] = None
    text = part("biophysics", *values)
    _, rows = table(text)
    assert rows["τ R² (upstream)"] == ["n/a", "0.9843", "0.9997"]
    assert rows["verdict on τ"] == ["n/a", "most of the variance", "most of the variance"], "no verdict without R²"
    assert rows["V~rest~ R² (upstream)"] == ["0.0892", "n/a", "0.9604"]
    assert rows["verdict on V~rest~"] == ["not recovered", "n/a", "most of the variance"]
    assert rows["zero-range neurons"][2] == rows["τ R² without zero-range neurons"][2] == "n/a"
    assert (
        f"- Not available for {LABELS[0]} (undefined: metrics.json holds no finite value): "
        "τ R² (upstream); verdict on τ.\n" in text
    )
    assert (
        f"- Not available for {LABELS[1]} (not computed: absent from results/sigma-0p05/metrics.json): "
        "V~rest~ R² (upstream); verdict on V~rest~.\n" in text
    )
    assert (
        f"- Not available for {LABELS[2]} (undefined: metrics.json holds no finite value): "
        "zero-range neurons; τ R² without zero-range neurons.\n" in text
    )
    assert "n/a: not available, the reason is given below the table." in text
    assert "Across σ" not in text, "a course over σ needs a value at every σ"


def test_the_reason_names_code_as_code():
    values = entries(BIOPHYSICS[0])
    values["tau_R2"] = {"value": None, "definition": "d", "reason": "re-run `flygnn analyze --force`"}
    text = part("biophysics", values, conditions=CONDITIONS[:1])
    assert "(undefined: re-run `flygnn analyze --force`): τ R² (upstream); verdict on τ." in text


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_not_analysed_yet_renders_a_table_of_n_a_and_says_why(section):
    text = part(section, None, None, None)
    header, rows = table(text)
    assert header == LABELS and rows
    assert all(cells == ["n/a"] * 3 for cells in rows.values())
    assert f"{{#tbl-findings-{section}}}" in text
    reasons = [f"- Not available for {label} (not analysed yet): every row." for label in LABELS]
    assert sentences(text) == "\n".join(reasons), "no course and no reading without numbers"


def test_partly_analysed():
    text = part("biophysics", entries(BIOPHYSICS[0]), None, entries(BIOPHYSICS[2]))
    _, rows = table(text)
    assert rows["τ R² (upstream)"] == ["0.5693", "n/a", "0.9997"]
    assert f"- Not available for {LABELS[1]} (not analysed yet): every row." in text
    assert "Across σ" not in text, "no course over σ with a noise level missing"


def test_the_validation_section_and_unknown_sections_have_no_findings():
    assert findings("validation", CONDITIONS, {}) == ""
    assert findings("nonsense", CONDITIONS, {}) == ""


# --- how a metric goes with σ -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tau, words",
    [
        ((0.5, 0.6, 0.7), f"τ R² rises from 0.5000 at {LABELS[0]} to 0.7000 at {LABELS[2]}"),
        ((0.7, 0.6, 0.5), f"τ R² falls from 0.7000 at {LABELS[0]} to 0.5000 at {LABELS[2]}"),
        ((0.9, 0.9, 0.9), "τ R² is 0.9000 at every σ"),
        ((0.90001, 0.9, 0.90002), "τ R² is 0.9000 at every σ"),  # a difference the table does not show is none
        ((0.5, 0.9, 0.7), f"τ R² is highest at {LABELS[1]} (0.9000)"),
        ((0.9, 0.5, 0.9), f"τ R² is highest at {LABELS[0]} and {LABELS[2]} (0.9000)"),
        ((0.5, 0.5, 0.7), f"τ R² is highest at {LABELS[2]} (0.7000)"),  # not strictly rising
    ],
)
def test_the_course_of_a_metric_over_sigma(tau, words):
    values = [dict(v, tau_R2=t) for v, t in zip(BIOPHYSICS, tau, strict=True)]
    assert sentences(part("biophysics", *map(entries, values))).startswith(f"Across σ, {words}; V~rest~ R²")


def test_the_course_follows_sigma_not_the_order_of_the_conditions():
    text = findings(
        "biophysics", CONDITIONS[::-1], {c.name: entries(v) for c, v in zip(CONDITIONS, BIOPHYSICS, strict=True)}
    )
    header, rows = table(text)
    assert header == LABELS[::-1] and rows["τ R² (upstream)"] == ["0.9997", "0.9843", "0.5693"]
    assert f"τ R² rises from 0.5693 at {LABELS[0]} to 0.9997 at {LABELS[2]}" in text


# --- the other sections -----------------------------------------------------------------------------------------


def connectivity_values(slope):
    return entries(
        {
            "W_corrected_R2": 0.9233,
            "W_corrected_slope": slope,
            "W_corrected_R2_identifiable": 0.9660,
            "W_corrected_R2_small_weights": 0.8645,
            "unidentifiable_neurons": 991,
            "W_raw_R2": 0.5245,
        }
    )


def test_connectivity_known_answer_and_the_scale_of_w_star():
    text = part("connectivity", connectivity_values(0.89), connectivity_values(0.9), connectivity_values(1.11))
    _, rows = table(text)
    assert rows["W\\* R², upstream's rules"] == ["0.9233"] * 3
    assert rows["W\\* slope, upstream's rules"] == ["0.8900", "0.9000", "1.1100"]
    assert rows["scale of W\\*"] == ["compressed towards 0", "on the scale of W", "stretched"]
    assert rows["W\\* R² without edges with \\|W\\| ≥ 1"] == ["0.8645"] * 3
    assert rows["neurons mostly below 0 (μ \\+ s ≤ 0)"] == ["991"] * 3
    assert rows["raw Ŵ R²"] == ["0.5245"] * 3
    assert "upstream scores them with s~g~ = 1" in text
    assert sentences(text).endswith(
        f"At {LABELS[0]}, W\\* is compressed towards 0; at {LABELS[1]}, W\\* is on the scale of W; "
        f"at {LABELS[2]}, W\\* is stretched."
    )
    same = part("connectivity", *[connectivity_values(1.0)] * 3)
    assert sentences(same) == (
        "Across σ, W\\* R² is 0.9233 at every σ; the raw Ŵ R² is 0.5245 at every σ. "
        "At every σ, W\\* is on the scale of W."
    )


def test_embeddings_known_answer():
    def values(alone):
        return entries(
            {
                "clustering_accuracy": 0.8313,
                "clustering_accuracy_embedding_only": alone,
                "clustering_accuracy_true_parameters": 0.9098,
                "clustering_accuracy_standardised": 0.8575,
            }
        )

    text = part("embeddings", values(0.7538), values(0.98999), values(0.99))
    _, rows = table(text)
    assert rows["on the embedding a alone"] == ["0.7538", "0.9900", "0.9900"]
    assert rows["neurons outside their type's cluster (a alone)"] == ["24.6 %", "1.0 %", "1.0 %"]
    assert rows["type clouds of the embedding"] == ["overlap", "overlap", "separated"]
    assert rows["on the true τ, V~rest~ and W"] == ["0.9098"] * 3
    assert sentences(text).endswith(
        f"At {LABELS[0]} and {LABELS[1]}, the type clouds of the embedding overlap; "
        f"at {LABELS[2]}, the type clouds of the embedding are separated."
    )


def test_functions_known_answer():
    def values(identity, g_phi, left_out):
        return entries(
            {
                "f_theta_R2_median": 1.0,
                "f_theta_R2_identity": identity,
                "g_phi_R2_median": g_phi,
                "g_phi_unidentifiable_neurons": left_out,
            }
        )

    text = part("functions", values(0.9319, 0.9999, 1025), values(0.9718, 0.9999, 933), values(0.9999, 1.0, 906))
    _, rows = table(text)
    assert rows == {
        "f~θ~: median per-neuron R² (shape)": ["1.0000"] * 3,
        "f~θ~: pooled identity R² (shape, gain, offset)": ["0.9319", "0.9718", "0.9999"],
        "g~φ~(v)² / gain against ReLU(v): median R²": ["0.9999", "0.9999", "1.0000"],
        "neurons whose gain cannot be read": ["1025", "933", "906"],
    }
    assert sentences(text) == (
        "Across σ, the median R² of f~θ~ is 1.0000 at every σ; the pooled identity R² of f~θ~ rises from 0.9319 "
        f"at {LABELS[0]} to 0.9999 at {LABELS[2]}; the median R² of g~φ~(v)² is highest at {LABELS[2]} (1.0000)."
    )


def test_spectral_numbers_and_their_reading():
    text = part("spectral", spectral_values(), spectral_values(), spectral_values())
    _, rows = table(text)
    assert rows == {
        "top-100 singular values: R²": ["0.9969"] * 3,
        "permutation null: R²": ["0.8827"] * 3,
        "top-100 singular values: mean relative error": ["0.0273"] * 3,
        "permutation null: error": ["0.0529"] * 3,
        "error against the null": ["below"] * 3,
        "top-100 singular vectors: alignment, left": ["0.2917"] * 3,
        "top-100 singular vectors: alignment, right": ["0.2921"] * 3,
        "permutation null: left": ["0.0313"] * 3,
        "permutation null: right": ["0.0346"] * 3,
        "random vectors": ["0.0234"] * 3,
        "alignment against null and random": ["above"] * 3,
        f"Jacobian: neurons with μ{NBSP}\\>{NBSP}0": ["11207"] * 3,
        "left out: μ \\> 0, no τ̂": ["34"] * 3,
        "largest real part, learned (s\u207b\u00b9)": ["-3.3581"] * 3,
        "largest real part, true (s\u207b\u00b9)": ["-3.1616"] * 3,
        "learned slowest mode vs true": ["decays faster"] * 3,
        "100 rightmost eigenvalues: mean relative error": ["0.0937"] * 3,
    }
    assert "(@fig-spectral-dynamics)" in text
    assert sentences(text) == (
        "At every σ, the singular values' error is below the null's, the singular vectors align above the null "
        "and random vectors and the learned linearisation is stable at μ, its slowest mode decaying faster than "
        "the true one."
    )


@pytest.mark.parametrize(
    "values, row, cell",
    [
        ({"spectral_singular_values_error": 0.0529}, "error against the null", "not below"),
        ({"spectral_singular_values_error": 0.06}, "error against the null", "not below"),
        ({"spectral_right_alignment": 0.0346}, "alignment against null and random", "not clearly above"),
        ({"spectral_random_alignment": 0.5}, "alignment against null and random", "not clearly above"),
        ({"jacobian_spectral_abscissa_learned": -3.0}, "learned slowest mode vs true", "decays more slowly"),
        ({"jacobian_spectral_abscissa_learned": -3.1616}, "learned slowest mode vs true", "decays as fast"),
        ({"jacobian_spectral_abscissa_learned": 0.0}, "learned slowest mode vs true", "not stable"),
        ({"jacobian_spectral_abscissa_true": 0.2}, "learned slowest mode vs true", "true not stable"),
    ],
)
def test_spectral_words_follow_the_numbers(values, row, cell):
    text = part("spectral", spectral_values(), spectral_values(**values), spectral_values())
    _, rows = table(text)
    assert rows[row][1] == cell
    assert f"; at {LABELS[1]}, " in sentences(text), "a reading that holds at one σ only is said for that σ"


def test_spectral_without_numbers_says_why_and_draws_no_conclusion():
    values = spectral_values(spectral_singular_values_error_null=None, spectral_left_alignment=float("nan"))
    values.pop("jacobian_spectral_abscissa_learned")
    text = part("spectral", values, conditions=CONDITIONS[:1])
    _, rows = table(text)
    for row in ("error against the null", "alignment against null and random", "learned slowest mode vs true"):
        assert rows[row] == ["n/a"], row
    assert (
        f"- Not available for {LABELS[0]} (undefined: metrics.json holds no finite value): permutation null: "
        "error; error against the null; top-100 singular vectors: alignment, left; alignment against null and "
        "random.\n" in text
    )
    assert (
        f"- Not available for {LABELS[0]} (not computed: absent from results/sigma-0/metrics.json): largest real "
        "part, learned (s\u207b\u00b9); learned slowest mode vs true.\n" in text
    )
    assert text.rstrip().endswith("learned slowest mode vs true."), "no sentence: nothing left to read"


def test_k_goes_into_the_cells_when_the_conditions_compare_different_numbers_of_values():
    fewer = spectral_values()
    fewer["jacobian_rightmost_error"] = {"value": 0.1, "definition": "d", "k": 50}
    _, rows = table(part("spectral", spectral_values(), fewer, spectral_values()))
    assert rows["rightmost eigenvalues: mean relative error"] == [
        "0.0937 (k = 100)",
        "0.1000 (k = 50)",
        "0.0937 (k = 100)",
    ]


def test_a_misspelt_name_is_an_error_not_n_a():
    with pytest.raises(UnknownMetricError):
        Reader({}, CONDITIONS[0]).shown("tau_r2")
