"""The sentences of the book whose numbers come from the results: one paragraph per chapter.

``findings-<section>.qmd`` says, for each noise level, what the chapter's figures show,
with the numbers of ``results/<condition>/metrics.json`` written in (never typed by
hand), and in words that claim no more than the numbers: an R² below
:data:`NOT_RECOVERED` is "not recovered", one below :data:`PARTLY` "only in part".
A metric that is missing or undefined reads "n/a (reason)".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flygnn.conditions import Condition
from flygnn.report.markdown import escape_markdown, escape_message, keep_together
from flygnn.report.summary import metric_cell

NOT_RECOVERED = 0.1  # R² below this: the estimate is essentially unrelated to the truth
PARTLY = 0.7  # R² below this: recovered only in part

Metrics = Mapping[str, Mapping[str, Any] | None]


class Reader:
    """The metrics of one condition: ``text(name)`` for prose, ``value(name)`` for decisions."""

    def __init__(self, metrics: Mapping[str, Any] | None, condition: Condition):
        self.metrics, self.condition = metrics, condition

    def value(self, name: str) -> float | None:
        entry = (self.metrics or {}).get(name)
        value = entry.get("value") if isinstance(entry, Mapping) else entry
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        return value

    def text(self, name: str) -> str:
        shown = metric_cell(self.metrics, name, self.condition)
        if shown.reason:
            return f"n/a ({escape_message(shown.reason)})"
        return shown.text

    def detail(self, name: str, key: str) -> Any:
        entry = (self.metrics or {}).get(name)
        return entry.get(key) if isinstance(entry, Mapping) else None


def recovery_words(r2: float | None, what: str) -> str:
    """How much an R² says was recovered, in words that do not overclaim."""
    if r2 is None:
        return f"{what}: not available"
    if r2 < NOT_RECOVERED:
        return f"the fit does not recover {what}"
    if r2 < PARTLY:
        return f"the fit recovers {what} only in part"
    return f"the fit recovers most of the variance of {what}"


def _count(value: float | None) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def connectivity(m: Reader) -> str:
    slope = m.value("W_corrected_slope")
    shape = ""
    if slope is not None and abs(slope - 1) > 0.1:
        shape = f" — the corrected weights are {'compressed towards 0' if slope < 1 else 'stretched'} (slope ≠ 1)"
    return (
        f"W\\* against W has R² {m.text('W_corrected_R2')} and slope {m.text('W_corrected_slope')} by upstream's "
        f"rules{shape}; over the edges whose W\\* is defined, R² {m.text('W_corrected_R2_identifiable')}, "
        f"and without the few edges with \\|W\\| ≥ 1, R² {m.text('W_corrected_R2_small_weights')}. "
        f"{_count(m.value('unidentifiable_neurons'))} neurons stay mostly below 0 (μ + s ≤ 0): their outgoing "
        f"weights are not identifiable and upstream scores them with s_g = 1. The raw Ŵ has R² {m.text('W_raw_R2')}."
    )


def embeddings(m: Reader) -> str:
    alone = m.value("clustering_accuracy_embedding_only")
    overlap = ""
    if alone is not None:
        overlap = (
            f" — {100 * (1 - alone):.1f} % of the neurons are not in the cluster matched to their type, so type "
            "clouds of the embedding overlap"
            if alone < 0.99
            else " — the types are separated in the embedding"
        )
    # accuracies as the tables and the UMAP figure write them (flygnn.metric_format), never re-rounded
    return (
        f"upstream's GMM has a clustering accuracy of {m.text('clustering_accuracy')} (the share of neurons in "
        f"the cluster matched one-to-one to their type). On the embedding a alone it reaches "
        f"{m.text('clustering_accuracy_embedding_only')}{overlap}; on the true parameters "
        f"{m.text('clustering_accuracy_true_parameters')} (what perfectly recovered τ, V_rest and W would "
        f"give this clustering); standardised features over three seeds give "
        f"{m.text('clustering_accuracy_standardised')}."
    )


def functions(m: Reader) -> str:
    return (
        f"f_θ against the true line (V_rest − v)/τ has a median per-neuron R² of {m.text('f_theta_R2_median')} "
        f"(its shape) and a pooled identity R² of {m.text('f_theta_R2_identity')} (shape, gain and offset "
        f"together); g_φ², normalised by its gain, against ReLU(v) has a median R² of "
        f"{m.text('g_phi_R2_median')} over the neurons whose gain can be read "
        f"({_count(m.value('g_phi_unidentifiable_neurons'))} left out)."
    )


def biophysics(m: Reader) -> str:
    zero = m.value("zero_range_neurons")
    excluded = ""
    if zero:
        excluded = (
            f" ({m.text('tau_R2_excluding_zero_range')} without the {_count(zero)} neurons whose voltage never "
            "varied, which upstream's rules score as τ̂ = 1)"
        )
    return (
        f"τ R² {m.text('tau_R2')}{excluded}, per type {m.text('tau_R2_per_type')}: "
        f"{recovery_words(m.value('tau_R2'), 'τ')}. V_rest R² {m.text('V_rest_R2')}, per type "
        f"{m.text('V_rest_R2_per_type')}, at the operating point {m.text('V_rest_operating_R2')}: "
        f"{recovery_words(m.value('V_rest_R2'), 'V_rest')}."
    )


def _counted(m: Reader, name: str, before: str, words: str) -> str:
    """``words`` preceded by the number of values metric ``name`` compares (its ``k``): "top-100
    singular values"; just ``words`` when metrics.json does not say."""
    k = m.detail(name, "k")
    return f"{before}{k} {words}" if isinstance(k, int) else words


def _all_known(m: Reader, names: Sequence[str]) -> list[float] | None:
    values = [m.value(name) for name in names]
    return None if any(v is None for v in values) else values


PER_SECOND = "1/\u2060s"  # the word joiner keeps Typst from breaking the line after the slash


def _rate(m: Reader, name: str) -> str:
    """A rate with its unit, never broken across lines (a reason why it is missing may be)."""
    text = f"{m.text(name)} {PER_SECOND}"
    return keep_together(text) if m.value(name) is not None else text


def _dynamics(m: Reader) -> str:
    true, learned = m.value("jacobian_spectral_abscissa_true"), m.value("jacobian_spectral_abscissa_learned")
    reading = ""
    if true is not None and learned is not None:
        if learned >= 0:
            reading = ": the learned linearisation is not stable at μ"
        elif learned != true:
            reading = (
                f": both stable at μ, the learned slowest mode decaying "
                f"{'faster' if learned < true else 'more slowly'} than the true one"
            )
    excluded = m.value("jacobian_excluded_neurons")
    left_out = f"; {_count(excluded)} neurons without τ̂ left out" if excluded else ""
    return (
        f"The Jacobian of the linearised dynamics (@fig-spectral-dynamics; "
        f"{_count(m.value('jacobian_active_neurons'))} neurons with {keep_together('μ > 0')}{left_out}) has its "
        f"largest real part at {_rate(m, 'jacobian_spectral_abscissa_learned')} learned against "
        f"{_rate(m, 'jacobian_spectral_abscissa_true')} true{reading}; its "
        f"{_counted(m, 'jacobian_rightmost_error', '', 'rightmost eigenvalues')}, matched by rank, differ from the "
        f"true ones by a mean relative error of {m.text('jacobian_rightmost_error')}."
    )


def spectral(m: Reader) -> str:
    """Singular values and vectors of W* read against the permutation null, then the linearised dynamics."""
    error, null_error = m.value("spectral_singular_values_error"), m.value("spectral_singular_values_error_null")
    null_error_text = m.text("spectral_singular_values_error_null")
    if error is None or null_error is None:
        against_null = f"null: {null_error_text}"
    else:
        against_null = f"{'below' if error < null_error else 'not below'} the null's {null_error_text}"
    ours = _all_known(m, ("spectral_left_alignment", "spectral_right_alignment"))
    baselines = _all_known(
        m, ("spectral_left_alignment_null", "spectral_right_alignment_null", "spectral_random_alignment")
    )
    above = "against"
    if ours is not None and baselines is not None:
        above = "above" if min(ours) > max(baselines) else "not clearly above"
    return (
        f"the {_counted(m, 'spectral_singular_values_R2', 'top-', 'singular values')} of W\\* matched by rank to "
        f"W's have R² {m.text('spectral_singular_values_R2')} (permutation null: "
        f"{m.text('spectral_singular_values_R2_null')}) and a mean relative error of "
        f"{m.text('spectral_singular_values_error')} ({against_null}); the best alignment of W's "
        f"{_counted(m, 'spectral_left_alignment', 'top-', 'singular vectors')} with those of W\\* is "
        f"{m.text('spectral_left_alignment')} (left) and {m.text('spectral_right_alignment')} (right), {above} the "
        f"null's {m.text('spectral_left_alignment_null')} and {m.text('spectral_right_alignment_null')} and the "
        f"{m.text('spectral_random_alignment')} expected of random vectors. {_dynamics(m)}"
    )


SENTENCES: dict[str, Callable[[Reader], str]] = {
    "connectivity": connectivity,
    "embeddings": embeddings,
    "functions": functions,
    "biophysics": biophysics,
    "spectral": spectral,
}


def findings(section: str, conditions: Sequence[Condition], metrics: Metrics) -> str:
    """The chapter's results paragraph: one sentence per noise level, numbers from metrics.json."""
    sentence = SENTENCES.get(section)
    if sentence is None:
        return ""
    items = []
    for condition in conditions:
        reader = Reader(metrics.get(condition.name), condition)
        label = keep_together(escape_markdown(condition.label))
        if metrics.get(condition.name) is None:
            items.append(f"- At {label}: not analysed yet.")
        else:
            text = sentence(reader)
            items.append(f"- At {label}, {text}")
    return "**What the figures show.**\n\n" + "\n".join(items) + "\n"
