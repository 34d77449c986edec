"""Where the book's results come from: which conditions have current results
(:func:`check_results`), the ground-truth notice on the first page, the provenance table
``#tbl-provenance`` (bundles, training, datasets, ground truth; code and library versions
below it) and the index of the executed notebooks. :mod:`flygnn.report.chapters` writes
them into ``chapters/_generated/``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flygnn.bundle import BUNDLE_FILES, bundle_fingerprint, file_sha256
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout, read_manifest
from flygnn.report.markdown import GENERATED_NOTE, escape_markdown, pipe_table, posix_relpath
from flygnn.report.notebook_pages import page_href
from flygnn.sections import SECTIONS

Log = Callable[[str], None]


@dataclass(frozen=True)
class ConditionResults:
    """What the book needs to know about one analysed condition."""

    condition: Condition
    manifest: dict[str, Any]

    @property
    def synthetic_groundtruth(self) -> bool:
        groundtruth = (self.manifest.get("bundle") or {}).get("groundtruth") or {}
        return bool(self.manifest.get("parameters", {}).get("synthetic_groundtruth") or groundtruth.get("synthetic"))

    @property
    def groundtruth_source(self) -> str:
        if not self.manifest:
            return "not analysed yet"
        groundtruth = (self.manifest.get("bundle") or {}).get("groundtruth") or {}
        source = groundtruth.get("source")
        if source:
            return str(source)
        return "synthetic" if self.synthetic_groundtruth else "pretrained flyvis network (default lookup)"


def check_results(layout: ProjectLayout, conditions: Sequence[Condition], log: Log = print) -> list[ConditionResults]:
    """Every condition must have current, successful results; errors name the conditions.

    "Current" means made from the bundle and the notebook templates that are in the
    project now, so a book can never mix a new bundle with old figures.
    """
    results, problems = [], []
    for condition in conditions:
        name = condition.name
        result_dir = layout.result_dir(name)
        bundle_dir = layout.bundle_dir(name)
        manifest = read_manifest(result_dir)
        failed = read_manifest(layout.result(name).failed)
        if not all((bundle_dir / f).is_file() for f in BUNDLE_FILES):
            problems.append(f"{name}: no complete bundle at {layout.relative(bundle_dir)}/")
            continue
        last_failure = ((failed or {}).get("error") or {}).get("message")
        because = f"; its last analysis failed: {last_failure}" if last_failure else ""
        if manifest is None or manifest.get("status") != "ok":
            problems.append(f"{name}: not analysed (no {layout.relative(result_dir)}/manifest.json){because}")
            continue
        if manifest.get("inputs", {}).get("bundle", {}).get("sha256") != bundle_fingerprint(bundle_dir):
            problems.append(
                f"{name}: the results were made from another bundle than {layout.relative(bundle_dir)}/ holds{because}"
            )
            continue
        templates = {s.name: layout.notebooks / f"{s.name}.ipynb" for s in SECTIONS}
        recorded = manifest.get("inputs", {}).get("notebooks", {})
        changed = [s for s, p in templates.items() if not p.is_file() or recorded.get(s) != file_sha256(p)]
        if changed:
            problems.append(f"{name}: the analysis notebooks {changed} changed since the results were made{because}")
            continue
        if failed is not None:
            log(
                f"note: a later analysis of {name} failed (see {layout.relative(result_dir)}/failed/); the book "
                "uses the earlier results, which match the current bundle and notebooks"
            )
        results.append(ConditionResults(condition, manifest))
    if problems:
        raise FlygnnError(
            "the book cannot be built, these conditions have no current results:\n"
            + "\n".join(f"- {p}" for p in problems)
            + "\nRun `flygnn report` (it analyses what changed) and fix the failures it reports; "
            "the published book was left as it was."
        )
    return results


def ground_truth_notice(results: Sequence[ConditionResults], layout: ProjectLayout) -> str:
    if not any(r.manifest for r in results):
        return GENERATED_NOTE + "<!-- not analysed yet: `flygnn report` writes the ground-truth notice -->\n"
    synthetic = [r for r in results if r.synthetic_groundtruth]
    if not synthetic:
        return GENERATED_NOTE + "<!-- every condition was compared with the pretrained flyvis network -->\n"
    labels = ", ".join(escape_markdown(r.condition.label) for r in synthetic)
    sources = "; ".join(sorted({escape_markdown(shown_path(r.groundtruth_source, layout)) for r in synthetic}))
    scope = "every condition" if len(synthetic) == len(results) else labels
    return (
        GENERATED_NOTE + "::: {.callout-warning}\n## Synthetic ground truth\n\n"
        f"The ground truth of {scope} is **synthetic** (source: {sources}), not the pretrained flyvis "
        "network: every recovery number for these conditions compares the GNN with a made-up network on "
        "the same connectome (per-type heterogeneous τ and V\\_rest), not with the fly.\n:::\n"
    )


def _short(digest: Any, length: int = 12) -> str:
    return str(digest)[:length] if digest else "—"


def shown_path(value: Any, layout: ProjectLayout) -> str:
    """A recorded path as the book prints it: relative to the project when inside it,
    otherwise only its last three parts ("…/flow/0000/000"), never an absolute path
    of the machine it was recorded on."""
    text = str(value)
    if not text.startswith(("/", "~")) and not re.match(r"^[A-Za-z]:[\\/]", text):
        return text
    path = Path(text)
    try:
        return path.relative_to(layout.project_root).as_posix()
    except ValueError:
        parts = [p for p in re.split(r"[\\/]+", text) if p and not re.fullmatch(r"[A-Za-z]:|~", p)]
        return "…/" + "/".join(parts[-3:])


def _wall_time(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds):
        return "—"
    minutes = round(seconds / 60)
    return f"{seconds:.0f} s ({minutes // 60} h {minutes % 60:02d} min)" if minutes >= 60 else f"{seconds:.0f} s"


def _shown(value: Any) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _software_notes(label: str, per_condition: list[tuple[str, str]]) -> str:
    """One bullet: the value once when every condition has it, else one sub-bullet per condition."""
    values = {v for _, v in per_condition}
    if len(values) == 1:
        return f"- {label} (every noise level): {escape_markdown(values.pop() or '—')}.\n"
    lines = [f"- {label}:"] + [f"    - {escape_markdown(c)}: {escape_markdown(v or '—')}." for c, v in per_condition]
    return "\n".join(lines) + "\n"


def provenance(results: Sequence[ConditionResults], layout: ProjectLayout) -> str:
    """Which bundle, training, dataset and ground truth made each column (``#tbl-provenance``),
    then the code and library versions, printed once when every column shares them."""
    bundles = [r.manifest.get("bundle") or {} for r in results]
    inputs = [r.manifest.get("inputs") or {} for r in results]
    trainings = [b.get("training") or {} for b in bundles]
    datasets = [b.get("dataset") or {} for b in bundles]
    truths = [b.get("groundtruth") or {} for b in bundles]

    def ground_truth(result: ConditionResults) -> str:
        source = shown_path(result.groundtruth_source, layout)
        if result.synthetic_groundtruth:
            return source if "synthetic" in source else f"{source} (synthetic)"
        return source if "flyvis" in source else f"flyvis {source}"

    # one ground truth, one name: the same network loaded from two places (the copy shipped with
    # flygnn, flyvis' own folder) has one fingerprint, and the book names it as the first column does
    names: dict[Any, str] = {}
    for result, truth in zip(results, truths, strict=True):
        names.setdefault(truth.get("fingerprint") or id(result), ground_truth(result))

    rows = [
        ("Bundle", [shown_path((i.get("bundle") or {}).get("path") or "—", layout) for i in inputs]),
        ("Bundle sha256", [_short((i.get("bundle") or {}).get("sha256")) for i in inputs]),
        ("Training preset", [_shown(t.get("preset")) for t in trainings]),
        ("Training device", [_shown(t.get("device")) for t in trainings]),
        ("Iterations", [_shown(t.get("iterations")) for t in trainings]),
        ("Training frames", [_shown(t.get("training_frames")) for t in trainings]),
        ("Wall time", [_wall_time(t.get("wall_time_s")) for t in trainings]),
        ("Final training loss", [_shown(t.get("final_loss")) for t in trainings]),
        ("Seed", [_shown(t.get("seed")) for t in trainings]),
        ("Training dataset", [shown_path(d.get("path") or "—", layout) for d in datasets]),
        ("Dataset fingerprint", [_short(d.get("fingerprint")) for d in datasets]),
        ("Ground truth", [names[t.get("fingerprint") or id(r)] for r, t in zip(results, truths, strict=True)]),
        ("Ground-truth fingerprint", [_short(t.get("fingerprint")) for t in truths]),
    ]
    header = [""] + [escape_markdown(r.condition.label) for r in results]
    body = [[label] + [escape_markdown(v) for v in values] for label, values in rows]
    width = 1.0 if len(results) <= 3 else 3.0 / len(results)
    grid = pipe_table(header, body, ["left"] * len(header), [1.3] + [width] * len(results))
    labels = [r.condition.label for r in results]
    software = "".join(
        [
            _software_notes(
                "Trained with",
                [
                    (c, ", ".join(f"{k} {v}" for k, v in sorted((b.get("versions") or {}).items())))
                    for c, b in zip(labels, bundles, strict=False)
                ],
            ),
            _software_notes(
                "Analysed with",
                [
                    (c, ", ".join(f"{k} {v}" for k, v in (r.manifest.get("versions") or {}).items() if v))
                    for c, r in zip(labels, results, strict=False)
                ],
            ),
            _software_notes(
                "Analysis notebooks, sha256",
                [
                    (c, ", ".join(f"{s} {_short(h, 8)}" for s, h in (i.get("notebooks") or {}).items()))
                    for c, i in zip(labels, inputs, strict=False)
                ],
            ),
        ]
    )
    links = " · ".join(
        f"{escape_markdown(r.condition.label)}: "
        f"[manifest.json]({posix_relpath(layout.result(r.condition.name).manifest, layout.chapters)}), "
        f"[metrics.json]({posix_relpath(layout.result(r.condition.name).metrics, layout.chapters)})"
        for r in results
    )
    return (
        GENERATED_NOTE + grid + "\n: Provenance of each noise level: bundle, training, dataset and ground truth. "
        "{#tbl-provenance}\n\n" + software + '\n::: {.content-visible when-format="html"}\n'
        f"Machine-readable records: {links}\n:::\n"
    )


def notebook_index(conditions: Sequence[Condition], layout: ProjectLayout) -> str:
    """Every executed notebook: a table of links to its page and file (HTML), where the files are (PDF)."""
    header = ["Section"] + [escape_markdown(c.label) for c in conditions]
    rows = []
    for section in SECTIONS:
        cells = [f"{escape_markdown(section.title)} (@sec-{section.name})"]
        for condition in conditions:
            notebook = layout.result(condition.name).notebook(section.name)
            cells.append(
                f"[page]({page_href(condition.name, section.name, 'chapters')}) · "
                f"[.ipynb]({posix_relpath(notebook, layout.chapters)})"
            )
        rows.append(cells)
    table = pipe_table(header, rows, ["left"] * len(header), [1.6] + [1.0] * len(conditions))
    folder = escape_markdown(layout.relative(layout.results))
    return (
        GENERATED_NOTE + '::: {.content-visible when-format="html"}\n'
        "Each page shows a notebook as papermill left it (never re-executed): the parameters it injected, "
        "every cell and its stored output; the .ipynb is the file itself.\n\n" + table + "\n:::\n\n"
        '::: {.content-visible unless-format="html"}\n'
        "The executed notebooks (one per section and noise level, with the parameters papermill injected "
        "and their stored outputs) are pages of the HTML version; in the project they are "
        f"{folder}/\\<condition\\>/notebooks/\\<section\\>.ipynb.\n:::\n"
    )
