"""#tbl-held-out: the validation numbers per σ, n/a with its reason, and the sentence on the noise."""

from __future__ import annotations

from flygnn import metric_names as names
from flygnn.conditions import Condition
from flygnn.report.validation import FUNCTIONAL_ROWS, HELD_OUT_ROWS, held_out_part, validation_summary

CONDITIONS = [Condition("sigma-0", 0.0, "σ = 0"), Condition("sigma-0p5", 0.5, "σ = 0.5")]


def plain(text: str) -> str:
    """Without the non-breaking spaces and word joiners that keep "σ = 0.5" on one line."""
    return text.replace("\xa0", " ").replace("\u2060", "")


def entry(value) -> dict:
    return {"value": value, "definition": "x"}


def metrics(r2: float, rollout: float, noise: float) -> dict:
    values = {name: entry(0.5) for _, name in HELD_OUT_ROWS + FUNCTIONAL_ROWS}
    values |= {
        names.HELDOUT_DVDT_R2: entry(r2),
        names.ROLLOUT_ERROR_MEAN: entry(rollout) | {"steps": 250, "seconds": 5.0},
        names.ROLLOUT_NOISE_ERROR_MEAN: entry(noise),
    }
    return values


def test_every_row_and_condition_is_in_the_table_with_its_id():
    text = plain(held_out_part(CONDITIONS, {"sigma-0": metrics(0.99, 0.2, 0.0), "sigma-0p5": metrics(0.97, 0.9, 20.0)}))
    assert "{#tbl-held-out}" in text
    header = next(line for line in text.splitlines() if line.startswith("| |"))
    assert "σ = 0" in header and "σ = 0.5" in header
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert len([label for label, _ in HELD_OUT_ROWS + FUNCTIONAL_ROWS if label.replace("*", "\\*") in rows]) == 12
    r2_row = rows["one-step dv/dt R², pooled"]
    assert [c.strip() for c in r2_row.strip("|").split("|")][1:] == ["0.9900", "0.9700"]
    # the noise sentence: only where there is noise (at σ = 0 the "noise" is float32 rounding), the right way round
    assert "stays closer to the true" in text and "0.5" in text.split("stays closer")[0].splitlines()[-1]
    assert "drifts further" not in text
    assert "a free rollout of 250 steps (5 s)" in text


def test_at_sigma_zero_the_rollout_is_not_compared_with_rounding():
    text = held_out_part(CONDITIONS[:1], {"sigma-0": metrics(0.99, 0.05, 1e-6)})
    assert "drifts further" not in text and "stays closer" not in text


def test_a_rollout_worse_than_the_noise_is_said_so():
    text = held_out_part(CONDITIONS[1:], {"sigma-0p5": metrics(0.97, 30.0, 20.0)})
    assert "drifts further from the true dynamics" in text and "stays closer" not in text


def test_missing_results_read_na_with_the_reason():
    text = plain(held_out_part(CONDITIONS, {"sigma-0": None, "sigma-0p5": metrics(0.97, 0.9, 20.0)}))
    assert "n/a" in text
    assert "Not available for σ = 0 (not analysed yet)" in text
    placeholder = held_out_part(CONDITIONS, {"sigma-0": None, "sigma-0p5": None})
    assert "{#tbl-held-out}" in placeholder and "stays closer" not in placeholder


def test_the_key_findings_sentence_gives_every_sigma_its_numbers():
    text = plain(
        validation_summary(CONDITIONS, {"sigma-0": metrics(0.99, 0.05, 0.0), "sigma-0p5": metrics(0.97, 0.9, 20.0)})
    )
    assert "with R² 0.9900 (σ = 0), 0.9700 (σ = 0.5)" in text
    assert "run on its own for 250 steps (5 s), it stays within 0.0500 (σ = 0), 0.9000 (σ = 0.5)" in text
    assert "@sec-validation" in text and "@tbl-held-out" in text and "@fig-direction-selectivity" in text
    missing = plain(validation_summary(CONDITIONS, {"sigma-0": None, "sigma-0p5": metrics(0.97, 0.9, 20.0)}))
    assert "n/a (σ = 0)" in missing
    assert "has not run yet" in validation_summary(CONDITIONS, {"sigma-0": None, "sigma-0p5": None})
