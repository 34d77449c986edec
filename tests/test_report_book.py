"""The book's parts across conditions: recovery curves, metrics against σ, the per-type
table, the generated texts, the glossary and the downloads — and bad input in each."""

from __future__ import annotations

import csv
import json
import math

import pytest
from grid_tables import grid_cells
from project_fixtures import EXTRA_METRIC, analysed_copy, write_fake_history, write_fake_per_type

from flygnn.analysis.metrics import upstream_fit
from flygnn.conditions import Condition, load_conditions
from flygnn.metric_names import DEFINITIONS
from flygnn.project import read_manifest
from flygnn.report import book_check, book_figures, chapters, findings
from flygnn.report.markdown import escape_markdown
from flygnn.report.per_type import PerTypeResults, tau_r2_ceiling
from flygnn.report.provenance import ConditionResults
from flygnn.report.summary import metric_cell
from flygnn.report.training import loss_trend, recovery_trend

QUIET = {"log": lambda message: None}


@pytest.fixture
def project(tmp_path):
    layout = analysed_copy(tmp_path)
    return layout, load_conditions(layout.conditions_file)


def generated(layout, name):
    return (layout.generated / name).read_text()


@pytest.mark.slow
def test_the_new_ids_are_defined_once_and_referenced_from_the_summary_chapter(project):
    layout, conditions = project
    write_fake_history(layout.bundle_dir("sigma-0p5"))
    write_fake_per_type(layout.result_dir("sigma-0"), zero_range=(1, 0))
    chapters.build_chapters(layout, conditions, **QUIET)
    check = book_check.check_book(layout)
    assert check.problems == []
    for identifier in (
        "fig-recovery-curves",
        "fig-metrics-vs-sigma",
        "tbl-per-type-recovery",
        "tbl-residual-shares",
    ):
        assert len(check.definitions[identifier]) == 1, identifier
        assert "chapters/summary.qmd" in check.references[identifier], identifier
    # the glossary table is HTML only (four pages of reference); the text points to its section
    assert len(check.definitions["tbl-glossary"]) == 1 and "tbl-glossary" not in check.references
    assert "chapters/summary.qmd" in check.references["sec-glossary"]
    for stem in (book_figures.RECOVERY_CURVES, book_figures.METRICS_VS_SIGMA):
        for suffix in ("png", "pdf"):
            path = layout.results / book_figures.FOLDER / f"{stem}.{suffix}"
            assert path.is_file() and path.stat().st_size > 1000, path


@pytest.mark.slow
def test_a_condition_without_history_is_named_in_the_caption(project):
    layout, conditions = project
    write_fake_history(layout.bundle_dir("sigma-0p5"))
    write_fake_history(layout.bundle_dir("sigma-0"), scored=False)
    chapters.build_chapters(layout, conditions, **QUIET)
    text = generated(layout, "fig-recovery-curves.qmd")
    assert "Not available — σ = 0: data/bundles/sigma-0/training-history.csv has no row with recovery scores" in text
    assert "σ = 0.5:" not in text.split("Not available")[1]
    (layout.bundle_dir("sigma-0") / "training-history.csv").unlink()
    (layout.bundle_dir("sigma-0p5") / "training-history.csv").unlink()
    chapters.build_chapters(layout, conditions, **QUIET)
    text = generated(layout, "fig-recovery-curves.qmd")
    assert "σ = 0: its bundle has no training history (training-history.csv)" in text
    assert "σ = 0.5: its bundle has no training history" in text
    assert (layout.results / book_figures.FOLDER / "recovery-curves.png").is_file(), "still a figure, never a crash"


@pytest.mark.slow
def test_unchanged_figures_are_not_redrawn(project):
    layout, conditions = project
    write_fake_history(layout.bundle_dir("sigma-0p5"))
    chapters.build_chapters(layout, conditions, **QUIET)
    figure = layout.results / book_figures.FOLDER / "recovery-curves.png"
    stamp = figure.stat().st_mtime_ns
    chapters.build_chapters(layout, conditions, **QUIET)
    assert figure.stat().st_mtime_ns == stamp
    write_fake_history(layout.bundle_dir("sigma-0"))  # new data: redrawn
    chapters.build_chapters(layout, conditions, **QUIET)
    assert figure.stat().st_mtime_ns != stamp


def test_conditions_missing_the_same_metrics_for_the_same_reason_share_one_line(project):
    layout, conditions = project
    for name in ("sigma-0", "sigma-0p5"):
        path = layout.result_dir(name) / "metrics.json"
        document = json.loads(path.read_text())
        document["metrics"]["tau_R2"].update(value=None)
        path.write_text(json.dumps(document))
    chapters.build_chapters(layout, conditions, **QUIET)
    lines = [line for line in generated(layout, "summary-table.qmd").splitlines() if line.startswith("- Not available")]
    assert lines == [
        "- Not available for σ\u00a0=\u00a00 and σ\u00a0=\u00a00.5 (undefined: metrics.json holds no finite value): τ R²."
    ]


def test_nan_and_missing_metrics_read_not_available_with_the_reason(project):
    layout, conditions = project
    for name, edit in (
        ("sigma-0", lambda m: m["tau_R2"].update(value=None)),
        ("sigma-0p5", lambda m: m.pop("V_rest_R2")),
    ):
        path = layout.result_dir(name) / "metrics.json"
        document = json.loads(path.read_text())
        edit(document["metrics"])
        path.write_text(json.dumps(document))
    chapters.build_chapters(layout, conditions, **QUIET)
    caption = generated(layout, "fig-metrics-vs-sigma.qmd")
    assert "τ R² at σ = 0 (undefined: metrics.json holds no finite value)" in caption
    assert "V\\_rest R² at σ = 0.5 (not computed: absent from results/sigma-0p5/metrics.json)" in caption
    text = generated(layout, "findings-biophysics.qmd")
    assert "| τ R² (upstream) | n/a |" in text, "the cell of σ = 0, the first column"
    reasons = {line.split(": ", 1)[0]: line for line in text.splitlines() if line.startswith("- Not available")}
    assert "τ R² (upstream)" in reasons["- Not available for σ\u00a0=\u00a00 (undefined"]
    assert "V~rest~ R² (upstream)" in reasons["- Not available for σ\u00a0=\u00a00.5 (not computed"]
    rows = list(csv.DictReader((layout.results / "downloads" / "summary.csv").open()))
    tau = next(r for r in rows if r["metric"] == "tau_R2" and r["condition"] == "sigma-0")
    assert tau["ours"] == "" and tau["note"] == "undefined: metrics.json holds no finite value"


def test_summary_csv_holds_the_summary_table(project):
    layout, conditions = project
    chapters.build_chapters(layout, conditions, **QUIET)
    rows = list(csv.DictReader((layout.results / "downloads" / "summary.csv").open()))
    assert len(rows) == 5 * len(conditions)
    metrics = json.loads((layout.result_dir("sigma-0p5") / "metrics.json").read_text())["metrics"]
    row = next(r for r in rows if r["metric"] == "W_corrected_R2" and r["condition"] == "sigma-0p5")
    assert float(row["ours"]) == metrics["W_corrected_R2"]["value"] and row["published"] == "0.9898"
    links = generated(layout, "downloads.qmd")
    assert "[summary.csv](../results/downloads/summary.csv)" in links
    for condition in conditions:
        assert f"[metrics.json](../results/{condition.name}/metrics.json)" in links


def test_per_type_table_and_its_bad_input(project):
    layout, conditions = project
    write_fake_per_type(layout.result_dir("sigma-0"), zero_range=(1, 0))
    chapters.build_chapters(layout, conditions, **QUIET)
    text = generated(layout, "per-type-table.qmd")
    assert "{#tbl-per-type-recovery}" in text
    row_a = next(line for line in text.splitlines() if line.startswith("| A "))
    cells = [c.strip() for c in row_a.strip("|").split("|")]
    # type, neurons, τ, V_rest, then σ = 0 (τ̂, V̂_rest, R²) and σ = 0.5 (no file: n/a)
    assert cells == ["A", "3", "0.0200", "0.50", "0.0210", "0.40", "0.93", "n/a", "n/a", "n/a"]
    assert "Not available for σ\u00a0=\u00a00.5: no results/sigma-0p5/per-type.csv" in text
    assert "W R² n/a for B: the true weights of all its incoming edges are equal" in text
    # the ceiling beside the table, and the σ = 0 facts
    ceiling = upstream_fit([0.02, 0.02, 0.02, 0.2, 0.2], [1.0, 0.02, 0.02, 0.2, 0.2])[0]
    assert f"could not exceed **{ceiling:.2f}**" in text
    zero = generated(layout, "sigma-zero.qmd")
    assert "1 neuron — A (1) — never change voltage" in zero
    assert "all of A; some of B (1 of 2)" in zero
    assert "1 of 2 types have τ within 5 % of the fastest" in zero


def test_residual_shares_name_the_types_that_hold_each_score_down(project):
    layout, conditions = project
    write_fake_per_type(layout.result_dir("sigma-0"))  # shares W 0.7/0.3, τ 0.15/0.85, V_rest 0.4/0.6
    chapters.build_chapters(layout, conditions, **QUIET)
    text = generated(layout, "residual-shares.qmd")
    assert "{#tbl-residual-shares}" in text
    row = next(line for line in text.splitlines() if line.startswith("| σ\u00a0=\u00a00 "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    metrics = json.loads((layout.result_dir("sigma-0") / "metrics.json").read_text())["metrics"]
    tau = metric_cell(metrics, "tau_R2", conditions[0]).text
    assert cells[2] == f"{tau}: B 85 %, A 15 %"  # largest first
    assert cells[1].endswith(": A 70 %, B 30 %") and cells[3].endswith(": B 60 %, A 40 %")
    other = next(line for line in text.splitlines() if line.startswith("| σ\u00a0=\u00a00.5 "))
    assert other.count("n/a") == 3 and "Not available for σ\u00a0=\u00a00.5" in text
    summary = (layout.root / "chapters" / "summary.qmd").read_text()
    assert "{{< include _generated/residual-shares.qmd >}}" in summary


def test_residual_shares_below_the_threshold_name_the_largest():
    from flygnn.report.per_type import residual_shares

    rows = [
        {
            "type": f"T{i}",
            "W_residual_share": 0.05,
            "tau_residual_share": 0.05 if i else 0.5,
            "V_rest_residual_share": math.nan,
        }
        for i in range(10)
    ]
    result = PerTypeResults(Condition("sigma-0p5", 0.5, "σ = 0.5"), rows)
    text = residual_shares([result], {"sigma-0p5": {"W_corrected_R2": "0.99", "tau_R2": "0.98"}})
    cells = [c.strip() for c in text.splitlines()[2].strip("|").split("|")]
    assert cells[1] == "0.99: spread over many types (largest: T0, 5 %)"
    assert cells[2] == "0.98: T0 50 %"
    assert cells[3] == "n/a: no residual"


def test_a_per_type_file_from_an_older_flygnn_says_how_to_refresh_it(project):
    from flygnn.report.per_type import load_per_type, per_type_table

    layout, conditions = project
    write_fake_per_type(layout.result_dir("sigma-0"))
    path = layout.result_dir("sigma-0") / "per-type.csv"
    lines = [",".join(line.split(",")[:-3]) for line in path.read_text().splitlines()]  # no residual shares
    path.write_text("\n".join(lines) + "\n")
    (result, _) = load_per_type(layout, conditions)
    assert result.rows is None
    assert (
        "lacks the columns ['W_residual_share'" in result.reason and "re-run `flygnn analyze --force`" in result.reason
    )
    assert "re-run `flygnn analyze --force`." in per_type_table([result]), "the command shows as code, not as \\`…\\`"


def test_tau_ceiling_known_answer():
    rows = [
        {"type": "fast", "neurons": 4.0, "zero_range_neurons": 0.0, "tau_true": 0.02},
        {"type": "slow", "neurons": 2.0, "zero_range_neurons": 1.0, "tau_true": 0.3},
    ]
    result = PerTypeResults(Condition("sigma-0", 0.0, "σ = 0"), rows)
    expected = upstream_fit([0.02] * 4 + [0.3, 0.3], [0.02] * 4 + [1.0, 0.3])[0]
    assert tau_r2_ceiling(result) == pytest.approx(expected)
    no_zero = PerTypeResults(result.condition, [dict(r, zero_range_neurons=0.0) for r in rows])
    assert tau_r2_ceiling(no_zero) is None


def test_loss_trend_known_answer():
    rows = [{"iteration": 10 * i, "loss": value} for i, value in enumerate([9, 9, 9, 9, 9, 9, 4, 4, 2, 2])]
    trend = loss_trend(rows)
    assert (trend.before, trend.last) == (4.0, 2.0) and trend.change == pytest.approx(-0.5)
    assert (trend.first_iteration, trend.split_iteration, trend.last_iteration) == (60, 80, 90)
    assert loss_trend(rows[:3]) is None


def test_loss_trend_after_a_rate_change_compares_rows_at_the_new_rate():
    # the drop from 9 to 4 at iteration 50 is the rate change (less noise), not progress;
    # the row logged at 50 averages iterations before the change and is left out
    rows = [{"iteration": 10 * i, "loss": value} for i, value in enumerate([9, 9, 9, 9, 9, 9, 4, 4, 4, 4, 4, 4])]
    assert loss_trend(rows, 0.5).change == pytest.approx(4 / 9 - 1)  # across the change: "still falling"
    trend = loss_trend(rows, 0.5, since=50)
    assert trend.change == 0 and trend.rate_since == 50
    assert (trend.first_iteration, trend.split_iteration, trend.last_iteration) == (60, 90, 110)
    assert loss_trend(rows, 0.5, since=90) is None  # two rows after the change: too few


def test_trend_sentence_names_the_rate_its_windows_share():
    from flygnn.report.study import trend_sentence
    from flygnn.report.training import TrainingRecord

    condition = Condition("sigma-0p05", 0.05, "σ = 0.05")
    legs = [{"started_iteration": 0, "lr_factor": 1.0}, {"started_iteration": 1500, "lr_factor": 0.3}]
    rows = [{"iteration": 100 * i, "loss": 9.0 if i <= 15 else 4.0} for i in range(1, 21)]
    record = TrainingRecord(condition, training={"legs": legs}, history=rows, history_file="h.csv")
    sentence = trend_sentence(record)
    assert "both at the rate set at iteration 1,500 (+0.0 %): **flat (within ±2 %)**" in sentence
    assert "**still falling**" in trend_sentence(TrainingRecord(condition, history=rows, history_file="h.csv"))
    short = TrainingRecord(
        condition,
        training={"legs": legs[:1] + [{"started_iteration": 1900, "lr_factor": 0.1}]},
        history=rows,
        history_file="h.csv",
    )
    assert "fewer than four losses logged since the learning-rate change at iteration 1,900" in trend_sentence(short)


def test_schedule_sentence_names_the_bundles_trained_with_the_studys_preset():
    from flygnn.report.study import schedule_sentence
    from flygnn.report.training import TrainingRecord

    def records(*presets):
        return [
            TrainingRecord(Condition(f"c{i}", 0.1 * i, f"σ = {0.1 * i:g}"), training={"preset": p})
            for i, p in enumerate(presets)
        ]

    assert schedule_sentence(records("cpu", "cpu")).startswith(
        "Our bundles were trained on this project's machines, not with the study's schedule;"
    )
    assert schedule_sentence(records("paper", "paper")).startswith(
        "Our bundles were trained on this project's machines with the study's preset;"
    )
    mixed = schedule_sentence(records("paper", "cpu", "cpu"))
    assert mixed.startswith(
        "The bundle at σ\u00a0=\u00a00 was trained with the study's preset, the others with another one"
    )
    assert schedule_sentence(records("paper", "paper", "cpu")).startswith(
        "The bundles at σ\u00a0=\u00a00, σ\u00a0=\u00a00.1 were trained with the study's preset, the other with"
    )
    assert mixed.endswith("the study's column is its published configuration (`flygnn train --preset paper`).")


def test_recovery_trend_known_answer():
    # scored every 10,000 iterations (loss rows between them carry no score); window 30,000
    rows = [{"iteration": 5_000, "loss": 3.0}]
    rows += [
        {"iteration": 10_000 * i, "W_corrected_R2": 0.9 + 0.01 * i, "tau_R2": 0.5, "V_rest_R2": float("nan")}
        for i in range(1, 7)
    ]
    trend = recovery_trend(rows, window=30_000)
    assert (trend.first_iteration, trend.last_iteration, trend.whole) == (30_000, 60_000, False)
    assert trend.change("W_corrected_R2") == pytest.approx(0.03) and trend.change("tau_R2") == 0.0
    assert "V_rest_R2" not in trend.last, "a metric without a finite score at both ends is left out"
    short = recovery_trend(rows[:3], window=30_000)  # 10,000–20,000: shorter than the window
    assert (short.first_iteration, short.last_iteration, short.whole) == (10_000, 20_000, True)
    assert recovery_trend(rows[:2]) is None


def test_glossary_has_one_row_per_definition_naming_each_metric_once(project):
    layout, conditions = project
    chapters.build_chapters(layout, conditions, **QUIET)
    text = generated(layout, "glossary.qmd")
    rows = grid_cells(text)[1:]
    concepts = [row[0].split(":", 1)[0] for row in rows]
    assert len(concepts) == len(set(concepts)), "one entry per definition"
    listed = [name.split(" (", 1)[0] for row in rows for name in row[1].split("; ")]
    assert len(listed) == len(set(listed)), "each metric in one entry"
    assert escape_markdown(EXTRA_METRIC["connectivity"]) in listed
    assert escape_markdown("W_corrected_R2") in rows[0][1], "the summary table's metrics come first"
    assert "{#tbl-glossary}" in text and "@tbl-additional-metrics" in text


def test_findings_words_do_not_overclaim():
    assert findings.recovery(0.03) == "not recovered" and findings.recovery(0.35) == "only in part"
    assert findings.recovery_words(0.03, "V_rest") == "the fit does not recover V_rest"
    assert findings.recovery_words(0.35, "V_rest") == "the fit recovers V_rest only in part"
    assert findings.recovery_words(0.99, "τ") == "the fit recovers most of the variance of τ"


def test_definitions_come_from_the_metrics_module():
    from flygnn.report.glossary import definition_text, referenced_terms

    text = definition_text([(None, {"definition": "upstream-W-r2"})])
    assert text == "upstream-W-r2: " + DEFINITIONS["upstream-W-r2"]
    assert referenced_terms([text]) == ["upstream-r2"]


def test_the_per_type_table_is_searchable_and_sortable_in_html(project):
    pytest.importorskip("itables")
    layout, conditions = project
    write_fake_per_type(layout.result_dir("sigma-0"))
    chapters.build_chapters(layout, conditions, **QUIET)
    text = generated(layout, "per-type-table.qmd")
    # one table for both formats; the HTML page enhances it in place, the PDF never sees the script
    assert text.count("{#tbl-per-type-recovery}") == 1
    html = text[text.index("```{=html}") :]
    assert 'import { ITable } from "../results/book-assets/dt_bundle.js"' in html
    assert 'document.querySelector("#tbl-per-type-recovery table")' in html
    for name in ("dt_bundle.js", "dt_bundle.css"):
        assert (layout.results / "book-assets" / name).stat().st_size > 10_000, name


def test_differences_box_compares_each_bundle_with_the_study(project):
    layout, conditions = project
    meta_path = layout.bundle_dir("sigma-0p5") / "bundle.json"
    meta = json.loads(meta_path.read_text())
    meta["training"] = {"preset": "cpu", "iterations": 14000, "training_frames": 32000, "config": {"batch_size": 2}}
    meta_path.write_text(json.dumps(meta))  # (the results now belong to another bundle: generate directly)
    write_fake_history(layout.bundle_dir("sigma-0p5"))
    results = [ConditionResults(c, read_manifest(layout.result_dir(c.name))) for c in conditions]
    chapters.generate_parts(layout, conditions, results).write()
    text = generated(layout, "differences.qmd")
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in text.splitlines()
        if line.startswith("| ") and line.split("|")[1].strip()
    }
    # σ = 0 (stand-in bundle: smoke preset, 10 iterations, nothing else recorded) | σ = 0.5 (the study: paper preset)
    assert rows["Training preset"] == ["smoke", "paper", "cpu", "paper"]
    assert rows["Iterations"] == ["10", "96,000", "14,000", "128,000"]
    assert rows["Training frames"] == ["n/a", "64,000", "32,000", "64,000"]
    assert rows["Batch size (frames per"] == ["n/a", "4", "2", "2"]
    assert (
        "n/a for σ\u00a0=\u00a00: bundle.json does not record the training frames, batch size (frames per iteration)"
        in text
    )
    # the loss of the fake history halves and halves again: still falling; σ = 0 has no history
    assert "σ\u00a0=\u00a00.5: mean loss" in text and "**still falling** when training stopped" in text
    assert "σ\u00a0=\u00a00: not available (the bundle has no loss history)" in text
    assert "not in the study's summary table for any σ" in text and "0.91" not in text
    # the fake history scores W R² 0.6 … 0.9 at 500 … 2,000 iterations, shorter than the 30,000 window
    assert (
        "σ\u00a0=\u00a00.5, iterations 500–2,000 (all it has: 1,500 iterations): "
        "W corrected R² 0.6000 → 0.9000 (+0.30000), τ R² 0.7000 → 0.7000 (+0.00000)"
    ) in text
    assert "σ\u00a0=\u00a00: not available, its bundle has no training history (training-history.csv)." in text
