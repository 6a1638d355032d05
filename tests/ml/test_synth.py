"""ml.synth: synthetic trailers are deterministic, decodable in every container, and hide a usable rating."""

from __future__ import annotations

import colorsys
import csv

import av
import numpy as np
import pytest

from ml.synth import (
    CONTAINERS,
    generate_dataset,
    generate_trailer,
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
