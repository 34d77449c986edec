"""Stimulus: BoxEye geometry known answers, bundled images, determinism, split disjointness."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

from flygnn import stimulus
from flygnn.errors import FlygnnError
from flygnn.stimulus import (
    MIXED_KINDS,
    NATURAL_IMAGE_FILES,
    StimulusSpec,
    hex_variant,
    natural_image_sources,
    natural_images,
    plan_saccade_sequence,
    sample_hex_image,
    split_images,
    stimulus_frames,
    stimulus_movie,
)


def hexagon(extent: int) -> tuple[np.ndarray, np.ndarray]:
    """Axial coordinates of a full hexagon, u-major (flyvis order)."""
    u, v = [], []
    for q in range(-extent, extent + 1):
        for r in range(max(-extent, -extent - q), min(extent, extent - q) + 1):
            u.append(q)
            v.append(r)
    return np.array(u), np.array(v)


# ----- geometry: known answers ----------------------------------------------------------


@pytest.mark.slow  # importing flyvis' renderer takes ~15 s
def test_box_means_match_flyvis_boxeye_at_integer_centres():
    torch = pytest.importorskip("torch")
    from flyvis.datasets.rendering.eye import BoxEye

    image = np.random.default_rng(0).random((101, 121)).astype(np.float32)
    eye = BoxEye(extent=2, kernel_size=13)
    reference = eye(torch.tensor(image[None, None]), ftype="mean").numpy().ravel()
    u, v = hexagon(2)
    # flyvis centres (row, col) = (13(u + v/2), 13 v) + (h//2, w//2), box covering
    # pixels centre-6 .. centre+6, i.e. continuous [c - 6.5, c + 6.5) around c = pixel + 0.5
    ours = sample_hex_image(image, u, v, center=(101 // 2 + 0.5, 121 // 2 + 0.5))
    even = v % 2 == 0  # flyvis truncates the half-pixel centres of odd v to integers; we do not
    assert even.sum() == 11
    np.testing.assert_allclose(ours[even], reference[even], atol=1e-6)


def test_box_means_are_13px_boxes_at_flyvis_centres():
    # the BoxEye known answer without importing flyvis: centre (row, col) = 13·(u + v/2, v)
    image = np.random.default_rng(3).random((120, 130)).astype(np.float32)
    u, v = hexagon(3)
    ours = sample_hex_image(image, u, v, center=(60.5, 65.5))
    checked = 0
    for k, (uu, vv) in enumerate(zip(u, v, strict=False)):
        if vv % 2 == 0:
            row, col = 60 + 13 * (uu + vv // 2), 65 + 13 * vv
            np.testing.assert_allclose(ours[k], image[row - 6 : row + 7, col - 6 : col + 7].mean(), atol=1e-6)
            checked += 1
        else:  # half-pixel centres: the mean of the two neighbouring integer boxes
            row, col = 60 + 13 * (uu + vv / 2), 65 + 13 * vv
            low, high = int(np.floor(row)), int(np.ceil(row))
            expected = 0.5 * (
                image[low - 6 : low + 7, col - 6 : col + 7].mean()
                + image[high - 6 : high + 7, col - 6 : col + 7].mean()
            )
            np.testing.assert_allclose(ours[k], expected, atol=1e-6)
    assert checked == 17  # v in {-2, 0, 2}: 5 + 7 + 5 columns


def test_box_mean_of_a_ramp_is_its_centre_value_for_fractional_centres():
    # pixel (i, j) has value j on [j, j+1): the mean over any 13-px-wide box is centre - 0.5
    ramp = np.tile(np.arange(200, dtype=np.float32), (200, 1))
    u, v = hexagon(1)
    rng = np.random.default_rng(1)
    for _ in range(5):
        center = tuple(rng.uniform(80, 120, size=2))
        means = sample_hex_image(ramp, u, v, center=center)
        expected = center[1] + 13.0 * v - 0.5
        np.testing.assert_allclose(means, expected, atol=1e-3)


def test_constant_image_gives_constant_frames_at_any_zoom_and_border():
    image = np.full((60, 80), 0.3, dtype=np.float32)
    u, v = hexagon(3)
    for zoom in (0.6, 1.0, 1.6):
        # near a corner: symmetric padding keeps the value
        np.testing.assert_allclose(sample_hex_image(image, u, v, center=(2.0, 3.0), zoom=zoom), 0.3, atol=1e-6)


def test_hex_variants_are_lattice_symmetries():
    u, v = hexagon(3)
    cells = set(zip(u.tolist(), v.tolist(), strict=False))
    for k in range(8):
        uu, vv = hex_variant(u, v, k)
        assert set(zip(uu.tolist(), vv.tolist(), strict=False)) == cells
    # 180° (variant 2) negates; six 60° steps are the identity
    uu, vv = hex_variant(u, v, 2)
    np.testing.assert_array_equal(uu, -u)
    np.testing.assert_array_equal(vv, -v)
    uu, vv = u, v
    for _ in range(6):
        uu, vv = hex_variant(uu, vv, 1)
    np.testing.assert_array_equal(uu, u)
    np.testing.assert_array_equal(vv, v)
    # all eight variants differ
    images = {tuple(np.concatenate(hex_variant(u, v, k))) for k in range(8)}
    assert len(images) == 8


def test_rotating_the_sampling_by_180_degrees_equals_rotating_the_image():
    image = np.random.default_rng(2).random((90, 110)).astype(np.float32)
    u, v = hexagon(2)
    center = (44.3, 57.8)
    rotated_sampling = sample_hex_image(image, u, v, center=center, variant=2)
    rotated_image = sample_hex_image(image[::-1, ::-1], u, v, center=(90 - center[0], 110 - center[1]))
    np.testing.assert_allclose(rotated_sampling, rotated_image, atol=1e-5)


# ----- images -----------------------------------------------------------------------------


def test_all_design_images_are_bundled_and_load_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the stimulus tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    stimulus.images._natural_images_cached.cache_clear()
    images = natural_images()
    assert set(images) == set(NATURAL_IMAGE_FILES)  # all 15 are shipped with this environment
    for name, image in images.items():
        assert image.dtype == np.float32 and image.ndim == 2 and min(image.shape) >= 256, name
        assert 0.0 <= image.min() and image.max() <= 1.0
        assert image.min() == 0.0 and image.max() == 1.0  # per-image percentile stretch
    for source in natural_image_sources().values():
        path = source.split(": ", 1)[1]
        assert "site-packages" in path or "dist-packages" in path, source


def test_split_images_is_deterministic_disjoint_and_complete():
    split = split_images(0)
    assert split == split_images(0)
    assert not set(split["train"]) & set(split["test"])
    assert set(split["train"]) | set(split["test"]) == set(natural_image_sources())
    assert len(split["train"]) >= 2 and len(split["test"]) >= 1
    assert any(split_images(seed) != split for seed in range(1, 5))


def test_split_images_refuses_too_few_images():
    with pytest.raises(FlygnnError, match="at least 2 train and 1 test"):
        split_images(0, available=["camera", "moon"])
    assert split_images(0, available=["camera", "moon", "coffee"])["test"] != []


# ----- specification ------------------------------------------------------------------------


def test_spec_round_trips_through_json():
    spec = StimulusSpec(kind="gratings", seed=3, period=(2.0, 4.0)).resolved()
    again = StimulusSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    natural = StimulusSpec(seed=5).resolved()
    assert natural.train_images and natural.test_images
    assert StimulusSpec.from_dict(json.loads(json.dumps(natural.to_dict()))) == natural
    assert list(natural.test_images) == split_images(5)["test"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "noise"}, "natural, flashes, gratings, edges"),
        ({"seed": -1}, "non-negative integer"),
        ({"sequence_frames": 0}, "positive integer"),
        ({"zoom": (1.6, 0.6)}, "min <= max"),
        ({"train_images": ["camera", "moon"], "test_images": ["moon"]}, "disjoint"),
        ({"train_images": ["camera", "lena"], "test_images": ["moon"]}, "unknown natural image"),
        ({"variants": [8]}, "0..7"),
    ],
)
def test_bad_specs_say_what_is_allowed(options, message):
    with pytest.raises(FlygnnError, match=message):
        StimulusSpec(**options)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(FlygnnError, match="unknown stimulus option.*'speeed'.*allowed: kind"):
        StimulusSpec.from_dict({"kind": "edges", "speeed": 1})


def test_stimulus_frames_rejects_bad_arguments():
    u, v = hexagon(1)
    spec = StimulusSpec(kind="flashes")
    with pytest.raises(FlygnnError, match="train, test"):
        next(stimulus_frames(spec, u, v, "validation", 10))
    with pytest.raises(FlygnnError, match="n_frames must be a positive integer"):
        next(stimulus_frames(spec, u, v, "train", 0))
    with pytest.raises(FlygnnError, match="equal, non-zero length"):
        next(stimulus_frames(spec, u, v[:-1], "train", 10))


# ----- movies -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def columns():
    return hexagon(2)  # 19 columns, as load_network(extent=2)


def test_columns_match_the_network_order(small_network, columns):
    np.testing.assert_array_equal(small_network.columns_u, columns[0])
    np.testing.assert_array_equal(small_network.columns_v, columns[1])


@pytest.mark.parametrize("kind", ["natural", "flashes", "gratings", "edges", "mixed"])
def test_frames_are_per_column_finite_in_range_deterministic_and_chunk_independent(kind, columns):
    u, v = columns
    spec = StimulusSpec(kind=kind, seed=1)
    chunks = list(stimulus_frames(spec, u, v, "train", 250, chunk=64))
    assert [c.shape for c in chunks] == [(64, 19)] * 3 + [(58, 19)]
    movie = np.concatenate(chunks)
    assert movie.dtype == np.float32
    assert np.isfinite(movie).all() and movie.min() >= 0.0 and movie.max() <= 1.0
    assert movie.std() > 0.05  # not a blank screen
    np.testing.assert_array_equal(movie, stimulus_movie(spec, u, v, "train", 250))
    np.testing.assert_array_equal(movie[:100], stimulus_movie(spec, u, v, "train", 100))  # prefix
    assert not np.array_equal(movie, stimulus_movie(StimulusSpec(kind=kind, seed=2), u, v, "train", 250))
    assert not np.array_equal(movie, stimulus_movie(spec, u, v, "test", 250))


def test_natural_train_and_test_sequences_use_disjoint_images():
    spec = StimulusSpec(seed=0)
    used = {}
    for split in ("train", "test"):
        names = spec.images_for(split)
        shapes = {name: (512, 512) for name in names}
        used[split] = {plan_saccade_sequence(spec, split, k, shapes).image for k in range(60)}
        assert used[split] <= set(names)
    assert not used["train"] & used["test"]
    assert len(used["train"]) >= 5  # sequences visit many images


def test_saccades_follow_the_design_statistics():
    spec = StimulusSpec(seed=4, drift_speed=0.0)  # no drift: every move is a saccade
    shapes = {name: (100_000, 100_000) for name in spec.images_for("train")}  # no border reflections
    zooms, variants = [], set()
    for k in range(40):
        plan = plan_saccade_sequence(spec, "train", k, shapes)
        zooms.append(plan.zoom)
        variants.add(plan.variant)
        assert plan.gaze.shape == (80, 2)
        intervals = np.diff(np.concatenate([[0], plan.saccade_frames]))
        assert intervals.min() >= 5 and intervals.max() <= 19
        jumps = np.linalg.norm(np.diff(plan.gaze, axis=0), axis=1)
        moved = np.flatnonzero(jumps > 1e-9) + 1
        np.testing.assert_array_equal(moved, plan.saccade_frames)
        assert jumps[moved - 1].min() >= 20 - 1e-6 and jumps[moved - 1].max() <= 120 + 1e-6
    assert 0.6 <= min(zooms) and max(zooms) <= 1.6 and max(zooms) - min(zooms) > 0.5
    assert variants == set(range(8))


def test_mixed_interleaves_the_procedural_kinds_sequence_by_sequence(columns):
    u, v = columns
    frames = StimulusSpec().sequence_frames
    n = 30
    movie = stimulus_movie(StimulusSpec(kind="mixed", seed=3), u, v, "train", n * frames).reshape(n, frames, -1)
    pure = {kind: stimulus_movie(StimulusSpec(kind=kind, seed=3), u, v, "train", n * frames) for kind in MIXED_KINDS}
    used = dict.fromkeys(MIXED_KINDS, 0)
    for sequence in movie:
        # each sequence is the next unused sequence of exactly one pure kind of the same seed
        matches = [
            kind for kind in MIXED_KINDS
            if np.array_equal(sequence, pure[kind][used[kind] * frames : (used[kind] + 1) * frames])
        ]  # fmt: skip
        assert len(matches) == 1, matches
        used[matches[0]] += 1
    assert min(used.values()) >= 5, used  # all three kinds appear, about equally often


def test_flashes_are_full_field_grey_on_off(columns):
    u, v = columns
    movie = stimulus_movie(StimulusSpec(kind="flashes"), u, v, "train", 400)
    assert (movie == movie[:, :1]).all()  # the same luminance in every column
    assert set(np.unique(movie).tolist()) == {0.0, 0.5, 1.0}


def test_edges_only_ever_step_from_grey_towards_one_level(columns):
    u, v = columns
    movie = stimulus_movie(StimulusSpec(kind="edges", sequence_frames=50), u, v, "train", 50)
    deviation = np.abs(movie - 0.5)
    assert (np.diff(deviation, axis=0) >= -1e-6).all()  # a column once covered stays covered
    assert deviation[0].max() < 0.5 and deviation[-1].max() == pytest.approx(0.5)


def test_gratings_are_sinusoids_that_move(columns):
    u, v = columns
    movie = stimulus_movie(StimulusSpec(kind="gratings", contrast=0.8), u, v, "train", 80)
    assert movie.min() >= 0.1 - 1e-6 and movie.max() <= 0.9 + 1e-6
    assert np.abs(np.diff(movie, axis=0)).max() > 0.01


def test_gaze_outside_the_image_sees_the_mirrored_tiling():
    image = np.random.default_rng(5).random((30, 40)).astype(np.float32)
    u, v = hexagon(1)
    inside = sample_hex_image(image, u, v, center=(10.3, 12.7), box=5, spacing=5)
    far = sample_hex_image(image, u, v, center=(10.3 + 5 * 60, 12.7 - 3 * 80), box=5, spacing=5)
    np.testing.assert_allclose(far, inside, atol=1e-5)
    # a 4-px box centred on the top border covers rows 0, 1 and their mirror copies:
    # with only row 0 bright, 2 of its 4 rows are 1
    stripe = np.zeros((30, 40), dtype=np.float32)
    stripe[0] = 1.0
    centre = sample_hex_image(stripe, np.array([0]), np.array([0]), center=(0.0, 20.0), box=4)
    np.testing.assert_allclose(centre, [2 / 4], atol=1e-6)


def test_spec_options_must_be_lists():
    with pytest.raises(FlygnnError, match="zoom must be a list"):
        StimulusSpec(zoom=1.0)
    with pytest.raises(FlygnnError, match="train_images must be a list"):
        StimulusSpec(train_images="camera", test_images=["moon"])
    assert json.dumps(StimulusSpec(seed=np.int64(3)).to_dict())  # numpy integers are stored as int
