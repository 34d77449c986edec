# The flygnn pipeline, one condition (noise level σ) per wildcard value:
#
#   simulate → train → analyze → chapters → book
#   data/datasets/{preset}/{condition}.zarr → data/bundles/{condition}/ → results/{condition}/
#   → chapters/_generated/ → _book/
#
# Every rule calls the `flygnn` command, whose subcommands call the stages' entry functions
# (flygnn.stages), so each step can also be run by hand.
#   snakemake --cores 4                     everything, conditions in parallel
#   snakemake --cores 4 report              up to the chapters (what `flygnn report --no-render` does)
#   snakemake --profile profiles/slurm      the same on a SLURM cluster (training on GPUs)
#   snakemake --profile profiles/lsf        the same on an LSF cluster
# A user with their own checkpoints enters at the bundle: put it in
# data/bundles/<condition>/ (or `flygnn import-upstream`) and nothing upstream runs.
#
# What is out of date is decided by content, never by file times (docs/staleness.md): every
# input is `ancient`, so Snakemake only asks whether an output exists. A dataset or bundle
# that exists is kept (retrain deliberately with `flygnn train --overwrite`). The analyze,
# chapters and book rules write stamps under results/.workflow/ named by the fingerprint of
# their inputs, computed here when the workflow is read (flygnn.stages.analyze.analysis_keys):
# changed content means a new name, hence a job, and the job's stage function decides again
# from the same fingerprints, so a job for unchanged results costs seconds and changes nothing.
#
# Settings, overridable with --config KEY=VALUE (the defaults are flygnn.project's, for the
# project this Snakefile runs in):
#   conditions=data/conditions.yaml  bundles=data/bundles  datasets=data/datasets
#   results=results  notebooks=analysis  preset=cpu (simulation and training preset)
#   device=cpu (training device; the cluster profiles set cuda)  flyvis_model= (ground truth)
#   flygnn="<this python> -m flygnn"

import hashlib
import re
import shlex
import sys

from flygnn import __version__
from flygnn.bundle import BUNDLE_FILES
from flygnn.conditions import load_conditions
from flygnn.project import ProjectLayout
from flygnn.sections import SECTIONS
from flygnn.stages.analyze import analysis_keys

# Snakemake runs in the project folder; rules name files relative to it
LAYOUT = ProjectLayout.at(
    ".",
    conditions_file=config.get("conditions"),
    bundles=config.get("bundles"),
    datasets=config.get("datasets"),
    results=config.get("results"),
    notebooks=config.get("notebooks"),
)
CONDITIONS_FILE = LAYOUT.relative(LAYOUT.conditions_file)
BUNDLES = LAYOUT.relative(LAYOUT.bundles)
DATASETS = LAYOUT.relative(LAYOUT.datasets)
RESULTS = LAYOUT.relative(LAYOUT.results)
NOTEBOOKS = LAYOUT.relative(LAYOUT.notebooks)
PRESET = config.get("preset", "cpu")
DEVICE = config.get("device", "cpu")
FLYVIS_MODEL = config.get("flyvis_model", "")
# the interpreter running Snakemake runs flygnn too (its environment has both)
FLYGNN = config.get("flygnn", f"{shlex.quote(sys.executable)} -m flygnn")

LOADED = load_conditions(CONDITIONS_FILE)
CONDITIONS = [c.name for c in LOADED]
DATASET = LAYOUT.relative(LAYOUT.dataset_path(PRESET, "{condition}"))
BUNDLE = LAYOUT.relative(LAYOUT.bundle_dir("{condition}"))
STAMPS = LAYOUT.relative(LAYOUT.workflow_stamps)
# each condition's analysis key ("pending" while its bundle is not there), and the book's:
# the keys of every analysis and the hand-written sources of the book
KEYS = analysis_keys(LAYOUT, LOADED, FLYVIS_MODEL)
SOURCES = [LAYOUT.conditions_file, LAYOUT.published, LAYOUT.quarto_config, LAYOUT.root / "index.qmd"]
SOURCES += sorted(p for p in LAYOUT.chapters.rglob("*") if p.is_file() and LAYOUT.generated not in p.parents)
_book = hashlib.sha256(f"flygnn {__version__}\n{sorted(KEYS.items())}\n".encode())
for _path in SOURCES:
    _book.update(LAYOUT.relative(_path).encode() + (_path.read_bytes() if _path.is_file() else b"absent"))
BOOK_KEY = _book.hexdigest()[:16]
ANALYZED = f"{STAMPS}/analyzed-{{condition}}-{{key}}"
CHAPTERS = f"{STAMPS}/chapters-{BOOK_KEY}"
BOOK = f"{STAMPS}/book-{BOOK_KEY}"
PATHS = (
    f"--conditions-file {shlex.quote(CONDITIONS_FILE)} --bundles {shlex.quote(BUNDLES)} "
    f"--results {shlex.quote(RESULTS)} --notebooks {shlex.quote(NOTEBOOKS)}"
)
GROUND_TRUTH = f"--flyvis-model {shlex.quote(FLYVIS_MODEL)}" if FLYVIS_MODEL else ""


wildcard_constraints:
    condition="|".join(re.escape(name) for name in CONDITIONS),
    key="[0-9a-f]{16}|pending",


# cheap steps that must see the whole project stay on the submitting machine
localrules:
    all,
    report,
    chapters,
    book,


rule all:
    input:
        BOOK,


rule report:
    input:
        CHAPTERS,


rule simulate:
    output:
        directory(DATASET),
    threads: 1
    resources:
        mem_mb=8000,
        runtime=180,
    shell:
        "{FLYGNN} simulate --conditions {wildcards.condition} --conditions-file {CONDITIONS_FILE} "
        "--preset {PRESET} --out {DATASETS} --overwrite {GROUND_TRUTH}"


rule train:
    input:
        ancient(DATASET),
    output:
        [f"{BUNDLE}/{name}" for name in BUNDLE_FILES],
    params:
        bundle=BUNDLE,
    threads: 1
    resources:
        # one GPU per training job on a cluster (SLURM: --gpus=1; LSF: see profiles/lsf)
        gpu=1,
        mem_mb=16000,
        runtime=720,
    shell:
        "{FLYGNN} train --condition {wildcards.condition} --preset {PRESET} --dataset {input:q} "
        "--out {params.bundle:q} --overwrite --device {DEVICE} --no-progress"


rule analyze:
    input:
        # for the order of the jobs only (train before analyze): never compared by time
        bundle=ancient([f"{BUNDLE}/{name}" for name in BUNDLE_FILES]),
        notebooks=ancient([f"{NOTEBOOKS}/{section.name}.ipynb" for section in SECTIONS]),
    output:
        # a stamp named by the inputs' fingerprint, not metrics.json or manifest.json: Snakemake
        # deletes a job's outputs before it runs and after it fails, and the previous good
        # results (which the analysis replaces only on success) must survive a failure untouched
        ANALYZED,
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    shell:
        "{FLYGNN} analyze --conditions {wildcards.condition} {PATHS} {GROUND_TRUTH} "
        "&& rm -f {STAMPS}/analyzed-{wildcards.condition}-* && touch {output:q}"


rule chapters:
    input:
        ancient([ANALYZED.format(condition=name, key=KEYS[name]) for name in CONDITIONS]),
    output:
        CHAPTERS,
    shell:
        "{FLYGNN} report --chapters-only {PATHS} && rm -f {STAMPS}/chapters-* && touch {output:q}"


rule book:
    input:
        ancient(CHAPTERS),
    output:
        BOOK,
    shell:
        "{FLYGNN} report --render-only {PATHS} && rm -f {STAMPS}/book-* && touch {output:q}"
