"""The metric registry: one home per metric name, and an unknown name is an error, never a silent "n/a".

Known answers first (the error names the key and the registered names closest to it);
then the registry against what the analysis writes on a small oracle network (the same
set, both ways), and a scan of the package for metric names spelled as bare strings.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from oracle_networks import activity_for, random_network

from flygnn import metric_names
from flygnn.analysis import (
    BiophysicalParameters,
    FunctionCurves,
    GaugeCorrection,
    LinearisedDynamics,
    Metric,
    OracleModel,
    SpectralAnalysis,
    TypeClustering,
    biophysics_metrics,
    clustering_control_metrics,
    clustering_metrics,
    dynamics_metrics,
    function_metrics,
    gauge_metrics,
    spectral_metrics,
    weight_metrics,
    write_metrics,
)
from flygnn.analysis.per_type import PER_TYPE_COLUMNS
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.metric_names import (
    COUNT,
    DEFINITIONS,
    FUNCTIONAL_METRICS,
    HELDOUT_METRICS,
    KINDS,
    METRICS,
    RATE,
    RECOVERY_METRICS,
    UPSTREAM_METRICS,
    UnknownMetricError,
    check_keys,
    lookup,
)
from flygnn.report.findings import Reader

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "flygnn"


def test_an_unknown_name_is_an_error_naming_it_and_the_closest_names():
    with pytest.raises(UnknownMetricError) as caught:
        lookup("tau_r2")
    assert str(caught.value).startswith("unknown metric 'tau_r2' (did you mean 'tau_R2'")
    assert "flygnn.metric_names" in str(caught.value), "and where the names are registered"
    with pytest.raises(UnknownMetricError) as caught:
        lookup("W_corrected_R2_identifable")
    assert "did you mean 'W_corrected_R2_identifiable'" in str(caught.value)
    with pytest.raises(UnknownMetricError, match=r"^unknown metric 'zzz': every metric"):
        lookup("zzz")  # nothing close: no guess
    assert isinstance(caught.value, FlygnnError), "a message for the user, not a traceback"
    assert lookup("tau_R2").kind == "R²" and lookup("tau_R2").unit == "dimensionless"


def test_check_keys_names_the_file_and_the_fix():
    check_keys(["tau_R2", "W_raw_R2"], "m.json", "fix it")
    with pytest.raises(UnknownMetricError) as caught:
        check_keys(["tau_R2", "clustering_acuracy"], "m.json", "re-run it.")
    assert str(caught.value) == (
        "m.json: unknown metric 'clustering_acuracy' (did you mean 'clustering_accuracy', 'clustering_purity' "
        "or 'clustering_accuracy_standardised'?); re-run it."
    )


def test_every_entry_is_complete_and_its_constant_carries_its_name():
    constants = {
        name: value for name, value in vars(metric_names).items() if isinstance(value, str) and value in METRICS
    }
    assert sorted(constants.values()) == sorted(METRICS), "one constant per registered metric"
    assert all(name == key.upper() for name, key in constants.items()), "W_CORRECTED_R2 = 'W_corrected_R2'"
    for key, info in METRICS.items():
        assert info.key == key and info.kind in KINDS and info.words and "\n" not in info.words
    assert set(UPSTREAM_METRICS) == {*RECOVERY_METRICS, "clustering_accuracy"}
    assert lookup("jacobian_spectral_abscissa_true").unit == "1/s"
    assert lookup("zero_range_neurons").unit == "count"


def oracle_metrics() -> dict[str, dict[str, Metric]]:
    """Every metric function of the analysis on a small oracle network, by section (as the notebooks call them)."""
    source, target, W, tau, v_rest = random_network(n=40, e=240)
    n_types = 5
    neuron_type = np.arange(tau.size) % n_types
    model = OracleModel(source, target, W, tau, v_rest)
    activity = activity_for(tau.size)
    gauge = GaugeCorrection().fit(model, activity)
    bio = BiophysicalParameters().fit(gauge, neuron_type, n_types)
    curves = FunctionCurves(16).fit(model, activity["voltage_mean"], activity["voltage_std"], tau, v_rest)
    clustering = TypeClustering(n_components=n_types, seeds=(0, 1)).fit(np.c_[tau, v_rest], neuron_type)
    spectra = SpectralAnalysis(5, 5, 2).fit(W, gauge.corrected_W_, source, target, tau.size)
    dynamics = LinearisedDynamics(5).fit(W, tau, gauge.corrected_W_, bio.tau_, source, target, activity["voltage_mean"])
    return {
        "connectivity": weight_metrics(W, gauge) | gauge_metrics(gauge),
        "embeddings": clustering_metrics(0.7, clustering.scores_, clustering.imputed_)
        | clustering_control_metrics(0.5, 0.9),
        "functions": function_metrics(curves, gauge.message_slope_),
        "biophysics": biophysics_metrics(tau, v_rest, bio, gauge.zero_range_, neuron_type),
        "spectral": spectral_metrics(spectra) | dynamics_metrics(dynamics),
    }


def test_the_analysis_writes_exactly_the_registered_metrics(tmp_path):
    """Nothing written is unregistered, nothing registered is never written; a count is a count in both."""
    by_section = oracle_metrics()
    written = {}
    for section, metrics in by_section.items():
        write_metrics(tmp_path / f"{section}.json", metrics)
        written |= json.loads((tmp_path / f"{section}.json").read_text())
    # the validations' metrics are checked against the registry by their own tests
    assert sorted(written) == sorted(set(METRICS) - {*HELDOUT_METRICS, *FUNCTIONAL_METRICS})
    for key, entry in written.items():
        info = lookup(key)
        assert entry["definition"] in DEFINITIONS, key
        assert (entry["definition"] == "count") == (info.kind == COUNT), key
        if info.kind == COUNT:
            assert entry["description"] == info.words, "a count is described by the registry's words"
        if info.kind == RATE:
            assert entry["unit"] == info.unit == "1/s"


def test_write_metrics_refuses_an_unregistered_name_and_writes_nothing(tmp_path):
    path = tmp_path / "connectivity.json"
    with pytest.raises(
        UnknownMetricError, match=r"connectivity.json: unknown metric 'W_raw_r2' \(did you mean 'W_raw_R2'"
    ):
        write_metrics(path, {"W_raw_R2": Metric(0.5, "ols-r2"), "W_raw_r2": Metric(0.5, "ols-r2")})
    assert not path.exists()


def test_a_misspelt_name_in_a_sentence_is_an_error_not_n_a():
    reader = Reader({"tau_R2": {"value": 0.5, "definition": "upstream-tau-r2"}}, Condition("sigma-0", 0.0, "σ = 0"))
    assert reader.text("tau_R2") == "0.5000" and reader.value("tau_R2") == 0.5
    assert reader.text("V_rest_R2").startswith("n/a (not computed"), "a registered name not computed: n/a, with why"
    for read in (reader.text, reader.value, lambda name: reader.detail(name, "k")):
        with pytest.raises(UnknownMetricError, match="did you mean 'tau_R2'"):
            read("tau_R2 ")


# --- no metric name spelled as a bare string outside the registry --------------------------------------------


def bare_metric_names(path: Path, text: str) -> list[str]:
    """ "path:line: 'name'" for each string constant in ``text`` that is a registered metric name. Allowed: the
    columns of per-type.csv that share a name with a metric (a count per type, not the metric), in their owner
    (analysis/per_type.py) and read as ``.column("...")``."""
    tree = ast.parse(text)
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "column":
            allowed |= {id(arg) for arg in node.args if isinstance(arg, ast.Constant) and arg.value in PER_TYPE_COLUMNS}
    owner = path.as_posix().endswith("flygnn/analysis/per_type.py")
    return [
        f"{path}:{node.lineno}: {node.value!r}"
        for node in sorted(ast.walk(tree), key=lambda node: getattr(node, "lineno", 0))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in METRICS
        and id(node) not in allowed
        and not (owner and node.value in PER_TYPE_COLUMNS)
    ]


def test_the_scan_finds_a_bare_name_and_allows_a_per_type_column():
    source = (
        'def f(m, r):\n    return m.text("tau_R2"), m.text(TAU_R2), r.column("zero_range_neurons"), "tau_R2_x"\n'
        'COLUMNS = ("zero_range_neurons",)\n'
    )
    assert bare_metric_names(Path("src/flygnn/report/x.py"), source) == [
        "src/flygnn/report/x.py:2: 'tau_R2'",
        "src/flygnn/report/x.py:3: 'zero_range_neurons'",
    ]
    assert bare_metric_names(Path("src/flygnn/analysis/per_type.py"), source) == [
        "src/flygnn/analysis/per_type.py:2: 'tau_R2'"
    ]


def test_no_module_spells_a_metric_name_outside_the_registry():
    """The report, the figures, the analysis and the CLI name metrics by the registry's constants."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "metric_names.py":
            found += bare_metric_names(path.relative_to(PACKAGE.parents[1]), path.read_text())
    assert found == [], "use the constants of flygnn.metric_names:\n" + "\n".join(found)
