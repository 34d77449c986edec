"""One rule for writing a metric's value: the clustering figure quotes the clustering numbers as the tables do."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import pyplot as plt

from flygnn.conditions import Condition
from flygnn.figures.embeddings import cluster_confusion_figure
from flygnn.metric_format import NOT_AVAILABLE, format_value
from flygnn.report.findings import findings
from flygnn.report.summary import metric_cell


@pytest.mark.parametrize(
    "value, text",
    [
        (0.8450622225456662, "0.8451"),
        (0.9098318899643403, "0.9098"),
        (-3.161604590250805, "-3.1616"),
        (25090, "25090"),
        (float("nan"), NOT_AVAILABLE),
        (None, NOT_AVAILABLE),
    ],
)
def test_format_value_known_answers(value, text):
    assert format_value(value) == text


def test_the_clustering_figure_and_the_tables_quote_the_same_clustering_numbers():
    # the values of results/sigma-0/metrics.json when this was written
    values = {
        "clustering_accuracy": 0.8450622225456662,
        "clustering_accuracy_standardised": 0.8552749678577493,
        "clustering_accuracy_embedding_only": 0.7810203041991122,
        "clustering_accuracy_true_parameters": 0.9098318899643403,
    }
    metrics = {name: {"value": value, "definition": "upstream-clustering-accuracy"} for name, value in values.items()}
    condition = Condition("sigma-0", 0.0, "σ = 0")
    types = np.arange(200) % 65
    fig = cluster_confusion_figure(np.arange(200) % 7, types, [f"T{k}" for k in range(65)], 100, values)
    (printed,) = [text for ax in fig.axes for text in ax.texts]
    plt.close(fig)
    part = findings("embeddings", [condition], {condition.name: metrics})
    for name in values:
        table = metric_cell(metrics, name, condition).text
        assert f"{name}:\n  {table}" in printed.get_text(), "the figure writes the number as the table does"
        assert f"| {table} |" in part, "and so does the chapter's results table"
    assert "84.5" not in part, "never a second rounding of the same number (84.5 %)"
