"""The names of the metrics that carry upstream's names: one list, imported everywhere.

``RECOVERY_METRICS`` are the four numbers a model is scored by while it trains (the
score columns of ``training-history.csv`` and ``recovery`` in bundle.json);
``UPSTREAM_METRICS`` adds the clustering accuracy and makes the rows of the summary
table, so they are the metrics ``data/published.yaml`` may name.

The training (:mod:`flygnn.train`) and the analysis (:mod:`flygnn.analysis.metrics`,
which computes them) are sibling stages and neither imports the other, so the names
live here, below both; the report checks ``data/published.yaml`` against them. Plain
names and no imports, so any layer may use them at no cost.
"""

from __future__ import annotations

RECOVERY_METRICS = ("W_corrected_R2", "W_corrected_slope", "tau_R2", "V_rest_R2")
UPSTREAM_METRICS = (*RECOVERY_METRICS, "clustering_accuracy")
