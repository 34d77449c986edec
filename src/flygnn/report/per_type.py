"""The per-type recovery table (``#tbl-per-type-recovery``) and the facts of σ = 0 it explains.

Read from ``results/<condition>/per-type.csv`` (written by the biophysics notebook with
:func:`flygnn.analysis.per_type.write_per_type`): one row per cell type, the truth once,
then per noise level the median upstream-rule τ̂ and V̂_rest and the R² of the type's
incoming weights. A condition without the file (analysed before it existed) or with an
unreadable one shows "n/a" with the reason; a table never breaks on bad input.

The counts in the file (neurons without input, zero-range and unidentifiable neurons)
give the generated text on why σ = 0 is hard, including the highest τ R² that
upstream's rule allows when the neurons whose voltage never varied are scored τ̂ = 1.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flygnn.conditions import Condition, same_sigma
from flygnn.metric_names import TAU_R2, V_REST_R2, W_CORRECTED_R2
from flygnn.project import ProjectLayout
from flygnn.report.markdown import (
    Cell,
    GridTable,
    Row,
    escape_markdown,
    escape_message,
    keep_together,
    listed,
    pipe_table,
    table,
)
from flygnn.report.summary import NOT_AVAILABLE

TABLE_ID = "tbl-per-type-recovery"
# types whose τ lies within this factor of the fastest type's count as "as fast as the step"
FAST_FACTOR = 1.05


@dataclass(frozen=True)
class PerTypeResults:
    """One condition's per-type rows (column → value; "type" a name, the rest floats), or why none."""

    condition: Condition
    rows: list[dict[str, Any]] | None
    reason: str | None = None

    def column(self, name: str) -> np.ndarray:
        return np.array([row.get(name, math.nan) for row in self.rows or []], dtype=float)

    @property
    def types(self) -> list[str]:
        return [str(row["type"]) for row in self.rows or []]

    @property
    def unavailable_reason(self) -> str:
        """Why there are no rows: results without rows are made with their reason (:func:`_read`)."""
        if self.reason is None:
            raise ValueError(f"the per-type results of {self.condition.name} have no rows and no reason")
        return self.reason


def _read(path, condition: Condition, layout: ProjectLayout) -> PerTypeResults:
    from flygnn.analysis.per_type import PER_TYPE_COLUMNS

    shown = layout.relative(path)
    if not path.is_file():
        return PerTypeResults(
            condition, None, f"no {shown}: the results predate the per-type table; re-run `flygnn analyze --force`"
        )
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in PER_TYPE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                return PerTypeResults(
                    condition,
                    None,
                    f"{shown} lacks the columns {missing} (written by an older flygnn); re-run `flygnn analyze --force`",
                )
            rows = [
                {key: (text if key == "type" else float(text)) for key, text in record.items() if key}
                for record in reader
            ]
    except (OSError, ValueError, csv.Error) as exc:
        return PerTypeResults(condition, None, f"{shown} is unreadable ({exc.__class__.__name__}: {exc})")
    if not rows:
        return PerTypeResults(condition, None, f"{shown} has no rows")
    return PerTypeResults(condition, rows)


def load_per_type(layout: ProjectLayout, conditions: Sequence[Condition]) -> list[PerTypeResults]:

    return [_read(layout.result(c.name).per_type, c, layout) for c in conditions]


def _fixed(value: float, digits: int) -> str:
    if not math.isfinite(value):
        return NOT_AVAILABLE
    return f"{value:.{digits}f}".replace("-", "−")


def _unavailable(results: Sequence[PerTypeResults]) -> list[str]:
    """One bullet per condition without per-type rows, with the reason (below a table)."""
    return [
        f"- Not available for {keep_together(escape_markdown(r.condition.label))}: {escape_message(r.unavailable_reason)}."
        for r in results
        if not r.rows
    ]


def per_type_table(results: Sequence[PerTypeResults]) -> str:
    """The grid table, its caption and id, and the reasons of every "n/a" below it."""
    available = [r for r in results if r.rows]
    reasons = _unavailable(results)
    reference = available[0] if available else None
    for r in available[1:]:
        if r.types != available[0].types:
            reasons.append(
                f"- {keep_together(escape_markdown(r.condition.label))}: its cell types differ from "
                f"{escape_markdown(available[0].condition.label)}'s; its rows are matched by type name."
            )
    types = reference.types if reference else []
    header: list[Row] = [
        ["Type", "Neurons", "τ (s)", "V~rest~"]
        + [Cell(keep_together(escape_markdown(r.condition.label)), span=3) for r in results],
        ["", "", "true", "true"] + ["τ̂", "V̂~rest~", "W R²"] * len(results),
    ]
    by_type = [{str(row["type"]): row for row in (r.rows or [])} for r in results]
    body: list[Row] = []
    undefined: dict[str, list[str]] = {}
    for name in types:
        truth = by_type[results.index(reference)][name]
        cells = [
            escape_markdown(name),
            str(int(truth["neurons"])),
            _fixed(truth["tau_true"], 4),
            _fixed(truth["V_rest_true"], 2),
        ]
        for rows in by_type:
            row = rows.get(name)
            if row is None:
                cells += [NOT_AVAILABLE] * 3
                continue
            r2 = row["W_incoming_R2"]
            if not math.isfinite(r2):
                why = (
                    "fewer than two scored incoming edges"
                    if row["W_incoming_edges_scored"] < 2
                    else "the true weights of all its incoming edges are equal, so R² is undefined"
                )
                undefined.setdefault(why, [])
                if escape_markdown(name) not in undefined[why]:
                    undefined[why].append(escape_markdown(name))
            cells += [_fixed(row["tau_recovered"], 4), _fixed(row["V_rest_recovered"], 2), _fixed(r2, 2)]
        body.append(cells)
    if not body:
        body = [[Cell("per-type results not available (reasons below)", span=4 + 3 * len(results))]]
    reasons += [f"- W R² n/a for {', '.join(names)}: {why}." for why, names in undefined.items()]
    widths = [9, 5, 6, 5] + [6, 6, 5] * len(results)
    grid = GridTable(header, body, ["left", "right", "right", "right"] + ["right"] * (3 * len(results)), widths)
    caption = (
        "Recovery per cell type and noise level. τ and V~rest~: the truth (one value per type); τ̂ and "
        "V̂~rest~: medians over the type's neurons of the upstream-rule estimates behind τ R² and V~rest~ R² "
        "(τ̂ clipped to \\[0, 1\\] s; τ̂ = V̂~rest~ = 1 for a neuron whose voltage never varied); W R²: "
        "upstream's R² of W\\* (upstream's rules) against W over the edges into the type's neurons with "
        "\\|W\\* − W\\| ≤ 5. V~rest~ in flyvis' arbitrary units. From results/\\<condition\\>/per-type.csv."
    )
    # .sigma-grid: as wide as the page in HTML (chapters/sigma-grid.lua); smaller type in the PDF
    text = (
        "::: {.per-type-table .sigma-grid}\n\n```{=typst}\n#set text(size: 0.8em)\n```\n\n"
        + table(grid, caption, TABLE_ID)
        + "\n"
        + interactive_table(TABLE_ID)
        + "\n:::\n"
    )
    if reasons:
        text += "\n" + "\n".join(reasons) + "\n"
    return text


# DataTables, as the itables package ships it for offline use (dt_bundle.js/.css: the
# DataTables library and its plugins in one ES module). Copied under results/ and into
# the site by the book's `resources:`, so the HTML needs no network.
ASSETS = "book-assets"  # under results/
DATATABLES_FILES = ("dt_bundle.js", "dt_bundle.css")


def copy_datatables(layout: ProjectLayout) -> list[str]:
    """Copy itables' offline DataTables bundle to ``results/book-assets/`` (only when it
    changed); returns the names copied. Without itables the table stays a plain table."""
    import shutil

    try:
        import itables
    except ImportError:
        return []
    source = Path(itables.__file__).parent / "html"
    target = layout.results / ASSETS
    target.mkdir(parents=True, exist_ok=True)
    copied: list[str] = []
    for name in DATATABLES_FILES:
        if not (source / name).is_file():
            return copied
        if not (target / name).is_file() or (target / name).read_bytes() != (source / name).read_bytes():
            shutil.copyfile(source / name, target / name)
            copied.append(name)
    return copied


def interactive_table(table_id: str) -> str:
    """HTML only: the rendered table made searchable and sortable in place by DataTables
    (itables' ``ITable``). If the bundle cannot load (a page opened from disk, which
    browsers refuse modules to) the plain table stays as it is. Numbers sort as numbers
    ("−" is a minus sign; "n/a" sorts first)."""
    return (
        "```{=html}\n"
        f'<link rel="stylesheet" href="../results/{ASSETS}/dt_bundle.css">\n'
        '<script type="module">\n'
        f'import {{ ITable }} from "../results/{ASSETS}/dt_bundle.js";\n'
        f'const table = document.querySelector("#{table_id} table");\n'
        "const number = (data, type) => {\n"
        '  if (type === "display" || type === "filter") return data;\n'
        '  const text = String(data).replace("\\u2212", "-").trim();\n'
        '  if (text === "n/a") return -Infinity;\n'
        "  const value = Number(text);\n"
        '  return text === "" || Number.isNaN(value) ? data : value;\n'
        "};\n"
        "if (table) new ITable(table, {paging: false, order: [], scrollX: true, "
        'columnDefs: [{targets: "_all", render: number}]});\n'
        "</script>\n"
        "```\n"
    )


def tau_r2_ceiling(result: PerTypeResults) -> float | None:
    """The highest τ R² upstream's rule allows for this condition: every neuron's τ̂ exact
    except the neurons whose voltage never varied, which upstream scores τ̂ = 1 s.
    None when no neuron is scored that way (the ceiling is then 1)."""
    from flygnn.analysis.metrics import upstream_fit

    if not result.rows:
        return None
    neurons = result.column("neurons").astype(int)
    zero = result.column("zero_range_neurons").astype(int)
    if zero.sum() == 0:
        return None
    tau = result.column("tau_true")
    estimate = np.concatenate(
        [np.r_[np.full(z, 1.0), np.full(n - z, t)] for t, n, z in zip(tau, neurons, zero, strict=False)]
    )
    true = np.concatenate([np.full(n, t) for t, n in zip(tau, neurons, strict=False)])
    return upstream_fit(true, estimate)[0]


def _neurons(count: int) -> str:
    return f"{count:,} neuron" + ("" if count == 1 else "s")


def ceiling_sentence(results: Sequence[PerTypeResults], tau_r2: dict[str, str]) -> str:
    """Beside the per-type table: for each condition with neurons scored τ̂ = 1, the τ R² ceiling."""
    sentences = []
    for r in results:
        ceiling = tau_r2_ceiling(r)
        if ceiling is None:
            continue
        zero = int(r.column("zero_range_neurons").sum())
        slowest = float(np.nanmax(r.column("tau_true")))
        sentences.append(
            f"At {keep_together(escape_markdown(r.condition.label))}, upstream's rule scores the {zero:,} neurons "
            f"whose voltage never varied as τ̂ = 1 s, far above every true τ (at most {slowest:.3f} s): even "
            f"with every other neuron's τ̂ exact, τ R² could not exceed **{ceiling:.2f}** (measured: "
            f"{tau_r2.get(r.condition.name, NOT_AVAILABLE)})."
        )
    return " ".join(sentences)


RESIDUALS_TABLE_ID = "tbl-residual-shares"
# (column of per-type.csv, metric, what a type's share is over)
RESIDUAL_SHARES = (
    ("W_residual_share", W_CORRECTED_R2, "W R² (edges into the type)"),
    ("tau_residual_share", TAU_R2, "τ R²"),
    ("V_rest_residual_share", V_REST_R2, "V~rest~ R²"),
)
SHARE_SHOWN = 0.10  # a type is named when it carries at least this share
SHARE_TYPES = 3  # and at most this many types per score


def _holding_down(names: Sequence[str], shares: np.ndarray) -> str:
    if not np.isfinite(shares).any():
        return "no residual"
    order = [i for i in np.argsort(-np.nan_to_num(shares, nan=-1.0)) if np.isfinite(shares[i])]
    named = [i for i in order if shares[i] >= SHARE_SHOWN][:SHARE_TYPES]
    if not named:
        top = order[0]
        return f"spread over many types (largest: {escape_markdown(names[top])}, {100 * shares[top]:.0f} %)"
    return ", ".join(f"{escape_markdown(names[i])} {100 * shares[i]:.0f} %" for i in named)


def residual_shares(results: Sequence[PerTypeResults], scores: dict[str, dict[str, str]]) -> str:
    """Which cell types hold each upstream score down: per condition and score, the types that
    carry at least :data:`SHARE_SHOWN` of the squared residuals behind it (largest first).

    ``scores``: condition name -> metric name -> the score as the summary table prints it.
    """
    header = ["Condition"] + [label for _, _, label in RESIDUAL_SHARES]
    rows = []
    for r in results:
        label = keep_together(escape_markdown(r.condition.label))
        if not r.rows:
            rows.append([label] + [NOT_AVAILABLE] * len(RESIDUAL_SHARES))
            continue
        cells = [label]
        for column, metric, _ in RESIDUAL_SHARES:
            score = scores.get(r.condition.name, {}).get(metric, NOT_AVAILABLE)
            cells.append(f"{score}: {_holding_down(r.types, r.column(column))}")
        rows.append(cells)
    caption = (
        "Which cell types hold each score down: a type's share of the squared residuals from the "
        "least-squares line behind the score by upstream's rules (for W R² the scored edges into the "
        f"type's neurons, for τ R² and V~rest~ R² its neurons), for the types with at least "
        f"{100 * SHARE_SHOWN:.0f} % (at most {SHARE_TYPES}). A score held down by one or two types says "
        "where the fit fails, not that it fails everywhere. "
        "From results/\\<condition\\>/per-type.csv."
    )
    text = pipe_table(header, rows, ["left"] + ["left"] * len(RESIDUAL_SHARES), [1.2, 3, 3, 3])
    text += f"\n: {caption} {{#{RESIDUALS_TABLE_ID}}}\n"
    reasons = _unavailable(results)
    return text + ("\n" + "\n".join(reasons) + "\n" if reasons else "")


def sigma_zero(results: Sequence[PerTypeResults], published_tau: dict[str, str], tau_r2: dict[str, str]) -> str:
    """Why σ = 0 is hard, with the counts measured on the σ = 0 condition (nothing when there is none)."""
    zero_sigma = [r for r in results if same_sigma(r.condition.sigma, 0.0)]
    if not zero_sigma:
        return "This report has no σ = 0 condition.\n"
    r = zero_sigma[0]
    label = keep_together(escape_markdown(r.condition.label))
    if not r.rows:
        return f"The per-type counts of {label} are not available: {escape_message(r.unavailable_reason)}.\n"
    names = r.types
    neurons = r.column("neurons").astype(int)
    parts = []
    zero = r.column("zero_range_neurons").astype(int)
    zero_no_input = r.column("zero_range_no_input_neurons").astype(int)
    if zero.sum():
        never_move = listed([f"{escape_markdown(n)} ({z})" for n, z in zip(names, zero, strict=False) if z])
        parts.append(
            f"- **Neurons that never move.** {_neurons(int(zero.sum()))} — {never_move} — never change voltage at {label}; "
            f"{zero_no_input.sum():,} of them have no incoming edge at this lattice size (they sit at its "
            "border), so without noise nothing drives them. With an empty voltage range the learned slope is "
            "0, and upstream's rules then give them τ̂ = V̂~rest~ = 1."
        )
    unidentifiable = r.column("unidentifiable_neurons").astype(int)
    if unidentifiable.sum():
        groups: dict[str, list[str]] = {"all of": [], "most of": [], "some of": []}
        for name, u, n in zip(names, unidentifiable, neurons, strict=False):
            if u == 0:
                continue
            key = "all of" if u == n else "most of" if u > n / 2 else "some of"
            groups[key].append(f"{escape_markdown(name)} ({u} of {n})" if key != "all of" else escape_markdown(name))
        described = "; ".join(f"{key} {listed(members)}" for key, members in groups.items() if members)
        parts.append(
            f"- **Neurons that never pass a signal.** {_neurons(int(unidentifiable.sum()))} stay mostly below 0 "
            f"(μ + s ≤ 0) — {described}. ReLU(v) is then 0 almost always, so the gain of their message "
            "function, and with it their outgoing weights, cannot be read from the traces; upstream scores "
            "them with s~g~ = 1 (`W_corrected_R2_identifiable` leaves them out)."
        )
    tau = r.column("tau_true")
    fastest = float(np.nanmin(tau))
    fast = tau <= FAST_FACTOR * fastest
    parts.append(
        f"- **Most types share one time constant.** {int(fast.sum())} of {len(tau)} types have τ within "
        f"{round(100 * (FAST_FACTOR - 1))} % of the fastest ({fastest:.4f}–{float(tau[fast].max()):.4f} s, about "
        f"the Euler step Δt), so the spread that τ R² measures comes from the other {int((~fast).sum())} types "
        f"(τ up to {float(np.nanmax(tau)):.3f} s): τ R² is decided by about {int((~fast).sum())} types."
    )
    ceiling = tau_r2_ceiling(r)
    if ceiling is not None:
        parts.append(
            f"- **A ceiling on τ R².** With the {zero.sum():,} never-moving neurons at τ̂ = 1 s and every other "
            f"neuron exact, upstream's τ R² at {label} would be {ceiling:.2f}: no model can score higher by "
            f"this rule (ours: {tau_r2.get(r.condition.name, NOT_AVAILABLE)}; published: "
            f"{published_tau.get(r.condition.name, '—')})."
        )
    return "\n".join(parts) + "\n"
