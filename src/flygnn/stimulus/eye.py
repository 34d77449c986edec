"""The hexagonal eye's geometry and flyvis' BoxEye: luminance per column from an image.

Geometry (flyvis BoxEye, ``flyvis/datasets/rendering/eye.py``): column ``(u, v)`` looks
at image row ``d·(u + v/2)`` and image column ``d·v`` from the gaze point, with
``d = spacing / zoom`` image pixels, and averages a box of ``box / zoom`` pixels. This is
a slightly sheared hexagonal lattice (neighbours 13 and 14.5 px apart), kept as flyvis
has it. Box means are exact area averages of the pixel-constant image, read from a
summed-area table interpolated bilinearly at the (fractional) box corners: 16 look-ups
per column and frame, independent of the box size, no resampling of the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flygnn.errors import FlygnnError

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
    total: np.ndarray | float = 0.0  # an array from the first corner on
    for y_index, (y_cell, fy) in enumerate(y_corners):
        base = y_cell * width
        for x_index, (x_cell, fx) in enumerate(x_corners):
            i = base + x_cell
            top = flat[i] + fx * (flat[i + 1] - flat[i])
            bottom = flat[i + width] + fx * (flat[i + width + 1] - flat[i + width])
            integral = top + fy * (bottom - top)
            total = total + integral if y_index == x_index else total - integral
    return np.asarray(total / (2 * half) ** 2)


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
