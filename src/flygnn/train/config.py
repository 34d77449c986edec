"""Training settings: the presets file resolved for one σ (docs/design.md, section 6).

A setting is resolved for one condition as (later wins)

    published[σ]  ->  presets.<name>.all  ->  presets.<name>.sigma[σ]  ->  overrides

``published`` holds flyvis-gnn's configuration for the σ values of the study. A σ
without its own entry takes the entry of the nearest published σ, and
:attr:`TrainingConfig.derived_from` says so (recorded in bundle.json), so a new
condition in ``data/conditions.yaml`` trains without editing the presets file. A
configuration named on purpose (``configuration_sigma``) must be published.

The file is checked against :class:`PresetsFile` before anything is resolved: a key
that is not a setting, or a value out of range, is an error naming the file and the field.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from flygnn.bundle import MAX_EMBEDDING_DIM, MAX_HIDDEN, MAX_LAYERS, EmbeddingDim, Hidden, Layers
from flygnn.conditions import same_sigma
from flygnn.errors import FlygnnError
from flygnn.schema import Integer, Number, Strict, read_yaml, validated

# Settings that may change from one training leg to the next; every other field of
# TrainingConfig defines the optimisation problem, and a state resumes only under it.
LEG_SETTINGS = frozenset(
    {
        "preset",
        "iterations",
        "checkpoint_every_s",
        "log_every",
        "score_every",
        "activity_frames",
        "derived_from",
        "lr_factor",
        "lr_steps",
        "frame_seed",
    }
)


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that determines a training run (recorded in ``bundle.json``).

    Learning rates are the effective ones (published × ``learning_rate_scale``).
    """

    preset: str
    sigma: float
    embedding_dim: int
    hidden: int
    layers: int
    W_init_scale: float
    monotonicity: float
    anchor: float
    g_phi_L1: float
    f_theta_L1: float
    f_theta_L2: float
    W_L1: float
    lr_W: float
    lr_mlp: float
    lr_embedding: float
    learning_rate_scale: float
    batch_size: int
    iterations: int
    seed: int = 0
    monotonicity_step: float = 0.05
    checkpoint_every_s: float = 180.0
    log_every: int = 50
    # iterations between recovery scores in the training history (upstream's rules,
    # 1000-point fits: ~20-60 s at full size on this CPU, so not every log row)
    score_every: int = 1000
    # K sampled training frames in the bundle for ∂f/∂msg: 64 keeps a full-size bundle
    # near 9 MB (256 made it 30 MB) and is still 8x the 8 frames upstream used
    activity_frames: int = 64
    # the published σ whose settings were used when this σ has none of its own
    derived_from: float | None = None
    # multiplies all three learning rates in this leg only: a final phase at a lower rate
    # (the rates above stay the problem's; each leg records its factor)
    lr_factor: float = 1.0
    # learning-rate steps ((iteration, factor), ...): from each iteration on, the factor that
    # multiplies the rates is that step's instead of lr_factor. Iterations are absolute, so a
    # resumed run given the same steps carries on where the schedule stands; each step that
    # is passed starts a new leg in the record
    lr_steps: tuple[tuple[int, float], ...] = ()
    # a leg that sets it draws its training frames from a new stream seeded with it
    # instead of continuing the saved sampler (which the next leg then continues exactly)
    frame_seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-shaped (the steps as lists), as ``bundle.json`` and a state's JSON read back."""
        values = dataclasses.asdict(self)
        values["lr_steps"] = [list(step) for step in self.lr_steps]
        return values

    def lr_factor_at(self, iteration: int) -> float:
        """The learning-rate factor of the iterations that follow the first ``iteration`` ones."""
        factor = self.lr_factor
        for start, step_factor in self.lr_steps:
            if iteration >= start:
                factor = step_factor
        return factor

    def architecture(self) -> dict[str, Any]:
        return {
            "embedding_dim": self.embedding_dim,
            "hidden": self.hidden,
            "layers": self.layers,
            "W_init_scale": self.W_init_scale,
        }

    def differences(self, saved: Mapping[str, Any]) -> list[str]:
        """The problem-defining settings in which ``saved`` (a ``to_dict()``) differs from this one.

        Floats compare to 1e-9 relative: a rate computed as 1.5 × 2.325e-3 in one version
        and written as 3.4875e-3 in another is the same setting.
        """
        changed = []
        for field in dataclasses.fields(self):
            if field.name in LEG_SETTINGS:
                continue
            mine, theirs = getattr(self, field.name), saved.get(field.name)
            if not _same_setting(theirs, mine):
                changed.append(f"{field.name}: {theirs!r} -> {mine!r}")
        return changed


def _same_setting(saved: Any, current: Any) -> bool:
    if isinstance(saved, float) or isinstance(current, float):
        try:
            return math.isclose(float(saved), float(current), rel_tol=1e-9, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    return saved == current


def parse_lr_steps(text: str) -> tuple[tuple[int, float], ...]:
    """``'60000:0.3,80000:0.1'`` -> ``((60000, 0.3), (80000, 0.1))``: iterations increasing and > 0, factors > 0."""
    steps = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            start, factor = item.split(":")
            steps.append((int(start.replace("_", "")), float(factor)))
        except ValueError:
            raise FlygnnError(
                f"learning-rate step {item!r} is not ITERATION:FACTOR (e.g. 60000:0.3,80000:0.1)."
            ) from None
    return _checked_lr_steps(steps)


def _checked_lr_steps(steps: Any) -> tuple[tuple[int, float], ...]:
    try:
        steps = tuple((int(start), float(factor)) for start, factor in steps)
    except (TypeError, ValueError):
        raise FlygnnError(f"learning-rate steps must be (iteration, factor) pairs, got {steps!r}.") from None
    starts = [start for start, _ in steps]
    if starts != sorted(set(starts)) or any(start <= 0 for start in starts):
        raise FlygnnError(
            f"learning-rate step iterations must be > 0 and increasing, got {', '.join(map(str, starts))}."
        )
    bad = [factor for _, factor in steps if not (factor > 0 and math.isfinite(factor))]
    if bad:
        raise FlygnnError(f"learning-rate factors must be > 0, got {bad[0]:g}.")
    return steps


def presets_file() -> Path:
    return Path(str(resources.files("flygnn").joinpath("presets/training.yaml")))


Positive = Annotated[Number, Field(gt=0)]
NonNegative = Annotated[Number, Field(ge=0)]


class ArchitectureSettings(Strict):
    embedding_dim: EmbeddingDim | None = Field(None, description=f"an integer from 1 to {MAX_EMBEDDING_DIM}")
    hidden: Hidden | None = Field(None, description=f"an integer from 1 to {MAX_HIDDEN}")
    layers: Layers | None = Field(None, description=f"an integer from 1 to {MAX_LAYERS}")
    W_init_scale: Positive | None = Field(None, description="a number > 0 (Ŵ ~ N(0,1)·scale/√E)")


class LossSettings(Strict):
    monotonicity: NonNegative | None = Field(None, description="a number >= 0")
    anchor: NonNegative | None = Field(None, description="a number >= 0")
    g_phi_L1: NonNegative | None = Field(None, description="a number >= 0")
    f_theta_L1: NonNegative | None = Field(None, description="a number >= 0")
    f_theta_L2: NonNegative | None = Field(None, description="a number >= 0")
    W_L1: NonNegative | None = Field(None, description="a number >= 0")


class LearningRates(Strict):
    W: Positive | None = Field(None, description="a learning rate > 0 (e.g. 6.0e-4)")
    mlp: Positive | None = Field(None, description="a learning rate > 0 (e.g. 1.8e-3)")
    embedding: Positive | None = Field(None, description="a learning rate > 0 (e.g. 1.55e-3)")


class Schedule(Strict):
    batch_size: Annotated[Integer, Field(ge=1)] | None = Field(None, description="frames per iteration, >= 1")
    iterations: Annotated[Integer, Field(ge=0)] | None = Field(None, description="an integer >= 0")


class Settings(Strict):
    """What a preset may set, for every σ (``all``) or for one (``sigma``)."""

    architecture: ArchitectureSettings | None = None
    loss: LossSettings | None = None
    learning_rates: LearningRates | None = None
    schedule: Schedule | None = None
    learning_rate_scale: Positive | None = Field(None, description="a number > 0 that multiplies the rates")
    checkpoint_every_s: Positive | None = Field(None, description="seconds between saved states, > 0")
    log_every: Annotated[Integer, Field(ge=1)] | None = Field(None, description="iterations per log row, >= 1")
    score_every: Annotated[Integer, Field(ge=0)] | None = Field(None, description="an integer >= 0")
    activity_frames: Annotated[Integer, Field(ge=1)] | None = Field(None, description="an integer >= 1")
    seed: Annotated[Integer, Field(ge=0)] | None = Field(None, description="an integer >= 0")
    monotonicity_step: Positive | None = Field(None, description="a number > 0")


class SigmaSettings(Settings):
    sigma: NonNegative = Field(description="the σ these settings are for, a number >= 0")


class Preset(Strict):
    description: str = ""
    all: Settings | None = None
    sigma: list[SigmaSettings] | None = None


class PublishedConfiguration(Strict):
    """One σ's published configuration: every setting of the four sections given."""

    sigma: NonNegative = Field(description="the σ of this configuration, a number >= 0")
    architecture: ArchitectureSettings
    loss: LossSettings
    learning_rates: LearningRates
    schedule: Schedule

    @model_validator(mode="after")
    def _complete(self) -> PublishedConfiguration:
        missing = [
            f"{section}.{key}"
            for section in ("architecture", "loss", "learning_rates", "schedule")
            for key, value in getattr(self, section)
            if value is None
        ]
        if missing:
            raise ValueError(f"a published configuration gives every setting; add {', '.join(missing)}")
        return self


class PresetsFile(Strict):
    """a mapping with 'published:' (a list of configurations per σ) and 'presets:'"""

    format: Literal[1] = Field(1, description="1")
    published: list[PublishedConfiguration] = Field(min_length=1, description="a non-empty list, one entry per σ")
    presets: dict[str, Preset] = Field(description="a mapping from preset name to its settings")


def _entry_for_sigma(entries: list[dict] | None, sigma: float) -> dict | None:
    for entry in entries or []:
        if same_sigma(float(entry["sigma"]), sigma):
            return entry
    return None


def _merge(base: dict, update: Mapping | None) -> dict:
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in (update or {}).items():
        if key == "sigma":
            continue
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def _round(value: float) -> float:
    """Drop binary noise from scaled rates (1.5 × 2.325e-3 = 0.0034874999999999997)."""
    return float(f"{value:.12g}")


def load_training_config(
    preset: str,
    sigma: float,
    overrides: Mapping[str, Any] | None = None,
    path: str | Path | None = None,
    configuration_sigma: float | None = None,
) -> TrainingConfig:
    """Resolve the training settings for ``preset`` at noise level ``sigma``.

    ``overrides`` (flat TrainingConfig field names, e.g. ``iterations``, ``seed``,
    ``batch_size``) win over the file; ``None`` values are ignored.
    ``configuration_sigma`` trains with the published configuration of that σ (its
    architecture, loss and rates; recorded as ``derived_from``) instead of ``sigma``'s own:
    a noise sweep keeps one configuration along σ, and an ablation swaps them.
    """
    path = Path(path or presets_file())
    checked = validated(PresetsFile, read_yaml(path, "pass the path of a training presets file."), path)
    document = checked.model_dump(exclude_none=True)  # the sections as mappings, to merge
    presets = document["presets"]
    if preset not in presets:
        raise FlygnnError(f"unknown training preset {preset!r}; known: {', '.join(presets)} (from {path}).")
    entries = document["published"]
    published = _entry_for_sigma(entries, sigma if configuration_sigma is None else configuration_sigma)
    derived_from = (
        None if configuration_sigma is None or same_sigma(configuration_sigma, sigma) else float(configuration_sigma)
    )
    if published is None and configuration_sigma is not None:
        sigmas = ", ".join(f"{float(e['sigma']):g}" for e in entries)
        raise FlygnnError(f"no published configuration for σ = {configuration_sigma:g} in {path}; known: {sigmas}.")
    if published is None:
        published = min(entries, key=lambda e: (abs(float(e["sigma"]) - sigma), float(e["sigma"])))
        derived_from = float(published["sigma"])
    spec = _merge(published, presets[preset].get("all"))
    own = _entry_for_sigma(presets[preset].get("sigma"), sigma)
    if own is None and derived_from is not None:
        own = _entry_for_sigma(presets[preset].get("sigma"), derived_from)
    spec = _merge(spec, own)
    scale = float(spec.get("learning_rate_scale", 1.0))
    values: dict[str, Any] = {
        "preset": preset,
        "sigma": float(sigma),
        **spec["architecture"],
        **spec["loss"],
        "lr_W": _round(float(spec["learning_rates"]["W"]) * scale),
        "lr_mlp": _round(float(spec["learning_rates"]["mlp"]) * scale),
        "lr_embedding": _round(float(spec["learning_rates"]["embedding"]) * scale),
        "learning_rate_scale": scale,
        **spec["schedule"],
        "derived_from": derived_from,
    }
    for key in ("checkpoint_every_s", "log_every", "score_every", "activity_frames", "seed", "monotonicity_step"):
        if key in spec:
            values[key] = spec[key]
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    known = {f.name for f in dataclasses.fields(TrainingConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise FlygnnError(f"{path}: unknown training setting(s) {unknown}; known: {sorted(known)}.")
    values["lr_steps"] = _checked_lr_steps(values.get("lr_steps", ()))
    config = TrainingConfig(**values)
    if not config.lr_factor > 0:
        raise FlygnnError(f"the learning-rate factor must be > 0, got {config.lr_factor}.")
    if config.frame_seed is not None and config.frame_seed < 0:
        raise FlygnnError(f"the frame seed must be >= 0, got {config.frame_seed}.")
    if config.batch_size < 1 or config.iterations < 0 or config.score_every < 0:
        raise FlygnnError(
            f"batch size must be >= 1, iterations and score_every >= 0; got {config.batch_size}, "
            f"{config.iterations} and {config.score_every}."
        )
    return config
