"""Noise or configuration: #tbl-configuration-ablation from the replicate records."""

from __future__ import annotations

from replicate_records import record

from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.report.configuration import configuration_part, configuration_reading, configuration_table

LABELS = {m: m.replace("_", " ") for m in UPSTREAM_METRICS} | {"clustering_accuracy": "Clustering accuracy"}


def runs(sigma: float, configuration: float, w: float, tau: float) -> list[dict]:
    """Two runs (training seeds 1 and 2) a little apart around the given scores."""
    return [
        record(seed, w + 0.001 * seed, tau + 0.001 * seed, sigma=sigma, configuration=configuration) for seed in (1, 2)
    ]


def test_the_noise_and_the_configuration_are_each_compared_with_only_one_thing_changed():
    noiseless = runs(0.0, 0.0, 0.90, 0.70)
    borrowed = runs(0.05, 0.0, 0.95, 0.70)  # σ = 0.05 with σ = 0's configuration
    own = runs(0.05, 0.05, 0.95, 0.90)
    other = [record(1, 0.5, 0.5, sigma=0.5), record(3, 0.99, 0.99, sigma=0.05, stimulus="mixed")]  # not read
    rows = {row["label"]: row for row in configuration_table(noiseless + borrowed + own + other, LABELS)}
    w, tau = rows["W corrected R2"], rows["tau R2"]
    assert w["runs"] == ["0.90100–0.90200 (n = 2)", "0.95100–0.95200 (n = 2)", "0.95100–0.95200 (n = 2)"]
    # W: the noise lifts it, the configuration does not; τ: the other way round
    assert (w["noise"], w["configuration"]) == ("higher", "overlap")
    assert (w["noise_moves"], w["configuration_moves"]) == (("raises", "W corrected R2 by 0.05"), None)
    assert (tau["noise"], tau["configuration"]) == ("overlap", "higher")
    assert (tau["noise_moves"], tau["configuration_moves"]) == (None, ("raises", "tau R2 by 0.2"))
    # every run scores V_rest R2 0.9: nothing moves it
    assert rows["V rest R2"]["noise_moves"] is rows["V rest R2"]["configuration_moves"] is None
    assert configuration_reading(list(rows.values())) == {
        "noise": "raises W corrected R2 by 0.05, and no other metric beyond run-to-run spread",
        "configuration": "raises tau R2 by 0.2, and no other metric beyond run-to-run spread",
    }


def test_the_reading_names_every_effect_or_says_there_is_none():
    lower = runs(0.05, 0.05, 0.80, 0.50)  # σ = 0.05's own configuration lowers both W and τ
    rows = configuration_table(runs(0.0, 0.0, 0.90, 0.70) + runs(0.05, 0.0, 0.90, 0.70) + lower, LABELS)
    reading = configuration_reading(rows)
    assert reading is not None
    assert reading["noise"] == "moves no metric beyond run-to-run spread"
    assert reading["configuration"] == (
        "lowers W corrected R2 by 0.1 and tau R2 by 0.2, and no other metric beyond run-to-run spread"
    )


def test_one_run_in_a_group_gives_no_verdict():
    rows = configuration_table(
        runs(0.0, 0.0, 0.9, 0.7) + runs(0.05, 0.0, 0.95, 0.7)[:1] + runs(0.05, 0.05, 1, 1), LABELS
    )
    assert {row["noise"] for row in rows} == {"n/a"}
    assert {row["noise_moves"] for row in rows} == {None}, "no claim from one run"
    assert configuration_reading(rows) is None
    assert rows[0]["runs"][1] == "0.95100 (n = 1)"


def test_the_part_has_its_table_or_says_the_runs_are_not_recorded_yet():
    records = runs(0.0, 0.0, 0.90, 0.70) + runs(0.05, 0.05, 0.95, 0.90)
    waiting = configuration_part(records, LABELS, planned=2)
    assert "{#tbl-configuration-ablation}" not in waiting
    assert "No run of σ = 0.05 with σ = 0's configuration is recorded yet" in waiting
    assert "`data/replicates/plan.yaml` lists 2" in waiting
    text = configuration_part(records + runs(0.05, 0.0, 0.95, 0.71), LABELS, planned=2)
    assert "{#tbl-configuration-ablation}" in text
    assert (
        "| W corrected R2 | 0.90100–0.90200 (n = 2) | 0.95100–0.95200 (n = 2) | 0.95100–0.95200 (n = 2) | higher | overlap |"
        in text
    )
    assert "raises W corrected R2 by 0.05 and tau R2 by 0.01, and no other metric beyond run-to-run spread;" in text
    one = configuration_part(records + runs(0.05, 0.0, 0.95, 0.71)[:1], LABELS, planned=2)
    assert "{#tbl-configuration-ablation}" in one and "| n/a | n/a |" in one
    assert "A group with fewer than two runs tells no difference from run-to-run spread yet" in one


def test_effects_in_both_directions_are_named_each_with_its_verb():
    mixed = runs(0.05, 0.05, 0.99, 0.50)  # σ = 0.05's own configuration raises W, lowers τ
    rows = configuration_table(runs(0.0, 0.0, 0.90, 0.70) + runs(0.05, 0.0, 0.90, 0.70) + mixed, LABELS)
    reading = configuration_reading(rows)
    assert reading is not None
    assert reading["configuration"] == (
        "raises W corrected R2 by 0.09 and lowers tau R2 by 0.2, and no other metric beyond run-to-run spread"
    )


def test_a_label_that_starts_a_sentence_is_lowercased_inside_one():
    fewer = [dict(r, clustering_accuracy=0.70 + 0.001 * r["train_seed"]) for r in runs(0.05, 0.0, 0.90, 0.70)]
    rows = configuration_table(runs(0.0, 0.0, 0.90, 0.70) + fewer + runs(0.05, 0.05, 0.90, 0.70), LABELS)
    reading = configuration_reading(rows)
    assert reading is not None and reading["noise"].startswith("lowers clustering accuracy by 0.18")
