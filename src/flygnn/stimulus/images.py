"""The natural images: files bundled inside installed packages, read and split into train and test.

Greyscale photographs bundled inside installed packages (scikit-image, scikit-learn,
matplotlib) are read by path, never downloaded. Train and test sequences of the
``natural`` stimulus come from the disjoint image sets of ``split_images``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from flygnn.errors import FlygnnError

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


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise FlygnnError(f"stimulus seed must be a non-negative integer, got {seed!r}.")
