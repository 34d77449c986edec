"""What the stimulus changes: #tbl-stimulus-ablation from the replicate records, and
#tbl-stimulus-types from their per-type records."""

from __future__ import annotations

from replicate_records import record

from flygnn.metric_names import UPSTREAM_METRICS
from flygnn.report.stimulus import stimulus_part, stimulus_table, stimulus_type_table

LABELS = {m: m.replace("_", " ") for m in UPSTREAM_METRICS}


def test_the_stimulus_table_pairs_runs_with_the_same_seeds_and_tells_overlap_from_separation():
    natural = [record(1, 0.96, 0.96), record(2, 0.999, 0.9995), record(3, 0.9993, 0.9992)]
    mixed = [record(1, 0.978, 0.981, stimulus="mixed"), record(2, 0.9991, 0.9994, stimulus="mixed")]
    lower = [record(s, 0.9, 0.9, stimulus="flashes", V_rest_R2=0.1) for s in (1, 2)]
    (group,) = stimulus_table(natural + mixed, LABELS)
    rows = {row["metric"]: row for row in group["rows"]}
    assert group["stimulus"] == "mixed" and group["label"] == "σ = 0.5"
    assert rows["W_corrected_R2"]["paired"] == "+0.01800, +0.00010"  # mixed − natural, seeds 1 and 2
    assert (
        rows["W_corrected_R2"]["natural"] == "0.96000–0.99930 (n = 3)"
        and rows["W_corrected_R2"]["verdict"] == "overlap"
    )
    (flashes,) = stimulus_table(natural + lower, LABELS)
    assert {row["metric"]: row["verdict"] for row in flashes["rows"]}["V_rest_R2"] == "lower"
    assert "V rest R2 is lower on the flashes stimulus than on every natural run" in flashes["clauses"]
    # one run on a stimulus: no verdict, and the part says why
    (single,) = stimulus_table(natural + mixed[:1], LABELS)
    assert {row["verdict"] for row in single["rows"]} == {"n/a"}
    assert "too few runs to tell" in " ".join(single["clauses"])


def test_the_stimulus_part_shows_its_figure_or_says_no_second_stimulus_ran():
    natural = [record(1, 0.96, 0.96), record(2, 0.999, 0.9995)]
    mixed = [record(1, 0.978, 0.981, stimulus="mixed"), record(2, 0.9991, 0.9994, stimulus="mixed")]
    text = stimulus_part(natural + mixed, LABELS, "../results/book-figures/stimulus-ablation.png")
    assert "{#fig-stimulus-ablation}" in text and "{#tbl-stimulus-ablation}" in text
    assert "- **σ = 0.5**: the runs on the two stimuli overlap on" in text
    assert "No run of the `fast` recipe on a second stimulus" in stimulus_part(natural, LABELS, None)


TYPES = ("T0", "T1", "T2", "T3", "T4", "T5", "T6")
TAU = 0.02  # every type's true τ (s)


def per_type_rows(shares, errors, sds) -> list[dict]:
    """A per-type record: per type its τ residual share, τ̂ = τ (1 + error) and voltage SD."""
    return [
        {"type": name, "tau_true": TAU, "tau_recovered": TAU * (1 + error), "tau_residual_share": share,
         "voltage_sd": sd}
        for name, share, error, sd in zip(TYPES, shares, errors, sds, strict=True)
    ]  # fmt: skip


NATURAL_SHARES = (0.4, 0.2, 0.15, 0.1, 0.08, 0.05, 0.02)


def runs_with_per_type(mixed_errors, mixed_sds):
    """Two natural and two mixed runs at σ = 0.05 with per-type records: on the natural runs every
    type's τ̂ is 50 % off at voltage SD 0.05; the mixed runs hold T6's residual instead."""
    rows, per_type = [], {}
    for seed in (1, 2):
        natural = record(seed, 0.99, 0.95, sigma=0.05)
        mixed = record(seed, 0.99, 0.97, stimulus="mixed", sigma=0.05)
        rows += [natural, mixed]
        per_type[natural["run"]] = per_type_rows(NATURAL_SHARES, [0.5] * 7, [0.05] * 7)
        per_type[mixed["run"]] = per_type_rows((0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.7), mixed_errors, mixed_sds)
    return rows, per_type


def test_the_type_table_shows_the_types_the_natural_runs_miss_most_and_whether_their_range_explains_it():
    # T0–T2: the mixed stimulus moves them 4x more and recovers τ (10 % off); T3: more range, worse τ;
    # T4: the same range (a tie); T6: what the mixed runs miss most, but the natural runs choose
    rows, per_type = runs_with_per_type([0.1, 0.1, 0.1, 0.8, 0.1, 0.5, 0.5], [0.2, 0.2, 0.2, 0.2, 0.05, 0.05, 0.05])
    (group,) = stimulus_type_table(rows, per_type)
    assert (group["label"], group["stimulus"], group["n_natural"], group["n_other"]) == ("σ = 0.05", "mixed", 2, 2)
    assert group["types"] == ["T0", "T1", "T2", "T3", "T4"]
    assert group["top_share"] == "93 %"  # 0.4 + 0.2 + 0.15 + 0.1 + 0.08 of the natural runs' residual
    first = group["rows"][0]
    assert (first["tau_true"], first["tau"], first["share"], first["sd"]) == (
        "0.0200", ["0.0300", "0.0220"], ["40 %", "5 %"], ["0.050", "0.200"]
    )  # fmt: skip
    assert group["agrees"][0] == "T0 (voltage SD 0.200 on mixed, 0.050 on natural; τ̂ off by 10 % and 50 %)"
    assert len(group["agrees"]) == 3 and group["disagrees"] == [
        "T3 (voltage SD 0.200 on mixed, 0.050 on natural; τ̂ off by 80 % and 50 %)"
    ]
    assert group["undecided"] == ["T4"]
    text = stimulus_part(rows, LABELS, None, per_type=per_type)
    assert "{#tbl-stimulus-types}" in text and "| σ = 0.05 | T0 | 0.0200 | 0.0300 | 0.0220 | 40 % | 5 % |" in text
    assert (
        "T0, T1, T2, T3, T4 carry 93 % of what τ R² misses on the natural runs; the stimulus that moves a "
        "type's voltage more recovers its τ better for 3 of them" in text
    )
    assert "but not for T3 (voltage SD 0.200 on mixed" in text and "leave T4 undecided." in text


def test_the_sentence_says_yes_when_every_type_agrees_and_no_when_none_does():
    rows, per_type = runs_with_per_type([0.1] * 7, [0.2] * 7)
    text = stimulus_part(rows, LABELS, None, per_type=per_type)
    assert "for each of them the stimulus that moves its voltage more also recovers its τ closer to the truth" in text
    rows, per_type = runs_with_per_type([0.9] * 7, [0.2] * 7)
    (group,) = stimulus_type_table(rows, per_type)
    assert len(group["disagrees"]) == 5 and not group["agrees"]
    text = stimulus_part(rows, LABELS, None, per_type=per_type)
    assert "for none of them does the stimulus that moves its voltage more recover its τ better" in text


def test_without_per_type_records_on_both_stimuli_the_part_says_so_in_one_sentence():
    rows, per_type = runs_with_per_type([0.1] * 7, [0.2] * 7)
    sentence = (
        "No per-type record (`data/replicates/per-type/<run>.csv`) exists yet for runs on both stimuli at\nσ = 0.05"
    )
    for records in ({}, {run: rows_ for run, rows_ in per_type.items() if "natural" in run}):
        text = stimulus_part(rows, LABELS, None, per_type=records)
        assert sentence in text and "tbl-stimulus-types" not in text
    # a σ without records beside one with them is named under the table
    text = stimulus_part(rows + [record(1, 0.9, 0.9), record(1, 0.9, 0.9, "mixed")], LABELS, None, per_type=per_type)
    assert (
        "{#tbl-stimulus-types}" in text and "No per-type record of runs on both stimuli exists yet at σ = 0.5." in text
    )


def test_nearly_the_same_range_or_error_is_a_tie():
    # nearly the same range (within 5 %) or nearly the same error (within a point) is a tie too
    near_rows, near_per_type = runs_with_per_type(
        [0.1, 0.495, 0.1, 0.8, 0.1, 0.5, 0.5], [0.0524, 0.2, 0.2, 0.2, 0.05, 0.05, 0.05]
    )
    (close,) = stimulus_type_table(near_rows, near_per_type)
    assert close["undecided"] == ["T0", "T1", "T4"]
