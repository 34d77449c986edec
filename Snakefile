# The flygnn pipeline, one condition (noise level σ) per wildcard value:
#
#   simulate → train → analyze → chapters → book
#   data/datasets/{preset}/{condition}.zarr → data/bundles/{condition}/ → results/{condition}/
#   (results/{condition}/.analyzed) → chapters/_generated/ (results/book.json)
#   → _book/ (results/book-render.json)
#
# Every rule calls the `flygnn` command, so each step can also be run by hand.
#   snakemake --cores 4                     everything, conditions in parallel
#   snakemake --cores 4 report              up to the chapters (what `flygnn report --no-render` does)
#   snakemake --profile profiles/slurm      the same on a SLURM cluster (training on GPUs)
#   snakemake --profile profiles/lsf        the same on an LSF cluster
# A user with their own checkpoints enters at the bundle: put it in
# data/bundles/<condition>/ (or `flygnn import-upstream`) and nothing upstream runs,
# because Snakemake does not re-create a missing dataset for an existing bundle.
#
# Settings, overridable with --config KEY=VALUE (flygnn report passes the paths; the
# defaults are flygnn.project's, for the project this Snakefile runs in):
#   conditions=data/conditions.yaml  bundles=data/bundles  datasets=data/datasets
#   results=results  notebooks=analysis  preset=cpu (simulation and training preset)
#   device=cpu (training device; the cluster profiles set cuda)  flyvis_model= (ground truth)
#   flygnn="<this python> -m flygnn"

import re
import shlex
import sys

from flygnn.bundle import BUNDLE_FILES
from flygnn.conditions import load_conditions
from flygnn.project import ProjectLayout
from flygnn.sections import SECTIONS

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

CONDITIONS = [c.name for c in load_conditions(CONDITIONS_FILE)]
DATASET = LAYOUT.relative(LAYOUT.dataset_path(PRESET, "{condition}"))
BUNDLE = LAYOUT.relative(LAYOUT.bundle_dir("{condition}"))
# results/<condition>/.analyzed: written by `flygnn analyze` with the results (and refreshed
# when it finds them current), so a standalone `flygnn analyze` counts here too
STAMP = LAYOUT.relative(LAYOUT.analysis_stamp("{condition}"))
BOOK_RECORD = LAYOUT.relative(LAYOUT.book_record)
RENDER_RECORD = LAYOUT.relative(LAYOUT.render_record)
PATHS = (
    f"--conditions-file {shlex.quote(CONDITIONS_FILE)} --bundles {shlex.quote(BUNDLES)} "
    f"--results {shlex.quote(RESULTS)} --notebooks {shlex.quote(NOTEBOOKS)}"
)
GROUND_TRUTH = f"--flyvis-model {shlex.quote(FLYVIS_MODEL)}" if FLYVIS_MODEL else ""


wildcard_constraints:
    condition="|".join(re.escape(name) for name in CONDITIONS),


# cheap steps that must see the whole project stay on the submitting machine
localrules:
    all,
    report,
    chapters,
    book,


rule all:
    input:
        RENDER_RECORD,


rule report:
    input:
        BOOK_RECORD,


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
        DATASET,
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
        bundle=[f"{BUNDLE}/{name}" for name in BUNDLE_FILES],
        notebooks=[f"{NOTEBOOKS}/{section.name}.ipynb" for section in SECTIONS],
    output:
        # a stamp, not metrics.json or manifest.json: Snakemake deletes a job's outputs
        # before it runs and after it fails, and the previous good results (which the
        # runner replaces only on success) must survive a failure untouched. The runner
        # writes it; `flygnn report` sets it from the runner's fingerprints beforehand.
        STAMP,
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    shell:
        "{FLYGNN} analyze --conditions {wildcards.condition} {PATHS} {GROUND_TRUTH} --force"


rule chapters:
    input:
        analyses=expand(STAMP, condition=CONDITIONS),
        conditions=CONDITIONS_FILE,
        published=LAYOUT.relative(LAYOUT.published),
        quarto=LAYOUT.relative(LAYOUT.quarto_config),
    output:
        BOOK_RECORD,
    shell:
        "{FLYGNN} report --chapters-only {PATHS}"


rule book:
    input:
        BOOK_RECORD,
    output:
        RENDER_RECORD,
    shell:
        "{FLYGNN} report --render-only {PATHS}"
