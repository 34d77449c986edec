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

from flygnn import metric_names as names
from flygnn.conditions import Condition
from flygnn.metric_names import lookup
from flygnn.report.markdown import escape_markdown, escape_message, keep_together, subscripts
from flygnn.report.summary import metric_cell

NOT_RECOVERED = 0.1  # R² below this: the estimate is essentially unrelated to the truth
PARTLY = 0.7  # R² below this: recovered only in part

Metrics = Mapping[str, Mapping[str, Any] | None]


class Reader:
    """The metrics of one condition: ``text(name)`` for prose, ``value(name)`` for decisions.

    ``name`` is a registered metric (:mod:`flygnn.metric_names`); any other raises.
    """

    def __init__(self, metrics: Mapping[str, Any] | None, condition: Condition):
        self.metrics, self.condition = metrics, condition

    def value(self, name: str) -> float | None:
        lookup(name)  # a misspelt name is an error, never a silent "n/a"
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
        lookup(name)
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
    slope = m.value(names.W_CORRECTED_SLOPE)
    shape = ""
    if slope is not None and abs(slope - 1) > 0.1:
        shape = f" — the corrected weights are {'compressed towards 0' if slope < 1 else 'stretched'} (slope ≠ 1)"
    return (
        f"W\\* against W has R² {m.text(names.W_CORRECTED_R2)} and slope {m.text(names.W_CORRECTED_SLOPE)} "
        f"by upstream's rules{shape}; over the edges whose W\\* is defined, R² {m.text(names.W_CORRECTED_R2_IDENTIFIABLE)}, "
        f"and without the few edges with \\|W\\| ≥ 1, R² {m.text(names.W_CORRECTED_R2_SMALL_WEIGHTS)}. "
        f"{_count(m.value(names.UNIDENTIFIABLE_NEURONS))} neurons stay mostly below 0 (μ + s ≤ 0): their outgoing "
        "weights are not identifiable and upstream scores them with s_g = 1. "
        f"The raw Ŵ has R² {m.text(names.W_RAW_R2)}."
    )


def embeddings(m: Reader) -> str:
    alone = m.value(names.CLUSTERING_ACCURACY_EMBEDDING_ONLY)
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
        f"upstream's GMM has a clustering accuracy of {m.text(names.CLUSTERING_ACCURACY)} (the share of neurons in "
        f"the cluster matched one-to-one to their type). On the embedding a alone it reaches "
        f"{m.text(names.CLUSTERING_ACCURACY_EMBEDDING_ONLY)}{overlap}; on the true parameters "
        f"{m.text(names.CLUSTERING_ACCURACY_TRUE_PARAMETERS)} (what perfectly recovered τ, V_rest and W would "
        f"give this clustering); standardised features over three seeds give "
        f"{m.text(names.CLUSTERING_ACCURACY_STANDARDISED)}."
    )


def functions(m: Reader) -> str:
    return (
        f"f_θ against the true line (V_rest − v)/τ has a median per-neuron R² of {m.text(names.F_THETA_R2_MEDIAN)} "
        f"(its shape) and a pooled identity R² of {m.text(names.F_THETA_R2_IDENTITY)} (shape, gain and offset "
        f"together); g_φ², normalised by its gain, against ReLU(v) has a median R² of "
        f"{m.text(names.G_PHI_R2_MEDIAN)} over the neurons whose gain can be read "
        f"({_count(m.value(names.G_PHI_UNIDENTIFIABLE_NEURONS))} left out)."
    )


def biophysics(m: Reader) -> str:
    zero = m.value(names.ZERO_RANGE_NEURONS)
    excluded = ""
    if zero:
        excluded = (
            f" ({m.text(names.TAU_R2_EXCLUDING_ZERO_RANGE)} without the {_count(zero)} neurons whose voltage never "
            "varied, which upstream's rules score as τ̂ = 1)"
        )
    return (
        f"τ R² {m.text(names.TAU_R2)}{excluded}, per type {m.text(names.TAU_R2_PER_TYPE)}: "
        f"{recovery_words(m.value(names.TAU_R2), 'τ')}. V_rest R² {m.text(names.V_REST_R2)}, per type "
        f"{m.text(names.V_REST_R2_PER_TYPE)}, at the operating point {m.text(names.V_REST_OPERATING_R2)}: "
        f"{recovery_words(m.value(names.V_REST_R2), 'V_rest')}."
    )


def _counted(m: Reader, name: str, before: str, words: str) -> str:
    """``words`` preceded by the number of values metric ``name`` compares (its ``k``): "top-100
    singular values"; just ``words`` when metrics.json does not say."""
    k = m.detail(name, "k")
    return f"{before}{k} {words}" if isinstance(k, int) else words


def _all_known(m: Reader, keys: Sequence[str]) -> list[float] | None:
    values = [m.value(key) for key in keys]
    return None if any(v is None for v in values) else values


PER_SECOND = "s\u207b\u00b9"  # s⁻¹: no slash for a line to break after, no invisible character to keep it


def _rate(m: Reader, name: str) -> str:
    """A rate with its unit, never broken across lines (a reason why it is missing may be)."""
    text = f"{m.text(name)} {PER_SECOND}"
    return keep_together(text) if m.value(name) is not None else text


def _dynamics(m: Reader) -> str:
    true, learned = m.value(names.JACOBIAN_SPECTRAL_ABSCISSA_TRUE), m.value(names.JACOBIAN_SPECTRAL_ABSCISSA_LEARNED)
    reading = ""
    if true is not None and learned is not None:
        if learned >= 0:
            reading = ": the learned linearisation is not stable at μ"
        elif learned != true:
            reading = (
                f": both stable at μ, the learned slowest mode decaying "
                f"{'faster' if learned < true else 'more slowly'} than the true one"
            )
    excluded = m.value(names.JACOBIAN_EXCLUDED_NEURONS)
    left_out = f"; {_count(excluded)} neurons without τ̂ left out" if excluded else ""
    return (
        f"The Jacobian of the linearised dynamics (@fig-spectral-dynamics; "
        f"{_count(m.value(names.JACOBIAN_ACTIVE_NEURONS))} neurons with {keep_together('μ > 0')}{left_out}) has its "
        f"largest real part at {_rate(m, names.JACOBIAN_SPECTRAL_ABSCISSA_LEARNED)} learned against "
        f"{_rate(m, names.JACOBIAN_SPECTRAL_ABSCISSA_TRUE)} true{reading}; its "
        f"{_counted(m, names.JACOBIAN_RIGHTMOST_ERROR, '', 'rightmost eigenvalues')}, matched by rank, differ from the "
        f"true ones by a mean relative error of {m.text(names.JACOBIAN_RIGHTMOST_ERROR)}."
    )


def spectral(m: Reader) -> str:
    """Singular values and vectors of W* read against the permutation null, then the linearised dynamics."""
    error, null_error = (
        m.value(names.SPECTRAL_SINGULAR_VALUES_ERROR),
        m.value(names.SPECTRAL_SINGULAR_VALUES_ERROR_NULL),
    )
    null_error_text = m.text(names.SPECTRAL_SINGULAR_VALUES_ERROR_NULL)
    if error is None or null_error is None:
        against_null = f"null: {null_error_text}"
    else:
        against_null = f"{'below' if error < null_error else 'not below'} the null's {null_error_text}"
    ours = _all_known(m, (names.SPECTRAL_LEFT_ALIGNMENT, names.SPECTRAL_RIGHT_ALIGNMENT))
    baselines = _all_known(
        m, (names.SPECTRAL_LEFT_ALIGNMENT_NULL, names.SPECTRAL_RIGHT_ALIGNMENT_NULL, names.SPECTRAL_RANDOM_ALIGNMENT)
    )
    above = "against"
    if ours is not None and baselines is not None:
        above = "above" if min(ours) > max(baselines) else "not clearly above"
    return (
        f"the {_counted(m, names.SPECTRAL_SINGULAR_VALUES_R2, 'top-', 'singular values')} of W\\* matched by rank to "
        f"W's have R² {m.text(names.SPECTRAL_SINGULAR_VALUES_R2)} (permutation null: "
        f"{m.text(names.SPECTRAL_SINGULAR_VALUES_R2_NULL)}) and a mean relative error of "
        f"{m.text(names.SPECTRAL_SINGULAR_VALUES_ERROR)} ({against_null}); the best alignment of W's "
        f"{_counted(m, names.SPECTRAL_LEFT_ALIGNMENT, 'top-', 'singular vectors')} with those of W\\* is "
        f"{m.text(names.SPECTRAL_LEFT_ALIGNMENT)} (left) and {m.text(names.SPECTRAL_RIGHT_ALIGNMENT)} (right), "
        f"{above} the null's {m.text(names.SPECTRAL_LEFT_ALIGNMENT_NULL)} and "
        f"{m.text(names.SPECTRAL_RIGHT_ALIGNMENT_NULL)} and the "
        f"{m.text(names.SPECTRAL_RANDOM_ALIGNMENT)} expected of random vectors. {_dynamics(m)}"
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
            text = subscripts(sentence(reader))
            items.append(f"- At {label}, {text}")
    return "**What the figures show.**\n\n" + "\n".join(items) + "\n"
