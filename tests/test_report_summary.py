"""Summary tables: known answers, published values by σ, and no hand-typed numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from grid_tables import grid_cells

from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.metric_names import METRICS as METRIC_REGISTRY
from flygnn.metric_names import UPSTREAM_METRICS, UnknownMetricError
from flygnn.report.markdown import escape_markdown, escape_prose
from flygnn.report.summary import (
    additional_metrics_table,
    format_value,
    load_metrics,
    load_published,
    metric_cell,
    summary_table,
)

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = [Condition("sigma-0", 0.0, "σ = 0"), Condition("sigma-0p05", 0.05, "σ = 0.05")]


def entry(value, section="connectivity", definition="def"):
    return {"value": value, "definition": definition, "section": section}


METRICS = {
    "sigma-0": {
        "W_corrected_R2": entry(0.93121),
        "W_corrected_slope": entry(0.9),
        "tau_R2": entry(None, "biophysics"),
        "V_rest_R2": entry(0.1, "biophysics"),
        "W_corrected_outlier_edges": entry(12, "connectivity", "edges with |W*-W| > 5"),
        "clustering_ARI": entry(0.77, "embeddings", "adjusted Rand index"),
        "unidentifiable_neurons": entry(22.0, "connectivity", "count"),
    },
    "sigma-0p05": {
        "W_corrected_R2": entry(0.98),
        "W_corrected_slope": entry(0.99),
        "tau_R2": entry(0.97, "biophysics"),
        "V_rest_R2": entry(-0.25, "biophysics"),
        "clustering_accuracy": entry(0.8, "embeddings"),
        "W_corrected_outlier_edges": entry(3, "connectivity", "edges with |W*-W| > 5"),
    },
}


def table_rows(markdown: str) -> dict[str, list[str]]:
    """First cell → other cells, for the body rows of a grid table (group rows left out)."""
    body = grid_cells(markdown)
    return {cells[0]: cells[1:] for cells in body if len(cells) > 1}


def test_published_file_holds_the_seed_table():
    published = load_published(ROOT / "data" / "published.yaml")
    assert published.metrics == list(UPSTREAM_METRICS)
    by_metric = {row.metric: row for row in published.rows}
    assert by_metric["W_corrected_R2"].published_at(0.05) == 0.9852
    assert by_metric["V_rest_R2"].published_at(0.0) == 0.0884
    assert by_metric["tau_R2"].published_at(0.5) == 0.9997
    assert by_metric["clustering_accuracy"].published_at(0.5) is None
    assert by_metric["W_corrected_R2"].published_at(0.1) is None


def test_summary_table_known_answer():
    published = load_published(ROOT / "data" / "published.yaml")
    text = summary_table(CONDITIONS, METRICS, published)
    cells = grid_cells(text)
    assert cells[0] == ["", "σ\u00a0=\u00a00", "σ\u00a0=\u00a00.05"], "one σ group over each pair of columns"
    assert cells[1] == ["Metric", "ours", "published", "ours", "published"]
    rows = table_rows(text)
    assert rows["W corrected R²"] == ["0.9312", "0.9263", "0.9800", "0.9852"]
    assert rows["τ R²"] == ["n/a", "0.5277", "0.9700", "0.9888"]
    assert rows["V~rest~ R²"] == ["0.1000", "0.0884", "-0.2500", "0.3104"]
    assert rows["Clustering accuracy"] == ["n/a", "—", "0.8000", "—"]
    assert re.search(r"^: .* \{#tbl-summary\}$", text, re.MULTILINE), "Quarto caption with the table id"
    assert text.count("{#tbl-summary}") == 1
    # every "n/a" says why, below the table
    assert "- Not available for σ\u00a0=\u00a00 (undefined: metrics.json holds no finite value): τ R²." in text
    assert (
        "- Not available for σ\u00a0=\u00a00 (not computed: absent from results/sigma-0/metrics.json): "
        "Clustering accuracy." in text
    )


def test_every_number_of_the_summary_comes_from_metrics_or_published():
    published = load_published(ROOT / "data" / "published.yaml")
    text = summary_table(CONDITIONS, METRICS, published)
    allowed = {format_value(e["value"]) for m in METRICS.values() for e in m.values() if e["value"] is not None}
    allowed |= {format_value(v) for row in published.rows for v in row.published.values()}
    shown = {cell for cells in table_rows(text).values() for cell in cells if re.fullmatch(r"-?\d+\.\d+", cell)}
    assert shown and shown <= allowed


def test_additional_metrics_table_lists_the_rest_by_section():
    published = load_published(ROOT / "data" / "published.yaml")
    text = additional_metrics_table(CONDITIONS, METRICS, published)
    cells = grid_cells(text)
    assert cells[0] == ["Metric", "Definition", "σ\u00a0=\u00a00", "σ\u00a0=\u00a00.05"]
    assert [c[0] for c in cells[1:]] == [
        "**Connectivity recovery**",
        "W\\_corrected\\_outlier\\_edges",
        "unidentifiable\\_neurons",
        "**Neural embeddings and clustering**",
        "clustering\\_ARI",
    ], "a titled group per section in book order, upstream metrics left out"
    rows = table_rows(text)
    # the definition in words, from the registry, not the slug of its rules
    words = {
        name: escape_prose(METRIC_REGISTRY[name].words) for name in ("W_corrected_outlier_edges", "clustering_ARI")
    }
    assert rows["W\\_corrected\\_outlier\\_edges"] == [words["W_corrected_outlier_edges"], "12", "3"]
    assert rows["unidentifiable\\_neurons"][1:] == ["22", "n/a"], "counts stay integers"
    assert rows["clustering\\_ARI"] == [words["clustering_ARI"], "0.7700", "n/a"]
    assert "{#tbl-additional-metrics}" in text
    assert (
        "- Not available for σ\u00a0=\u00a00.05 (not computed: absent from results/sigma-0p05/metrics.json): "
        "unidentifiable\\_neurons, clustering\\_ARI." in text
    )


def test_an_unfiltered_twin_with_the_same_values_is_not_repeated():
    published = load_published(ROOT / "data" / "published.yaml")
    same = {
        c: {**m, "W_corrected_R2_unfiltered": m["W_corrected_R2"], "W_corrected_slope_unfiltered": entry(0.5)}
        for c, m in METRICS.items()
        if m
    }
    text = additional_metrics_table([c for c in CONDITIONS if METRICS[c.name]], same, published)
    rows = table_rows(text)
    assert "W\\_corrected\\_R2\\_unfiltered" not in rows, "identical to W_corrected_R2 in every column"
    assert "W\\_corrected\\_slope\\_unfiltered" in rows, "differs from W_corrected_slope: kept"
    assert "W\\_corrected\\_R2\\_unfiltered: the values of the metric without the suffix" in text


def test_additional_metrics_table_exists_even_when_empty():
    published = load_published(ROOT / "data" / "published.yaml")
    only_upstream = {c: {k: v for k, v in m.items() if k in published.metrics} for c, m in METRICS.items()}
    text = additional_metrics_table(CONDITIONS, only_upstream, published)
    assert "(none recorded)" in text and "{#tbl-additional-metrics}" in text


@pytest.mark.parametrize(
    "entry, text, reason",
    [
        (entry(float("nan")), "n/a", "undefined: metrics.json holds no finite value"),
        (entry(float("inf")), "n/a", "undefined: metrics.json holds no finite value"),
        ({"value": None, "reason": "fewer than 2 finite pairs"}, "n/a", "undefined: fewer than 2 finite pairs"),
        (entry("high"), "n/a", "unreadable: metrics.json holds 'high', not a number"),
        (entry([1, 2]), "n/a", "unreadable: metrics.json holds '[1, 2]', not a number"),
        (0.5, "0.5000", None),
        (entry(12.0, definition="count"), "12", None),
    ],
)
def test_a_bad_value_is_not_available_with_a_reason(entry, text, reason):
    condition, name = CONDITIONS[0], "zero_range_neurons"  # a count
    assert metric_cell({name: entry}, name, condition).text == text
    assert metric_cell({name: entry}, name, condition).reason == reason
    assert metric_cell({}, name, condition).reason == "not computed: absent from results/sigma-0/metrics.json"
    assert metric_cell(None, name, condition).reason == "not analysed yet"


def test_the_registry_not_the_file_says_what_is_a_count():
    condition = CONDITIONS[0]
    assert metric_cell({"W_raw_R2": entry(1.0, definition="count")}, "W_raw_R2", condition).text == "1.0000"
    assert metric_cell({"zero_range_neurons": entry(34.0, definition="")}, "zero_range_neurons", condition).text == "34"


def test_a_misspelt_metric_name_is_an_error_not_a_silent_n_a():
    with pytest.raises(UnknownMetricError, match=r"unknown metric 'tau_r2' \(did you mean 'tau_R2'"):
        metric_cell(METRICS["sigma-0"], "tau_r2", CONDITIONS[0])


def test_bad_input_never_breaks_a_table():
    """NaN, text, a bare number, a condition without results: the tables stay well formed."""
    published = load_published(ROOT / "data" / "published.yaml")
    metrics = {
        "sigma-0": {"W_corrected_R2": entry(float("nan")), "tau_R2": entry("?"), "W_raw_R2": 3.5, "V_rest_R2": [1]},
        "sigma-0p05": None,
    }
    for text in (
        summary_table(CONDITIONS, metrics, published),
        additional_metrics_table(CONDITIONS, metrics, published),
    ):
        grid = [line for line in text.splitlines() if line.startswith(("+", "|"))]
        assert len({len(line) for line in grid}) == 1
        assert all(line.endswith(("+", "|")) for line in grid)
        assert "Not available for σ\u00a0=\u00a00.05 (not analysed yet)" in text
    rows = table_rows(summary_table(CONDITIONS, metrics, published))
    assert rows["W corrected R²"] == ["n/a", "0.9263", "n/a", "0.9852"]
    names = [name for name in METRIC_REGISTRY if name not in UPSTREAM_METRICS][:10]
    many = {"sigma-0": {name: entry(None) for name in names}, "sigma-0p05": {}}
    assert (
        "- Not available for σ\u00a0=\u00a00 (undefined: metrics.json holds no finite value): "
        f"{', '.join(escape_markdown(name) for name in names[:6])} and 4 more."
        in additional_metrics_table(CONDITIONS, many, published)
    ), "a long list of names is counted, not printed"
    assert table_rows(additional_metrics_table(CONDITIONS, metrics, published))["W\\_raw\\_R2"] == [
        escape_prose(METRIC_REGISTRY["W_raw_R2"].words),
        "3.5000",
        "n/a",
    ]


@pytest.mark.parametrize(
    "value, text",
    [
        (0.98521, "0.9852"),
        (-0.25, "-0.2500"),
        (12, "12"),
        (None, "n/a"),
        (0.0, "0"),
        (3.2e-05, "3.20e-05"),
        (13741.0, "13741.0"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_load_metrics_names_missing_conditions(tmp_path):
    folder = tmp_path / "sigma-0"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({"metrics": {"W_raw_R2": entry(1.0)}}))
    assert load_metrics(tmp_path, CONDITIONS[:1]) == {"sigma-0": {"W_raw_R2": entry(1.0)}}
    with pytest.raises(FlygnnError, match=r"no metrics.json for condition\(s\) \['sigma-0p05'\]"):
        load_metrics(tmp_path, CONDITIONS)


def test_a_metrics_file_with_an_unregistered_name_is_refused_with_the_fix(tmp_path):
    """A metrics.json of another version (a renamed metric) is named with the file and the fix, not shown as a row."""
    path = tmp_path / "sigma-0" / "metrics.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"metrics": {"W_raw_R2": entry(1.0), "W_corected_R2": entry(0.5)}}))
    with pytest.raises(FlygnnError) as caught:
        load_metrics(tmp_path, CONDITIONS[:1])
    message = str(caught.value)
    assert message.startswith(f"{path}: unknown metric 'W_corected_R2' (did you mean 'W_corrected_R2'")
    assert "re-run `flygnn analyze --force`" in message and "\n" not in message


def test_malformed_published_file_is_a_clear_error(tmp_path):
    path = tmp_path / "published.yaml"
    path.write_text("rows:\n  - metric: tau_R2\n    published: {0.0: high}\n")
    with pytest.raises(
        FlygnnError, match=r"published.yaml, rows #1\.published\[0\.0\]: Input should be a valid number.*'high'"
    ):
        load_published(path)
    path.write_text("rows: [\n")
    with pytest.raises(FlygnnError, match="not valid YAML"):
        load_published(path)


def test_published_sigma_in_exponent_notation_is_a_number(tmp_path):
    # YAML 1.1 (PyYAML) reads 5e-2 and 1e-1, without a dot, as strings
    path = tmp_path / "published.yaml"
    rows = [f"  - metric: {name}\n    published: {{5e-2: 9.852e-1, 0.5: 1e-1}}\n" for name in UPSTREAM_METRICS]
    path.write_text("rows:\n" + "".join(rows))
    assert load_published(path).rows[0].published == {0.05: 0.9852, 0.5: 0.1}


def test_published_file_names_exactly_the_upstream_metrics(tmp_path):
    """The rows are checked against flygnn.metric_names: a typo or a forgotten metric is named."""
    path = tmp_path / "published.yaml"
    rows = [f"  - metric: {name}\n    published: {{}}\n" for name in UPSTREAM_METRICS]
    path.write_text("rows:\n" + "".join(rows))
    assert load_published(path).metrics == list(UPSTREAM_METRICS)
    path.write_text("rows:\n" + "".join(rows) + "  - metric: tau_r2\n")
    with pytest.raises(
        FlygnnError, match=rf"rows #{len(rows) + 1}\.metric: unknown metric 'tau_r2'.*{UPSTREAM_METRICS[0]}"
    ):
        load_published(path)
    path.write_text("rows:\n" + "".join(rows[1:]))
    with pytest.raises(FlygnnError, match=rf"no row for {UPSTREAM_METRICS[0]}\b"):
        load_published(path)
    path.write_text("rows:\n" + "".join(rows) + rows[0])
    with pytest.raises(FlygnnError, match=r"rows: metric\(s\) \['W_corrected_R2'\] have more than one row"):
        load_published(path)
