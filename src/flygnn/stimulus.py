"""Visual stimuli on the hexagonal photoreceptor lattice: luminance per column.

The simulator gives all eight photoreceptors R1–R8 of a column that column's
luminance (0 to every other neuron); this module only produces the luminance,
one value in [0, 1] per column and frame.

Kinds (``StimulusSpec.kind``):

``natural``
    Saccadic natural-image movies (docs/design.md, section 5). Greyscale photographs bundled inside
    installed packages (scikit-image, scikit-learn, matplotlib; never downloaded)
    are seen through flyvis' BoxEye: a 13×13 px box mean at every column centre,
    centres 13 px apart. Each 80-frame sequence picks an image, one of 8 hexagonal
    variants, a zoom, and moves the gaze with a slow AR(1) drift plus saccades.
    Train and test sequences come from disjoint source images.
``flashes``
    Full-field steps: grey (0.5) pauses alternating with ON (1) or OFF (0) flashes.
``gratings``
    Drifting sine gratings drawn on the lattice (direction, period, speed per sequence).
``edges``
    Moving ON or OFF edges sweeping over a grey field (direction, speed per sequence).
``mixed``
    Each sequence is, drawn at random with equal chances, the next sequence of the
    ``flashes``, ``gratings`` or ``edges`` stimulus of the same seed: full-field steps for
    ON/OFF responses, and motion in 12 directions at many speeds and periods, in one
    procedural movie that spans more of the cell types' inputs than any one of them.

Everything is deterministic for ``(spec, split)``: sequence ``k`` of a split draws its
parameters from its own random stream seeded by ``(seed, split, k)``, so a movie does
not depend on the chunk size and a shorter movie is a prefix of a longer one.

Geometry (flyvis BoxEye, ``flyvis/datasets/rendering/eye.py``): column ``(u, v)`` looks
at image row ``d·(u + v/2)`` and image column ``d·v`` from the gaze point, with
``d = spacing / zoom`` image pixels, and averages a box of ``box / zoom`` pixels. This is
a slightly sheared hexagonal lattice (neighbours 13 and 14.5 px apart), kept as flyvis
has it. Box means are exact area averages of the pixel-constant image, read from a
summed-area table interpolated bilinearly at the (fractional) box corners: 16 look-ups
per column and frame, independent of the box size, no resampling of the image.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter

from flygnn.errors import FlygnnError

# a kind's index seeds its sequences: append new kinds, never reorder (datasets stay reproducible)
KINDS = ("natural", "flashes", "gratings", "edges", "mixed")
# what a `mixed` stimulus draws each sequence from
MIXED_KINDS = ("flashes", "gratings", "edges")
SPLITS = ("train", "test")
GREY = 0.5

# name -> (package that bundles it, path of the file inside that package).
# Only files shipped inside the wheel: skimage.data fetches others (e.g. "kodim") with
# pooch at run time, which must never happen here, so files are read by path.
NATURAL_IMAGE_FILES: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "camera": ("skimage", "data/camera.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "motorcycle_left": ("skimage", "data/motorcycle_left.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg"),
    "moon": ("skimage", "data/moon.png"),
    "retina": ("skimage", "data/retina.jpg"),
    "grass": ("skimage", "data/grass.png"),
    "gravel": ("skimage", "data/gravel.png"),
    "brick": ("skimage", "data/brick.png"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}

_PACKAGE_DISTRIBUTION = {"skimage": "scikit-image", "sklearn": "scikit-learn", "matplotlib": "matplotlib"}

# Luminance normalisation per image: the 1st and 99th percentiles of its grey values
# map to 0 and 1 (clipped), so dark images (hubble_deep_field, moon) use the full range.
NORMALISATION_PERCENTILES = (1.0, 99.0)


# ----- images -------------------------------------------------------------------


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def natural_image_sources() -> dict[str, str]:
    """Where each available image comes from: name -> "<distribution> <version>: <file>".

    Images whose file is not inside the installed package are left out.
    """
    return dict(_natural_image_sources_cached())


@lru_cache(maxsize=1)
def _natural_image_sources_cached() -> tuple[tuple[str, str], ...]:
    sources = {}
    for name, (package, relative) in NATURAL_IMAGE_FILES.items():
        directory = _package_dir(package)
        if directory is None or not (directory / relative).is_file():
            continue
        distribution = _PACKAGE_DISTRIBUTION[package]
        try:
            version = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        sources[name] = f"{distribution} {version}: {directory / relative}"
    return tuple(sources.items())


def _load_greyscale(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    # ITU-R BT.709 luminance of the (gamma-encoded) RGB values, as skimage.color.rgb2gray.
    grey = rgb @ np.array([0.2125, 0.7154, 0.0721])
    low, high = np.percentile(grey, NORMALISATION_PERCENTILES)
    if high <= low:
        raise FlygnnError(f"image {path} has no contrast; remove it from the stimulus images.")
    return np.clip((grey - low) / (high - low), 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=1)
def _natural_images_cached() -> tuple[tuple[str, np.ndarray], ...]:
    images = []
    for name in natural_image_sources():
        package, relative = NATURAL_IMAGE_FILES[name]
        path = _package_dir(package) / relative  # type: ignore[operator]
        try:
            image = _load_greyscale(path)
        except (OSError, ValueError):
            continue  # unreadable file: skip it, as if the package lacked it
        image.setflags(write=False)
        images.append((name, image))
    return tuple(images)


def natural_images() -> dict[str, np.ndarray]:
    """The bundled natural images: name -> (height, width) float32 luminance in [0, 1].

    Read from files inside installed packages (never downloaded); greyscale by BT.709
    luminance, then stretched per image so its 1st..99th percentiles span [0, 1].
    Arrays are read only (cached for the process).
    """
    return dict(_natural_images_cached())


def split_images(seed: int = 0, available: list[str] | tuple[str, ...] | None = None) -> dict[str, list[str]]:
    """Split the available source images into disjoint train and test sets.

    A quarter of the images (at least one) go to test, chosen by a permutation seeded
    with ``seed``; both lists are returned sorted. Raises FlygnnError if fewer than
    2 train and 1 test image would remain.
    """
    _check_seed(seed)
    names = sorted(natural_image_sources() if available is None else available)
    if len(names) < 3:
        raise FlygnnError(
            f"only {len(names)} natural image(s) available ({', '.join(names) or 'none'}); the natural "
            "stimulus needs at least 2 train and 1 test image. Install scikit-image, scikit-learn and "
            "matplotlib (they bundle the images), or choose another stimulus kind (flashes, gratings, edges)."
        )
    n_test = max(1, round(len(names) / 4))
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED])).permutation(len(names))
    test = sorted(names[i] for i in order[:n_test])
    train = sorted(names[i] for i in order[n_test:])
    return {"train": train, "test": test}


# ----- specification --------------------------------------------------------------


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise FlygnnError(f"stimulus seed must be a non-negative integer, got {seed!r}.")


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
        if self.train_images is not None:
            overlap = set(self.train_images) & set(self.test_images)  # type: ignore[arg-type]
            if overlap:
                raise FlygnnError(f"train and test images must be disjoint; both contain {sorted(overlap)}.")
            unknown = sorted((set(self.train_images) | set(self.test_images)) - set(NATURAL_IMAGE_FILES))  # type: ignore[arg-type]
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
        available = natural_image_sources()
        missing = [name for name in names if name not in available]  # type: ignore[union-attr]
        if missing:
            raise FlygnnError(
                f"natural image(s) {missing} of the {split} split are not installed here "
                f"(available: {', '.join(available)}); install the package that bundles them or choose other images."
            )
        if split == "train" and len(names) < 2 or split == "test" and len(names) < 1:  # type: ignore[arg-type]
            raise FlygnnError(
                f"the natural stimulus needs at least 2 train and 1 test image; {split} has {list(names)}."
            )  # type: ignore[arg-type]
        return names  # type: ignore[return-value]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise FlygnnError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}.")


# ----- lattice geometry --------------------------------------------------------------


def hex_variant(u: np.ndarray, v: np.ndarray, variant: int) -> tuple[np.ndarray, np.ndarray]:
    """Apply hexagonal variant 0..7 to axial coordinates (u, v).

    Variants are (flip, rotation): variant = 4·flip + r with rotations of
    (0°, 60°, 180°, 240°)[r]; the flip mirrors across the u axis. Both map the
    hexagonal lattice onto itself (integer coordinates stay integer).
    """
    if not 0 <= variant < 8:
        raise FlygnnError(f"hexagonal variant must be 0..7, got {variant}.")
    u = np.asarray(u)
    v = np.asarray(v)
    if variant >= 4:  # cube (q, r, s) -> (q, s, r)
        u, v = u, -u - v
    for _ in range((0, 1, 3, 4)[variant % 4]):  # 60°: (q, r, s) -> (-r, -s, -q)
        u, v = -v, u + v
    return u, v


def box_eye_offsets(columns_u: np.ndarray, columns_v: np.ndarray, spacing: float = 13.0) -> np.ndarray:
    """(n_columns, 2) float64 (row, column) pixel offset of each column from the gaze point.

    flyvis BoxEye: row = spacing·(u + v/2), column = spacing·v.
    """
    u = np.asarray(columns_u, dtype=np.float64)
    v = np.asarray(columns_v, dtype=np.float64)
    return np.stack([spacing * (u + v / 2), spacing * v], axis=1)


def lattice_positions(columns_u: np.ndarray, columns_v: np.ndarray) -> np.ndarray:
    """(n_columns, 2) float64 (x, y) of the columns on a regular hexagonal lattice.

    Neighbours are 1 apart; same orientation as flyvis' ``hex_to_pixel`` (mode
    "default") and as an image with row = u + v/2 pointing down. Used for the
    procedural stimuli and for drawing the lattice.
    """
    u = np.asarray(columns_u, dtype=np.float64)
    v = np.asarray(columns_v, dtype=np.float64)
    return np.stack([np.sqrt(3) / 2 * v, -(u + v / 2)], axis=1)


# ----- box means from a summed-area table --------------------------------------------


@dataclass(frozen=True)
class _PaddedImage:
    table: np.ndarray  # (H + 2p + 1, W + 2p + 1) float64 summed-area table, flattened index below
    flat: np.ndarray
    pad: int
    height: int  # of the original image
    width: int


def _summed_area_table(image: np.ndarray, pad: int) -> _PaddedImage:
    """Reflect-pad ``image`` by ``pad`` px (so gaze near a border still sees image) and integrate."""
    padded = np.pad(np.asarray(image, dtype=np.float64), pad, mode="symmetric")
    table = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1))
    np.cumsum(np.cumsum(padded, axis=0), axis=1, out=table[1:, 1:])
    return _PaddedImage(table, table.ravel(), pad, image.shape[0], image.shape[1])


def _corner_weights(sat: _PaddedImage, coordinate: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer cell and fractional part of continuous coordinates along ``axis`` of the table."""
    size = sat.table.shape[axis]
    coordinate = np.clip(coordinate, 0.0, size - 1.0)
    cell = np.minimum(coordinate.astype(np.intp), size - 2)
    return cell, coordinate - cell


def _box_means(sat: _PaddedImage, rows: np.ndarray, cols: np.ndarray, half: float) -> np.ndarray:
    """Mean luminance in the boxes of half-width ``half`` centred at (rows, cols) (image px).

    The integral of the pixel-constant image over [0, y) × [0, x) is the summed-area
    table interpolated bilinearly, so the box sum is exact for fractional corners.
    """
    width = sat.table.shape[1]
    flat = sat.flat
    y_corners = [_corner_weights(sat, rows + (sat.pad + sign * half), 0) for sign in (1, -1)]
    x_corners = [_corner_weights(sat, cols + (sat.pad + sign * half), 1) for sign in (1, -1)]
    total = 0.0
    for y_index, (y_cell, fy) in enumerate(y_corners):
        base = y_cell * width
        for x_index, (x_cell, fx) in enumerate(x_corners):
            i = base + x_cell
            top = flat[i] + fx * (flat[i + 1] - flat[i])
            bottom = flat[i + width] + fx * (flat[i + width + 1] - flat[i + width])
            integral = top + fy * (bottom - top)
            total = total + integral if y_index == x_index else total - integral
    return total / (2 * half) ** 2


def _required_pad(offsets: np.ndarray, spec: StimulusSpec) -> int:
    return int(np.ceil((np.abs(offsets).max(initial=0.0) + spec.box / 2) / spec.zoom[0])) + 2


def sample_hex_image(
    image: np.ndarray,
    columns_u: np.ndarray,
    columns_v: np.ndarray,
    center: tuple[float, float] | None = None,
    zoom: float = 1.0,
    variant: int = 0,
    spacing: float = 13.0,
    box: float = 13.0,
) -> np.ndarray:
    """One BoxEye frame: (n_columns,) float32 box-mean luminance of ``image`` per column.

    ``center`` is the gaze point (row, column) in continuous pixel coordinates (pixel
    (i, j) covers [i, i+1) × [j, j+1)); default: the image centre. Outside the image
    it is mirrored (symmetric padding).
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise FlygnnError(f"image must be 2-D greyscale (height, width), got shape {image.shape}.")
    if center is None:
        center = (image.shape[0] / 2, image.shape[1] / 2)
    # the mirrored tiling repeats every two image sizes: fold the gaze into that period
    center = (float(np.mod(center[0], 2 * image.shape[0])), float(np.mod(center[1], 2 * image.shape[1])))
    u, v = hex_variant(columns_u, columns_v, variant)
    offsets = box_eye_offsets(u, v, spacing) / zoom
    half = box / (2 * zoom)
    pad = int(np.ceil(np.abs(offsets).max(initial=0.0) + half + max(center))) + 2
    sat = _summed_area_table(image, pad)
    means = _box_means(sat, center[0] + offsets[:, 0], center[1] + offsets[:, 1], half)
    return means.astype(np.float32)


# ----- sequences -----------------------------------------------------------------------


_SPLIT_CODE = {"train": 1, "test": 2}


def _sequence_rng(spec: StimulusSpec, split: str, index: int) -> np.random.Generator:
    kind_code = KINDS.index(spec.kind)
    return np.random.default_rng(np.random.SeedSequence([spec.seed, _SPLIT_CODE[split], kind_code, index]))


@dataclass(frozen=True)
class SaccadeSequence:
    """Parameters of one natural-image sequence (for inspection and tests)."""

    image: str
    variant: int
    zoom: float
    gaze: np.ndarray  # (frames, 2) float64 (row, column) in image pixels
    saccade_frames: np.ndarray  # (n,) int frames at which a saccade lands


def _reflect(x: np.ndarray, size: int) -> np.ndarray:
    """Fold coordinates into [0, size) by mirroring at the borders."""
    period = 2.0 * size
    x = np.mod(x, period)
    return np.where(x >= size, period - x, x)


def plan_saccade_sequence(
    spec: StimulusSpec, split: str, index: int, image_shapes: dict[str, tuple[int, int]]
) -> SaccadeSequence:
    """Draw image, variant, zoom and gaze path of natural sequence ``index`` of ``split``.

    ``image_shapes``: (height, width) of each image of the split, in the order of
    ``spec.images_for(split)`` (the image is drawn by position in that order).
    """
    rng = _sequence_rng(spec, split, index)
    names = list(image_shapes)
    image = names[int(rng.integers(len(names)))]
    variant = int(spec.variants[int(rng.integers(len(spec.variants)))])
    zoom = float(rng.uniform(*spec.zoom))
    height, width = image_shapes[image]
    T = spec.sequence_frames

    # AR(1) velocity per axis, started in its stationary distribution
    rho = spec.drift_correlation
    noise = rng.standard_normal((T, 2))
    noise[1:] *= np.sqrt(1 - rho**2)
    velocity = spec.drift_speed * lfilter([1.0], [1.0, -rho], noise, axis=0)

    # saccades: jumps at intervals drawn uniformly from saccade_interval
    low, high = spec.saccade_interval
    intervals = rng.integers(low, high + 1, size=T // low + 1)
    saccade_frames = np.cumsum(intervals)
    saccade_frames = saccade_frames[saccade_frames < T]
    amplitude = rng.uniform(*spec.saccade_amplitude, size=saccade_frames.size)
    angle = rng.uniform(0, 2 * np.pi, size=saccade_frames.size)
    step = velocity.copy()
    step[saccade_frames] += amplitude[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1)

    start = rng.uniform((0, 0), (height, width))
    path = start + np.cumsum(step, axis=0) - step[0]
    gaze = np.stack([_reflect(path[:, 0], height), _reflect(path[:, 1], width)], axis=1)
    return SaccadeSequence(image, variant, zoom, gaze, saccade_frames)


def _natural_sequences(
    spec: StimulusSpec, split: str, columns_u: np.ndarray, columns_v: np.ndarray
) -> Iterator[np.ndarray]:
    names = spec.images_for(split)
    all_images = natural_images()
    missing = [name for name in names if name not in all_images]
    if missing:
        raise FlygnnError(f"natural image(s) {missing} could not be read; reinstall the package that bundles them.")
    shapes = {name: all_images[name].shape[:2] for name in names}
    base_offsets = {k: box_eye_offsets(*hex_variant(columns_u, columns_v, k), spec.spacing) for k in spec.variants}
    pad = _required_pad(np.concatenate(list(base_offsets.values())), spec)
    tables: dict[str, _PaddedImage] = {}  # per call, freed with the generator
    index = 0
    while True:
        plan = plan_saccade_sequence(spec, split, index, shapes)
        if plan.image not in tables:
            tables[plan.image] = _summed_area_table(all_images[plan.image], pad)
        offsets = base_offsets[plan.variant] / plan.zoom
        rows = plan.gaze[:, 0:1] + offsets[None, :, 0]
        cols = plan.gaze[:, 1:2] + offsets[None, :, 1]
        yield _box_means(tables[plan.image], rows, cols, spec.box / (2 * plan.zoom))
        index += 1


def _flash_sequences(spec: StimulusSpec, split: str, n_columns: int) -> Iterator[np.ndarray]:
    index = 0
    while True:
        rng = _sequence_rng(spec, split, index)
        values = np.empty(spec.sequence_frames)
        t = 0
        polarity = int(rng.integers(2))  # first flash ON or OFF, then alternating
        while t < spec.sequence_frames:
            pause = int(rng.integers(spec.pause_frames[0], spec.pause_frames[1] + 1))
            flash = int(rng.integers(spec.flash_frames[0], spec.flash_frames[1] + 1))
            values[t : t + pause] = GREY
            level = GREY + (0.5 if polarity else -0.5) * spec.contrast
            values[t + pause : t + pause + flash] = level
            t += pause + flash
            polarity = 1 - polarity
        yield np.repeat(values[:, None], n_columns, axis=1)
        index += 1


def _direction(rng: np.random.Generator) -> np.ndarray:
    angle = np.radians(30.0 * int(rng.integers(12)))  # 12 directions, 30° apart
    return np.array([np.cos(angle), np.sin(angle)])


def _grating_sequences(
    spec: StimulusSpec, split: str, columns_u: np.ndarray, columns_v: np.ndarray
) -> Iterator[np.ndarray]:
    positions = lattice_positions(columns_u, columns_v)
    t = np.arange(spec.sequence_frames)[:, None]
    index = 0
    while True:
        rng = _sequence_rng(spec, split, index)
        projection = positions @ _direction(rng)
        period = rng.uniform(*spec.period)
        speed = rng.uniform(*spec.speed)
        phase = rng.uniform(0, 2 * np.pi)
        yield GREY + GREY * spec.contrast * np.sin(2 * np.pi * (projection[None, :] - speed * t) / period + phase)
        index += 1


def _edge_sequences(
    spec: StimulusSpec, split: str, columns_u: np.ndarray, columns_v: np.ndarray
) -> Iterator[np.ndarray]:
    positions = lattice_positions(columns_u, columns_v)
    t = np.arange(spec.sequence_frames)[:, None]
    index = 0
    while True:
        rng = _sequence_rng(spec, split, index)
        projection = positions @ _direction(rng)
        speed = rng.uniform(*spec.speed)
        level = GREY + (0.5 if rng.integers(2) else -0.5) * spec.contrast
        start = projection.min(initial=0.0) - 1.0  # edge enters just outside the lattice
        front = start + speed * t
        # antialiased: a column is covered by the fraction of a unit-wide band the edge has passed
        covered = np.clip(front - projection[None, :] + 0.5, 0.0, 1.0)
        yield GREY + covered * (level - GREY)
        index += 1


def _mixed_sequences(
    spec: StimulusSpec, split: str, columns_u: np.ndarray, columns_v: np.ndarray
) -> Iterator[np.ndarray]:
    sources = {
        "flashes": _flash_sequences(dataclasses.replace(spec, kind="flashes"), split, columns_u.size),
        "gratings": _grating_sequences(dataclasses.replace(spec, kind="gratings"), split, columns_u, columns_v),
        "edges": _edge_sequences(dataclasses.replace(spec, kind="edges"), split, columns_u, columns_v),
    }
    index = 0
    while True:
        kind = MIXED_KINDS[int(_sequence_rng(spec, split, index).integers(len(MIXED_KINDS)))]
        yield next(sources[kind])
        index += 1


def stimulus_frames(
    spec: StimulusSpec,
    columns_u: np.ndarray,
    columns_v: np.ndarray,
    split: str,
    n_frames: int,
    chunk: int = 1000,
) -> Iterator[np.ndarray]:
    """Yield chunks (n, n_columns) float32 luminance in [0, 1], ``n_frames`` in total.

    Columns are the hexagonal columns with axial coordinates (u, v) (flyvis convention;
    217 at extent 8). Deterministic for (spec, split, n_frames) and independent of
    ``chunk``. ``split`` is "train" or "test"; natural-image train and test sequences
    come from disjoint source images. Sequences of ``spec.sequence_frames`` frames
    follow each other; the last one is cut at ``n_frames``.
    """
    if not isinstance(spec, StimulusSpec):
        raise FlygnnError(f"spec must be a StimulusSpec, got {type(spec).__name__}; use StimulusSpec.from_dict(...).")
    _check_split(split)
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise FlygnnError(f"n_frames must be a positive integer, got {n_frames!r}.")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise FlygnnError(f"chunk must be a positive integer, got {chunk!r}.")
    columns_u = np.asarray(columns_u)
    columns_v = np.asarray(columns_v)
    if columns_u.ndim != 1 or columns_u.shape != columns_v.shape or columns_u.size == 0:
        raise FlygnnError(
            f"columns_u and columns_v must be 1-D arrays of equal, non-zero length; got {columns_u.shape} and {columns_v.shape}."
        )

    if spec.kind == "natural":
        sequences = _natural_sequences(spec.resolved(), split, columns_u, columns_v)
    elif spec.kind == "flashes":
        sequences = _flash_sequences(spec, split, columns_u.size)
    elif spec.kind == "gratings":
        sequences = _grating_sequences(spec, split, columns_u, columns_v)
    elif spec.kind == "edges":
        sequences = _edge_sequences(spec, split, columns_u, columns_v)
    else:
        sequences = _mixed_sequences(spec, split, columns_u, columns_v)

    buffer: list[np.ndarray] = []
    buffered = 0
    remaining = n_frames
    for sequence in sequences:
        sequence = np.clip(sequence[:remaining], 0.0, 1.0).astype(np.float32)
        buffer.append(sequence)
        buffered += sequence.shape[0]
        remaining -= sequence.shape[0]
        while buffered >= chunk or (remaining == 0 and buffered > 0):
            frames = np.concatenate(buffer) if len(buffer) > 1 else buffer[0]
            out, rest = frames[:chunk], frames[chunk:]
            yield out
            buffer = [rest] if rest.shape[0] else []
            buffered = rest.shape[0]
        if remaining == 0:
            return


def stimulus_movie(
    spec: StimulusSpec, columns_u: np.ndarray, columns_v: np.ndarray, split: str, n_frames: int
) -> np.ndarray:
    """All ``n_frames`` of ``stimulus_frames`` as one (n_frames, n_columns) float32 array."""
    return np.concatenate(list(stimulus_frames(spec, columns_u, columns_v, split, n_frames, chunk=max(1, n_frames))))
