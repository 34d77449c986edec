"""What the analysis of a condition reads, checked before any kernel starts, and what its
notebooks write, checked after: bundles, the Jupyter kernel, the ground truth, library
versions, the metrics fragments.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from flygnn.bundle import read_meta
from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout
from flygnn.sections import Section

DEFAULT_KERNEL = "python3"
# libraries whose versions shape the analysis; recorded in every manifest
RECORDED_PACKAGES = (
    "flygnn",
    "numpy",
    "scipy",
    "torch",
    "scikit-learn",
    "umap-learn",
    "matplotlib",
    "papermill",
    "ipykernel",
    "flyvis",
)


def read_bundle_meta(condition: Condition, bundle_dir: Path, layout: ProjectLayout | None = None) -> dict[str, Any]:
    """Check that ``bundle_dir`` is a complete bundle of ``condition``; return bundle.json.

    Raises FlygnnError naming the condition, the folder and what to do.
    """
    shown = layout.relative(bundle_dir) if layout else str(bundle_dir)
    if not bundle_dir.is_dir():
        raise FlygnnError(
            f"condition {condition.name}: no checkpoint bundle at {shown}/. Train one "
            f"(`snakemake --cores 2 {shown}/bundle.json`, or `flygnn train`), import upstream "
            f"files (`flygnn import-upstream`), or remove {condition.name} from the conditions file."
        )
    try:
        meta = read_meta(bundle_dir, shown)
    except FlygnnError as exc:
        raise FlygnnError(f"condition {condition.name}: {exc}") from exc
    sigma = meta["sigma"]
    if not isinstance(sigma, (int, float)) or not condition.matches(sigma):
        raise FlygnnError(
            f"condition {condition.name} has σ = {condition.sigma:g} but the bundle at {shown}/ was "
            f"trained at σ = {sigma!r}. Put the right bundle there or fix the conditions file."
        )
    return meta


def check_kernel(kernel_name: str = DEFAULT_KERNEL) -> str:
    """Make sure the Jupyter kernel ``kernel_name`` runs *this* Python interpreter.

    jupyter_client replaces an ``argv[0]`` of ``python``/``python3`` with the
    current interpreter; a kernelspec pointing at another interpreter would run the
    notebooks without flygnn (or with another version of it).
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        if kernel_name != DEFAULT_KERNEL:
            raise FlygnnError(
                f"no Jupyter kernel named {kernel_name!r}; list them with `jupyter kernelspec list` "
                f"or register this environment: `{sys.executable} -m ipykernel install --user --name {kernel_name}`."
            ) from None
        from ipykernel.kernelspec import install

        install(kernel_name=kernel_name, prefix=sys.prefix)
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    executable = spec.argv[0] if spec.argv else ""
    aliases = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    if executable in aliases:
        return kernel_name
    try:
        if os.path.samefile(executable, sys.executable):
            return kernel_name
    except OSError:
        pass
    raise FlygnnError(
        f"the Jupyter kernel {kernel_name!r} runs {executable}, not this interpreter ({sys.executable}) "
        f"where flygnn is installed. Pass --kernel NAME for a kernel of this environment, or register "
        f"one: `{sys.executable} -m ipykernel install --user --name flygnn` and use --kernel flygnn."
    )


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def dataset_fingerprint(path: Path) -> str:
    """The dataset's own fingerprint; FlygnnError when it cannot be read."""
    from flygnn.dataset import open_dataset

    try:
        return open_dataset(path).fingerprint()
    except Exception as exc:  # a dataset problem must not hide behind the analysis
        raise FlygnnError(f"dataset {path} cannot be read: {exc}") from exc


def check_flyvis_model(flyvis_model: str, needed_by: Sequence[str]) -> None:
    """Fail before any notebook starts when the ground-truth network cannot be found.

    flyvis_model: the folder given with --flyvis-model ("" = the usual lookup); always
    checked when given. needed_by: the conditions whose analysis reads it (their bundles
    were trained against the pretrained network and no dataset supplies it). Only looks
    for the files: loading the checkpoint (torch) is left to the notebooks.
    """
    if not flyvis_model and not needed_by:
        return
    from flygnn.groundtruth import CHECKPOINT, find_flyvis_model

    if flyvis_model:
        where = f"--flyvis-model {flyvis_model}"
    elif os.environ.get("FLYGNN_FLYVIS_MODEL"):
        where = f"$FLYGNN_FLYVIS_MODEL ({os.environ['FLYGNN_FLYVIS_MODEL']})"
    else:
        where = "the default lookup"
    try:
        model = find_flyvis_model(flyvis_model or None)
    except FlygnnError as exc:
        # find_flyvis_model names the places it looked at; its advice is for the simulator
        looked = re.search(r"\(looked at: (.*?)\)\. ", str(exc))
        problem = "no pretrained flyvis network was found" + (f" (looked at: {looked[1]})" if looked else "")
    else:
        if not model.is_dir():
            problem = f"{where} does not exist"
        elif not ((model / CHECKPOINT).is_file() or any(model.glob("chkpts/chkpt_*"))):
            problem = f"{where} is not a flyvis network directory (no {CHECKPOINT.as_posix()} in it)"
        else:
            return
    if not needed_by:
        raise FlygnnError(
            f"{problem}. Pass a flyvis network directory (such as .../results/flow/0000/000) or leave "
            "--flyvis-model out."
        )
    raise FlygnnError(
        f"the ground truth is not available: {problem}. The analysis of {', '.join(needed_by)} compares "
        "with the pretrained flyvis network the bundles were trained against (bundle.json: groundtruth). "
        "Point --flyvis-model DIR or $FLYGNN_FLYVIS_MODEL at a flyvis network directory such as "
        ".../results/flow/0000/000 (`flyvis download-pretrained` fetches it)."
    )


def validate_metrics_fragment(path: Path, section: str) -> dict[str, dict[str, Any]]:
    """Read ``metrics/<section>.json``: metric name → {"value": float|null, "definition": str, ...}."""
    try:
        fragment = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path.name} is not valid JSON ({exc})") from exc
    if not isinstance(fragment, dict):
        raise ValueError(f"{path.name} must map metric names to entries")
    for name, entry in fragment.items():
        if not isinstance(entry, dict) or "value" not in entry or "definition" not in entry:
            raise ValueError(f"{path.name}: metric {name!r} needs 'value' and 'definition'")
        value = entry["value"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{path.name}: metric {name!r} value must be a number or null, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{path.name}: metric {name!r} is {value}; write null for undefined values")
        if not isinstance(entry["definition"], str):
            raise ValueError(f"{path.name}: metric {name!r} definition must be a string")
    return fragment


def merge_metrics(metrics_dir: Path, sections: Sequence[Section]) -> dict[str, dict[str, Any]]:
    """All sections' metrics in one mapping; each entry gains ``section``.

    A section without a metrics file contributes nothing; a name defined by two
    sections is an error (the summary table could not tell which one to show).
    """
    merged: dict[str, dict[str, Any]] = {}
    for section in sections:
        path = metrics_dir / f"{section.name}.json"
        if not path.is_file():
            continue
        for name, entry in validate_metrics_fragment(path, section.name).items():
            if name in merged:
                raise ValueError(
                    f"metric {name!r} is written by both the {merged[name]['section']} and the "
                    f"{section.name} notebook; give one of them another name"
                )
            merged[name] = {**entry, "section": section.name}
    return merged
