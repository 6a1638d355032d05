"""ml.transcode: which trailers browsers cannot play, and the MP4 copy made for them."""

from __future__ import annotations

import av
import pytest

from ml.synth import CONTAINERS, generate_trailer, read_frame_index, write_index_video
from ml.transcode import needs_browser_copy, write_browser_copy
from ml.video import VideoError, probe

PLAYED_AS_THEY_ARE = {".mp4", ".mov", ".webm"}


@pytest.mark.parametrize("suffix", sorted(CONTAINERS))
@pytest.mark.parametrize("audio", [False, True])
def test_only_formats_browsers_cannot_play_need_a_copy(tmp_path, suffix, audio):
    trailer = generate_trailer(tmp_path / f"t{suffix}", seed=1, duration=1.0, fps=12, width=64, height=48,
                               audio=audio)
    assert needs_browser_copy(trailer.path) == (suffix not in PLAYED_AS_THEY_ARE)


@pytest.mark.parametrize("suffix", [".avi", ".ts", ".mkv", ".flv"])
def test_the_copy_is_an_mp4_browsers_play_with_every_frame_in_order(tmp_path, suffix):
    source = tmp_path / f"index{suffix}"
    write_index_video(source, n_frames=24, fps=12, width=160, height=120, audio=True)
    copy = write_browser_copy(source, tmp_path / "copy.mp4")
    assert not needs_browser_copy(copy)
    info = probe(copy)
    assert (info.codec, info.width, info.height, info.has_audio) == ("h264", 160, 120, True)
    assert info.duration == pytest.approx(24 / 12, abs=0.1)
    with av.open(str(copy)) as container:
        indices = [read_frame_index(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    assert indices == list(range(24))


def test_a_large_or_turned_trailer_is_scaled_down_and_stays_turned(tmp_path):
    large = tmp_path / "large.mkv"
    write_index_video(large, n_frames=4, fps=12, width=1920, height=1080)
    scaled = probe(write_browser_copy(large, tmp_path / "large.mp4"))
    assert (scaled.width, scaled.height) == (854, 480)
    phone = tmp_path / "phone.mkv"
    write_index_video(phone, n_frames=4, fps=12, width=160, height=96, rotation=90)
    before, after = probe(phone), probe(write_browser_copy(phone, tmp_path / "phone.mp4"))
    assert (after.rotation, after.width, after.height) == (before.rotation, before.width, before.height)
    assert after.height > after.width  # shown upright, as on the phone


def test_a_file_that_is_no_video_leaves_nothing_behind(tmp_path):
    notes = tmp_path / "notes.avi"
    notes.write_text("not a video")
    with pytest.raises(VideoError):
        write_browser_copy(notes, tmp_path / "out" / "copy.mp4")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_copy_that_fails_midway_leaves_no_partial_file(tmp_path, monkeypatch):
    source = tmp_path / "index.ts"
    write_index_video(source, n_frames=12, fps=12, width=64, height=48)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ml.transcode._encode_video", broken)
    with pytest.raises(OSError, match="No space"):
        write_browser_copy(source, tmp_path / "copy.mp4")
    assert [p.name for p in tmp_path.iterdir()] == ["index.ts"]  # the source alone: no copy, no temporary file
