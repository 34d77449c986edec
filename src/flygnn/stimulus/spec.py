"""What stimulus to show (``StimulusSpec``), its kinds and splits, and each sequence's random stream."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from flygnn.errors import FlygnnError
from flygnn.stimulus.images import NATURAL_IMAGE_FILES, _check_seed, natural_image_sources, split_images

# a kind's index seeds its sequences: append new kinds, never reorder (datasets stay reproducible)
KINDS = ("natural", "flashes", "gratings", "edges", "mixed")
# what a `mixed` stimulus draws each sequence from
MIXED_KINDS = ("flashes", "gratings", "edges")
SPLITS = ("train", "test")


def _check_range(name: str, value: tuple, low: float, high: float | None = None) -> None:
    if len(value) != 2 or not value[0] <= value[1] or value[0] < low or (high is not None and value[1] > high):
        bound = f"within [{low}, {high}]" if high is not None else f">= {low}"
        raise FlygnnError(f"stimulus option {name} must be a (min, max) pair with min <= max, {bound}; got {value!r}.")


@dataclass(frozen=True)
class StimulusSpec:
    """What stimulus to show; stored in the dataset attrs (``to_dict``).

    Units: frames (one simulation step each), image pixels for the natural images,
    lattice columns (neighbour distance 1) for gratings and edges.
    """

    kind: str = "natural"
    seed: int = 0
    sequence_frames: int = 80
    # natural images
    train_images: tuple[str, ...] | None = None  # None: split_images(seed); resolved() fills them in
    test_images: tuple[str, ...] | None = None
    spacing: float = 13.0  # px between column centres at zoom 1 (flyvis BoxEye)
    box: float = 13.0  # px, side of the box averaged per column at zoom 1
    zoom: tuple[float, float] = (0.6, 1.6)  # magnification, uniform per sequence
    saccade_interval: tuple[int, int] = (5, 19)  # frames between saccades, uniform integers
    saccade_amplitude: tuple[float, float] = (20.0, 120.0)  # px, uniform, random direction
    drift_speed: float = 0.5  # px/frame, stationary std of the AR(1) drift velocity per axis
    drift_correlation: float = 0.9  # AR(1) coefficient of the drift velocity per frame
    variants: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)  # hexagonal variants drawn from
    # flashes
    flash_frames: tuple[int, int] = (5, 20)  # duration of one ON or OFF flash, frames
    pause_frames: tuple[int, int] = (5, 20)  # grey between flashes, frames
    # gratings and edges
    period: tuple[float, float] = (3.0, 10.0)  # grating period, columns
    speed: tuple[float, float] = (0.05, 0.4)  # columns/frame (at dt 0.02 s: 2.5–20 columns/s)
    contrast: float = 1.0  # Michelson contrast around grey 0.5

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FlygnnError(f"unknown stimulus kind {self.kind!r}; choose one of: {', '.join(KINDS)}.")
        _check_seed(self.seed)
        if (
            isinstance(self.sequence_frames, bool)
            or not isinstance(self.sequence_frames, (int, np.integer))
            or self.sequence_frames < 1
        ):
            raise FlygnnError(f"sequence_frames must be a positive integer, got {self.sequence_frames!r}.")
        object.__setattr__(self, "seed", int(self.seed))  # plain ints keep to_dict JSON-serialisable
        object.__setattr__(self, "sequence_frames", int(self.sequence_frames))
        for name in (
            "zoom", "saccade_interval", "saccade_amplitude", "flash_frames", "pause_frames", "period", "speed",
            "train_images", "test_images", "variants",
        ):  # fmt: skip
            value = getattr(self, name)
            if value is None and name.endswith("_images"):
                continue
            if not isinstance(value, (list, tuple)):
                raise FlygnnError(f"stimulus option {name} must be a list, got {value!r}.")
            object.__setattr__(self, name, tuple(value))
        _check_range("zoom", self.zoom, 1e-3)
        _check_range("saccade_interval", self.saccade_interval, 1)
        _check_range("saccade_amplitude", self.saccade_amplitude, 0.0)
        _check_range("flash_frames", self.flash_frames, 1)
        _check_range("pause_frames", self.pause_frames, 0)
        _check_range("period", self.period, 1e-3)
        _check_range("speed", self.speed, 0.0)
        if not (self.spacing > 0 and self.box > 0):
            raise FlygnnError(f"spacing and box must be positive pixels, got {self.spacing!r}, {self.box!r}.")
        if not self.drift_speed >= 0 or not 0 <= self.drift_correlation < 1:
            raise FlygnnError(
                f"drift_speed must be >= 0 and drift_correlation in [0, 1); got {self.drift_speed!r}, {self.drift_correlation!r}."
            )
        if not 0 <= self.contrast <= 1:
            raise FlygnnError(f"contrast must be in [0, 1], got {self.contrast!r}.")
        if not self.variants or any(not 0 <= int(k) < 8 for k in self.variants):
            raise FlygnnError(f"variants must be a non-empty list of integers 0..7, got {self.variants!r}.")
        if (self.train_images is None) != (self.test_images is None):
            raise FlygnnError("give both train_images and test_images, or neither (then split_images(seed) decides).")
        if self.train_images is not None and self.test_images is not None:  # both or neither (checked above)
            overlap = set(self.train_images) & set(self.test_images)
            if overlap:
                raise FlygnnError(f"train and test images must be disjoint; both contain {sorted(overlap)}.")
            unknown = sorted((set(self.train_images) | set(self.test_images)) - set(NATURAL_IMAGE_FILES))
            if unknown:
                raise FlygnnError(f"unknown natural image(s) {unknown}; known: {', '.join(NATURAL_IMAGE_FILES)}.")

    def to_dict(self) -> dict:
        """JSON-serialisable options (tuples become lists); ``from_dict`` inverts it."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, d: dict) -> StimulusSpec:
        """Build a spec from ``to_dict`` output (or a preset); FlygnnError on unknown keys."""
        if not isinstance(d, dict):
            raise FlygnnError(f"a stimulus specification must be a mapping, got {type(d).__name__}.")
        allowed = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(allowed))
        if unknown:
            raise FlygnnError(f"unknown stimulus option(s) {unknown}; allowed: {', '.join(allowed)}.")
        return cls(**d)

    def resolved(self) -> StimulusSpec:
        """The same spec with the natural train/test images written out.

        Store ``spec.resolved().to_dict()`` so the dataset records exactly which images
        were used (images missing from this installation are skipped by ``split_images``).
        For other kinds the spec is returned unchanged.
        """
        if self.kind != "natural" or self.train_images is not None:
            return self
        split = split_images(self.seed)
        return dataclasses.replace(self, train_images=tuple(split["train"]), test_images=tuple(split["test"]))

    def images_for(self, split: str) -> tuple[str, ...]:
        _check_split(split)
        spec = self.resolved()
        names = spec.train_images if split == "train" else spec.test_images
        if names is None:  # resolved() fills both in for the natural stimulus, the only one with images
            raise FlygnnError(f"the {spec.kind} stimulus has no images.")
        available = natural_image_sources()
        missing = [name for name in names if name not in available]
        if missing:
            raise FlygnnError(
                f"natural image(s) {missing} of the {split} split are not installed here "
                f"(available: {', '.join(available)}); install the package that bundles them or choose other images."
            )
        if split == "train" and len(names) < 2 or split == "test" and len(names) < 1:
            raise FlygnnError(
                f"the natural stimulus needs at least 2 train and 1 test image; {split} has {list(names)}."
            )
        return names


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise FlygnnError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}.")


_SPLIT_CODE = {"train": 1, "test": 2}


def _sequence_rng(spec: StimulusSpec, split: str, index: int) -> np.random.Generator:
    kind_code = KINDS.index(spec.kind)
    return np.random.default_rng(np.random.SeedSequence([spec.seed, _SPLIT_CODE[split], kind_code, index]))
