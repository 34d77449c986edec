"""Every way a bundle's training deviates from the study's, read from the bundle's own record.

The study's training at a σ is the ``paper`` preset's configuration (the published one).
A bundle's ``bundle.json`` records its configuration and every training leg (iterations,
batch, learning-rate factor, how it started: fresh, resumed with Adam's moments, or
restarted from the weights with fresh moments). :func:`training_deviations` compares the
two and lists each difference as a phrase; the template words them for the book.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# the study's training is this preset's configuration (the published one)
STUDY_PRESET = "paper"
# the settings that define the model and the loss, with how the book names them
CONFIGURATION_NAMES = {
    "embedding_dim": "embedding dimension d",
    "hidden": "hidden units per MLP layer",
    "layers": "MLP layers",
    "W_init_scale": "initial Ŵ scale",
    "monotonicity": "monotonicity weight μ₀",
    "anchor": "anchor weight μ₁",
    "g_phi_L1": r"L1 on $g_\phi$'s weights",
    "f_theta_L1": r"L1 on $f_\theta$'s weights",
    "f_theta_L2": r"L2 on $f_\theta$'s weights",
    "W_L1": "L1 on Ŵ",
    "monotonicity_step": "monotonicity step",
}
RATE_NAMES = {"lr_W": "Ŵ", "lr_mlp": "the MLPs", "lr_embedding": "the embedding a"}
# what a leg's note says when it did not continue Adam's state
FRESH_MOMENTS = ("fresh Adam moments", "Adam's moments and the sampler were not saved")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-15)
    return a == b


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def rate_schedule(legs: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, float]]:
    """(first iteration, last iteration, factor) of each stretch at one learning-rate factor,
    merged across legs (legs recorded before factors were kept count as factor 1)."""
    stretches: list[tuple[int, int, float]] = []
    for leg in legs:
        start, end = int(leg["started_iteration"]), int(leg["ended_iteration"])
        factor = float(leg.get("lr_factor", 1.0))
        if stretches and math.isclose(stretches[-1][2], factor) and stretches[-1][1] == start:
            stretches[-1] = (stretches[-1][0], end, factor)
        else:
            stretches.append((start, end, factor))
    return stretches


def training_deviations(training: Mapping[str, Any], study: Mapping[str, Any], study_frames: int) -> list[str]:
    """Every difference of a bundle's training (``bundle.json`` "training") from the study's
    (``study``: the paper preset's resolved configuration as a dict; ``study_frames``: its
    training frames), as phrases; [] when it trained exactly as the study did."""
    config = training.get("config", {})
    legs = training.get("legs", [])
    found: list[str] = []
    frames = training.get("training_frames")
    if frames is not None and frames != study_frames:
        found.append(f"{frames:,} training frames (study: {study_frames:,})")
    if not _same(config.get("batch_size"), study["batch_size"]):
        found.append(f"batch B = {config.get('batch_size')} (study: {study['batch_size']})")
    iterations = int(training.get("iterations", 0))
    if iterations != int(study["iterations"]):
        found.append(f"{iterations:,} iterations (study: {int(study['iterations']):,})")
    scale = float(config.get("learning_rate_scale", 1.0))
    if not _same(scale, study.get("learning_rate_scale", 1.0)):
        found.append(f"learning rates × {scale:g} of the study's (the {config.get('preset')} preset)")
    for key, name in RATE_NAMES.items():
        mine, theirs = config.get(key), study.get(key)
        if mine is not None and theirs is not None and not _same(float(mine) / scale, theirs):
            found.append(f"base learning rate of {name} {float(mine) / scale:g} (study: {theirs:g})")
    for key, name in CONFIGURATION_NAMES.items():
        mine, theirs = config.get(key), study.get(key)
        if mine is not None and theirs is not None and not _same(mine, theirs):
            found.append(f"{name} {_number(mine)} (study: {_number(theirs)})")
    stretches = rate_schedule(legs)
    if any(not math.isclose(factor, 1.0) for _, _, factor in stretches):
        found.append(
            "learning-rate factor by iteration: "
            + ", ".join(f"×{factor:g} over {start:,}–{end:,}" for start, end, factor in stretches)
            + " (study: ×1 throughout)"
        )
    restarts = [
        int(leg["started_iteration"]) for leg in legs if any(m in str(leg.get("note", "")) for m in FRESH_MOMENTS)
    ]
    restarts = [at for at in restarts if at > 0]
    if restarts:
        found.append(
            "training restarted from the weights with fresh Adam moments and a new frame sampler at iteration"
            + ("s " if len(restarts) > 1 else " ")
            + ", ".join(f"{at:,}" for at in restarts)
            + " (study: one uninterrupted run)"
        )
    seeds = sorted({leg["frame_seed"] for leg in legs if leg.get("frame_seed") is not None})
    if seeds:
        found.append(f"training frames drawn from new streams (frame seeds {', '.join(map(str, seeds))}) in some legs")
    return found


def configuration_summary(config: Mapping[str, Any]) -> str:
    r"""The per-σ configuration in a phrase: ``d = 2, anchor μ₁ = 0.9, L1 on $g_\phi$ 0.28, ...``."""
    parts = [f"d = {config['embedding_dim']}", f"μ₀ = {config['monotonicity']:g}"]
    parts.append(f"anchor μ₁ = {config['anchor']:g}" if config["anchor"] else "no anchor")
    l1 = [
        f"{name} {config[key]:g}"
        for key, name in (("g_phi_L1", r"$g_\phi$"), ("f_theta_L1", r"$f_\theta$"), ("W_L1", "Ŵ"))
        if config[key]
    ]
    parts.append("L1 on " + ", ".join(l1) if l1 else "no L1")
    if config["f_theta_L2"]:
        parts.append(rf"L2 on $f_\theta$ {config['f_theta_L2']:g}")
    parts.append(f"initial Ŵ scale {config['W_init_scale']:g}")
    return ", ".join(parts)


def _recorded_configuration(config: Mapping[str, Any]) -> str:
    try:
        return configuration_summary(config)
    except (KeyError, TypeError, ValueError):
        return "not recorded in bundle.json"


def deviations_part(records: Sequence[Any]) -> str:
    """The deviations items of the differences box for these training records
    (:class:`flygnn.report.training.TrainingRecord`)."""
    from flygnn.report.template import render
    from flygnn.simulate import preset
    from flygnn.train.config import load_training_config
    from flygnn.train.loss import LOSS_DIFFERENCES

    frames = preset(STUDY_PRESET)["train_frames"]
    entries = []
    for record in records:
        study = load_training_config(STUDY_PRESET, record.condition.sigma)
        known = study.derived_from is None
        entries.append(
            {
                "label": record.condition.label,
                "configuration": _recorded_configuration(record.training.get("config") or {}),
                "deviations": training_deviations(record.training, study.to_dict(), frames)
                if known and record.training
                else ["the study has no configuration at this σ" if not known else "bundle.json unreadable"],
            }
        )
    return render("deviations.qmd.j2", conditions=entries, loss=list(LOSS_DIFFERENCES))
