"""ml.video: probing, subclip planning and frame sampling, on real files decoded by the real decoder."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest

from ml.synth import generate_trailer, read_frame_index, write_index_video
from ml.video import (
    SampledSubclip,
    SamplingConfig,
    SubclipPlan,
    VideoError,
    VideoInfo,
    plan_subclips,
    probe,
    sample_frames,
    sample_trailer,
)
from tests.support.videos import run_ffmpeg

# --------------------------------------------------------------------------- planning (pure)


def spans(plan: list[SubclipPlan]) -> list[tuple[float, float]]:
    return [(p.start, p.end) for p in plan]


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (150.0, [(10, 40), (40, 70), (70, 100)]),  # the seed's case: three full subclips
        (120.0, [(10, 40), (40, 70), (70, 100)]),
        (100.0, [(10, 40), (40, 70), (70, 100)]),
        (90.0, [(10, 40), (40, 70), (70, 90)]),  # 20 s left: more than half, kept
        (85.0, [(10, 40), (40, 70)]),  # 15 s left: half, dropped
        (60.0, [(10, 40), (40, 60)]),
        (45.0, [(10, 40)]),  # 5 s left after the first: dropped
        (30.0, [(10, 30)]),
        (25.5, [(10, 25.5)]),  # 15.5 s after the offset: more than half
        (25.0, [(0, 25)]),  # 15 s after the offset is not enough, from 0 it is
        (20.0, [(0, 20)]),
        (15.5, [(0, 15.5)]),
        (15.0, [(0, 15)]),  # nothing fits anywhere: the whole video
        (5.0, [(0, 5)]),
        (1.0, [(0, 1)]),
    ],
)
def test_plan_follows_the_seed_rule_and_falls_back_for_short_videos(duration, expected):
    plan = plan_subclips(duration)
    assert spans(plan) == [(float(a), float(b)) for a, b in expected]
    assert [p.index for p in plan] == list(range(len(plan)))


def test_plan_short_videos_5_20_45_seconds():
    assert spans(plan_subclips(5)) == [(0.0, 5.0)]
    assert spans(plan_subclips(20)) == [(0.0, 20.0)]
    assert spans(plan_subclips(45)) == [(10.0, 40.0)]


@pytest.mark.parametrize("duration", [0.0, 0.4, 0.999])
def test_plan_refuses_a_video_shorter_than_the_minimum(duration):
    with pytest.raises(VideoError, match="too short") as caught:
        plan_subclips(duration)
    assert caught.value.reason == "too_short"


def test_plan_minimum_is_configurable():
    with pytest.raises(VideoError, match="minimum is 10 s"):
        plan_subclips(8.0, min_duration=10.0)
    assert spans(plan_subclips(0.5, min_duration=0.25)) == [(0.0, 0.5)]


def test_plan_with_other_parameters():
    assert spans(plan_subclips(100, n_subclips=5, subclip_duration=10, offset=0)) == [
        (0, 10), (10, 20), (20, 30), (30, 40), (40, 50)
    ]  # fmt: skip
    assert spans(plan_subclips(12.5, n_subclips=4, subclip_duration=4, offset=1)) == [(1, 5), (5, 9), (9, 12.5)]
    assert spans(plan_subclips(7.3, n_subclips=2, subclip_duration=2.5, offset=0.5)) == [(0.5, 3.0), (3.0, 5.5)]


def test_plan_invariants_over_odd_durations():
    for duration in np.arange(1.0, 400.0, 0.37):
        duration = float(duration)
        plan = plan_subclips(duration)
        assert 1 <= len(plan) <= 3
        for item in plan:
            assert 0 <= item.start < item.end <= duration + 1e-6
            assert item.duration > 15 or len(plan) == 1
        for a, b in zip(plan, plan[1:], strict=False):
            assert a.end <= b.start + 1e-9  # never overlapping
        if duration >= 40:
            assert plan[0].start == 10.0


def test_plan_rejects_bad_parameters():
    with pytest.raises(ValueError, match="n_subclips"):
        plan_subclips(100, n_subclips=0)
    with pytest.raises(ValueError, match="subclip_duration"):
        plan_subclips(100, subclip_duration=0)
    with pytest.raises(ValueError, match="offset"):
        plan_subclips(100, offset=-1)


# --------------------------------------------------------------------------- configuration


def test_sampling_config_defaults_are_the_seed_method():
    config = SamplingConfig.seed()
    assert config == SamplingConfig()
    assert (config.n_subclips, config.subclip_duration, config.offset) == (3, 30.0, 10.0)
    assert (config.frame_step, config.frames_per_subclip, config.size, config.fast) == (45, None, 224, False)


def test_sampling_config_round_trips_through_json():
    for config in (SamplingConfig(), SamplingConfig(frames_per_subclip=16, size=112, offset=0.0, fast=True)):
        assert SamplingConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_sampling_config_frames_per_subclip_replaces_the_default_step():
    config = SamplingConfig(frames_per_subclip=16)
    assert config.frame_step is None and config.to_dict()["frame_step"] is None
    with pytest.raises(ValueError, match="not both"):
        SamplingConfig(frame_step=10, frames_per_subclip=16)
    with pytest.raises(ValueError, match="frame_step or frames_per_subclip"):
        SamplingConfig(frame_step=None)


@pytest.mark.parametrize("make", [lambda: SamplingConfig(frame_step=45, frames_per_subclip=10),
                                  lambda: SamplingConfig.from_dict({"frame_step": 45, "frames_per_subclip": 10})])
def test_sampling_config_refuses_a_step_of_45_beside_frames_per_subclip_like_any_other(make):
    with pytest.raises(ValueError, match="frame_step and frames_per_subclip: set one of them, not both"):
        make()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_subclips", 0),
        ("n_subclips", 1.5),
        ("subclip_duration", 0),
        ("offset", -1.0),
        ("min_duration", float("nan")),
        ("frame_step", 0),
        ("frames_per_subclip", -3),
        ("size", 4),
        ("size", True),
        ("fast", "yes"),
    ],
)
def test_sampling_config_names_the_bad_field(field, value):
    with pytest.raises(ValueError, match=field):
        SamplingConfig(**{field: value})


def test_sampling_config_from_dict_rejects_unknown_settings():
    with pytest.raises(ValueError, match="colour"):
        SamplingConfig.from_dict({"colour": "red"})


# --------------------------------------------------------------------------- probing


def test_probe_describes_the_file(index_video):
    path, _ = index_video(".mp4", audio=True)
    info = probe(path)
    assert isinstance(info, VideoInfo)
    assert info.duration == pytest.approx(6.0, abs=0.05)
    assert info.fps == pytest.approx(24.0)
    assert (info.width, info.height, info.rotation) == (160, 120, 0)
    assert info.codec == "h264"
    assert "mp4" in info.container
    assert info.has_audio is True
    assert info.size_bytes == path.stat().st_size
    assert json.loads(json.dumps(info.to_dict()))["width"] == 160


@pytest.mark.parametrize(("suffix", "codec"), [(".webm", "vp9"), (".avi", "mpeg4"), (".mkv", "h264")])
def test_probe_other_containers_without_audio(index_video, suffix, codec):
    info = probe(index_video(suffix)[0])
    assert info.codec == codec
    assert info.has_audio is False
    assert info.duration == pytest.approx(6.0, abs=0.15)


@pytest.mark.parametrize("suffix", [".mkv", ".webm", ".mp4"])
def test_audio_that_runs_on_past_the_picture_is_not_the_video_s_length(tmp_path, suffix):
    """Matroska and WebM give no duration per stream, and their container's is the audio's when it runs on: the
    subclips were planned past the picture's end, where they found no frames (the file then looked cut short)."""
    path = tmp_path / f"long-audio{suffix}"
    times = write_index_video(path, n_frames=96, fps=24, audio=True, audio_seconds=12.0)  # 4 s of picture
    with av.open(str(path)) as container:
        assert container.duration / av.time_base > 11.5  # what the container says
    assert probe(path).duration == pytest.approx(4.0, abs=0.05)
    info, sampled = sample_trailer(path, SamplingConfig(n_subclips=1, subclip_duration=30, offset=0,
                                                        frames_per_subclip=8, size=32))
    assert info.duration == pytest.approx(4.0, abs=0.05)
    check_frames(sampled, times, [[k * info.duration / 8 for k in range(8)]], exact=False)
    # A plan past its picture (asked for by hand): no frames, and not "cut short": the audio's data goes on.
    with pytest.raises(VideoError, match="has no decodable frames") as caught:
        sample_frames(path, [SubclipPlan(0, 6.0, 4.0)], frames_per_subclip=4, size=32)
    assert caught.value.reason == "no_frames"


# --------------------------------------------------------------------------- frame accuracy


def nearest_index(times: list[float], wanted: float) -> int:
    return int(np.argmin(np.abs(np.asarray(times) - wanted)))


def check_frames(sampled: list[SampledSubclip], times: list[float], wanted_per_subclip, *, exact: bool) -> None:
    assert len(sampled) == len(wanted_per_subclip)
    for sub, wanted in zip(sampled, wanted_per_subclip, strict=True):
        assert sub.frames.dtype == np.uint8 and sub.frames.ndim == 4 and sub.frames.shape[-1] == 3
        assert len(sub.frames) == len(wanted) == len(sub.timestamps)
        painted = [read_frame_index(frame) for frame in sub.frames]
        expected = [nearest_index(times, w) for w in wanted]
        if exact:
            assert painted == expected
        else:
            assert max(abs(a - b) for a, b in zip(painted, expected, strict=True)) <= 1, (painted, expected)
        # The reported timestamps are those of the frames actually kept.
        assert sub.timestamps == pytest.approx([times[i] for i in painted], abs=1e-3)


CONTAINERS = [
    pytest.param(".mp4", None, id="mp4-h264"),
    pytest.param(".mkv", None, id="mkv-h264"),
    pytest.param(".webm", None, id="webm-vp9"),
    pytest.param(".webm", "libvpx", id="webm-vp8"),
    pytest.param(".avi", None, id="avi-mpeg4"),
    pytest.param(".flv", None, id="flv-h264"),
    pytest.param(".flv", "flv", id="flv-sorenson"),
    pytest.param(".ts", None, id="mpegts-h264"),
    pytest.param(".mov", None, id="mov-h264"),
]


@pytest.mark.parametrize(("suffix", "codec"), CONTAINERS)
def test_every_nth_frame_is_exactly_the_planned_frame(index_video, suffix, codec):
    path, times = index_video(suffix, codec=codec)
    plan = plan_subclips(6.0, n_subclips=2, subclip_duration=2.5, offset=0.5)
    sampled = sample_frames(path, plan, frame_step=7, size=64)
    # Subclip frames 0, 7, 14, … at 24 fps, as the seed kept frames 0, 45, 90, …
    wanted = [[p.start + k * 7 / 24 for k in range(-(-round(p.duration * 24) // 7))] for p in plan]
    check_frames(sampled, times, wanted, exact=True)
    assert sampled[0].frame_indices[:3] == [12, 19, 26]


@pytest.mark.parametrize(("suffix", "codec"), CONTAINERS)
def test_frames_per_subclip_are_evenly_spaced_in_time(index_video, suffix, codec):
    path, times = index_video(suffix, codec=codec)
    plan = plan_subclips(6.0, n_subclips=2, subclip_duration=2.5, offset=0.5)
    sampled = sample_frames(path, plan, frames_per_subclip=5, size=32)
    wanted = [[p.start + k * p.duration / 5 for k in range(5)] for p in plan]
    check_frames(sampled, times, wanted, exact=True)
    assert all(sub.frames.shape == (5, 32, 32, 3) for sub in sampled)


@pytest.mark.parametrize(("suffix", "codec"), CONTAINERS)
def test_frames_up_to_the_last_one(index_video, suffix, codec):
    path, times = index_video(suffix, codec=codec)
    plan = [SubclipPlan(0, 4.0, 2.0)]  # ends at the last frame, 6 s in
    sampled = sample_frames(path, plan, frames_per_subclip=8, size=32)
    check_frames(sampled, times, [[4.0 + k * 0.25 for k in range(8)]], exact=True)


def test_sixty_fps(index_video):
    path, times = index_video(".mp4", seconds=4.0, fps=60)
    plan = plan_subclips(4.0, n_subclips=1, subclip_duration=3.0, offset=0.5)
    check_frames(sample_frames(path, plan, frame_step=45, size=32), times, [[0.5, 1.25, 2.0, 2.75]], exact=True)
    check_frames(sample_frames(path, plan, frames_per_subclip=4, size=32), times, [[0.5, 1.25, 2.0, 2.75]],
                 exact=True)


def test_frames_per_subclip_gives_the_same_count_whatever_the_frame_rate(index_video):
    counts = set()
    for fps in (24, 30, 60):
        path, _ = index_video(".mp4", seconds=3.0, fps=fps, width=64, height=48)
        sampled = sample_frames(path, plan_subclips(3.0, offset=0), frames_per_subclip=6, size=32)
        counts.add(len(sampled[0].frames))
    assert counts == {6}


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_variable_frame_rate_samples_by_time(index_video, suffix):
    path, times = index_video(suffix, seconds=6.0, fps=30, vfr=True)
    info = probe(path)
    plan = plan_subclips(info.duration, n_subclips=2, subclip_duration=2.0, offset=0.5)
    sampled = sample_frames(path, plan, frames_per_subclip=8, size=32)
    wanted = [[p.start + k * p.duration / 8 for k in range(8)] for p in plan]
    check_frames(sampled, times, wanted, exact=False)
    stepped = sample_frames(path, plan, frame_step=10, size=32)
    wanted = [[p.start + k * 10 / info.fps for k in range(len(s.frames))] for p, s in zip(plan, stepped, strict=True)]
    check_frames(stepped, times, wanted, exact=False)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".ts"])
def test_worker_threads_and_short_gops_do_not_change_the_frames(index_video, suffix):
    path, times = index_video(suffix, gop=6)  # a keyframe every quarter second: many independent runs
    plan = plan_subclips(6.0, n_subclips=2, subclip_duration=2.5, offset=0.5)
    one = sample_frames(path, plan, frame_step=5, size=32, workers=1)
    three = sample_frames(path, plan, frame_step=5, size=32, workers=3)
    wanted = [[p.start + k * 5 / 24 for k in range(-(-round(p.duration * 24) // 5))] for p in plan]
    check_frames(one, times, wanted, exact=True)
    for a, b in zip(one, three, strict=True):
        assert np.array_equal(a.frames, b.frames)
        assert a.timestamps == b.timestamps


def test_fast_mode_takes_the_nearest_keyframe(index_video):
    path, times = index_video(".mp4", gop=24)  # a keyframe every second
    plan = plan_subclips(6.0, n_subclips=2, subclip_duration=2.5, offset=0.5)
    exact = sample_frames(path, plan, frame_step=7, size=32)
    fast = sample_frames(path, plan, frame_step=7, size=32, fast=True)
    for a, b in zip(exact, fast, strict=True):
        assert len(a.frames) == len(b.frames)
        painted = [read_frame_index(f) for f in b.frames]
        wanted = [round(t * 24) for t in a.timestamps]
        assert all(i % 24 == 0 for i in painted)  # keyframes only
        assert all(abs(i - w) <= 12 for i, w in zip(painted, wanted, strict=True))  # the nearest one


def test_output_is_the_seed_resize_and_center_crop():
    # 160×120 → shorter side 255 → 340×255 → center 224×224.
    from ml.video import resized_shape

    assert resized_shape(160, 120, 224) == (340, 255)
    assert resized_shape(1920, 1080, 224) == (453, 255)
    assert resized_shape(1080, 1920, 112) == (128, 227)


def test_sampled_picture_matches_a_plain_full_decode(index_video):
    """The kept frame is the same picture a plain decode of the whole file gives, resized as the seed did."""
    from PIL import Image

    path, _ = index_video(".mp4")
    sampled = sample_frames(path, [SubclipPlan(0, 2.0, 1.0)], frame_step=100, size=224)[0]
    with av.open(str(path)) as container:
        reference = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)][48]
    image = Image.fromarray(reference).resize((340, 255), Image.BILINEAR)
    top, left = round((255 - 224) / 2), round((340 - 224) / 2)
    expected = np.asarray(image)[top : top + 224, left : left + 224].astype(np.float32)
    assert np.abs(sampled.frames[0].astype(np.float32) - expected).mean() < 4


# --------------------------------------------------------------------------- rotation


@pytest.mark.parametrize("ccw", [90, 180, 270])
def test_rotated_phone_video_comes_out_upright(tmp_path, ffmpeg, ccw):
    # An asymmetric picture: a red block at the top left, a blue one at the bottom.
    width, height = 96, 64
    source = tmp_path / "flat.mp4"
    picture = np.full((height, width, 3), 90, np.uint8)
    picture[:20, :30] = (230, 30, 30)
    picture[-16:, :] = (30, 30, 230)
    with av.open(str(source), "w") as out:
        stream = out.add_stream("libx264", rate=24, options={"crf": "10"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(24):
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    rotated = tmp_path / f"rotated-{ccw}.mp4"
    run_ffmpeg(ffmpeg, "-display_rotation", str(ccw), "-i", str(source), "-c", "copy", str(rotated))

    info = probe(rotated)
    assert info.rotation == (360 - ccw) % 360  # clockwise, as phones' `rotate` tag
    assert (info.width, info.height) == ((height, width) if ccw in (90, 270) else (width, height))

    # FFmpeg's own player-side autorotation is the reference picture.
    raw = subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(rotated), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout  # fmt: skip
    upright = np.frombuffer(raw, np.uint8).reshape(info.height, info.width, 3).astype(np.float32)

    full = sample_frames(rotated, [SubclipPlan(0, 0.0, 1.0)], frames_per_subclip=1, size=None)[0].frames
    assert full.shape == (1, info.height, info.width, 3)
    assert np.abs(full[0].astype(np.float32) - upright).mean() < 6
    assert np.abs(np.rot90(full[0], 1).astype(np.float32) - np.rot90(upright, 1)).mean() < 6  # sanity

    cropped = sample_frames(rotated, [SubclipPlan(0, 0.0, 1.0)], frames_per_subclip=1, size=48)[0].frames
    assert cropped.shape == (1, 48, 48, 3)


def test_rotation_written_by_pyav_is_read_back(tmp_path):
    path = tmp_path / "rot.mp4"
    write_index_video(path, n_frames=24, width=96, height=64, rotation=90)
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (64, 96, 270)


# --------------------------------------------------------------------------- short videos, end to end


def test_five_second_video_gives_one_subclip_of_the_whole_video(index_video):
    path, times = index_video(".mp4", seconds=5.0, width=64, height=48)
    info, sampled = sample_trailer(path, SamplingConfig(size=32))
    assert [(s.plan.start, s.plan.end) for s in sampled] == [(0.0, pytest.approx(info.duration))]
    assert [read_frame_index(f) for f in sampled[0].frames] == [0, 45, 90]  # the seed's every 45th frame


def test_forty_five_second_video_gives_the_planned_subclip(index_video):
    path, times = index_video(".mkv", seconds=45.0, fps=8, width=64, height=48)
    info, sampled = sample_trailer(path, SamplingConfig(size=32, frame_step=40))
    assert [(s.plan.start, s.plan.end) for s in sampled] == [(10.0, 40.0)]
    assert [read_frame_index(f) for f in sampled[0].frames] == [80, 120, 160, 200, 240, 280]


def test_sample_trailer_refuses_a_video_below_the_minimum(index_video):
    path, _ = index_video(".mp4", seconds=1.0, width=64, height=48)
    with pytest.raises(VideoError, match="too short"):
        sample_trailer(path, SamplingConfig(min_duration=2.0, size=32))


# --------------------------------------------------------------------------- bad files


def assert_refused(path, reason: str, words: str, **kwargs):
    with pytest.raises(VideoError, match=words) as caught:
        probe(path, **kwargs)
    assert caught.value.reason == reason
    assert path.name in str(caught.value)
    return caught.value


def test_missing_file(tmp_path):
    assert_refused(tmp_path / "nowhere.mp4", "missing", "does not exist")


def test_a_folder_is_not_a_file(tmp_path):
    (tmp_path / "folder.mp4").mkdir()
    assert_refused(tmp_path / "folder.mp4", "missing", "not a file")


def test_empty_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert_refused(tmp_path / "empty.mp4", "empty", "empty")


def test_text_file_renamed_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("These are my notes about the trailer, not a trailer.\n" * 20)
    assert_refused(path, "not_media", "not a media file")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.mkv"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    assert_refused(path, "not_media", "not a media file")


def test_truncated_mp4(tmp_path, index_video):
    source, _ = index_video(".mp4")
    path = tmp_path / "truncated.mp4"
    path.write_bytes(source.read_bytes()[: source.stat().st_size // 2])  # the index (moov) is at the end
    assert_refused(path, "not_media", "damaged")


def test_a_file_cut_short_with_its_index_first_is_refused_where_its_picture_ends(tmp_path, ffmpeg, index_video):
    source, _ = index_video(".mp4", seconds=6.0)
    faststart = tmp_path / "faststart.mp4"
    run_ffmpeg(ffmpeg, "-i", str(source), "-c", "copy", "-movflags", "+faststart", str(faststart))
    path = tmp_path / "cut.mp4"
    path.write_bytes(faststart.read_bytes()[: faststart.stat().st_size // 3])
    assert probe(path).duration == pytest.approx(6.0)  # its header and first frames are intact: the whole length
    # A subclip that gets under half its frames, rather than sampled from the file's first seconds alone...
    with pytest.raises(VideoError, match=r"cut\.mp4: the last frame found is at \d\.\d s, and subclip 1 \(1\.0–5\.0 s\) "
                                         r"got \d of its 8 frames: the file looks cut short") as caught:
        sample_frames(path, [SubclipPlan(0, 1.0, 4.0)], frames_per_subclip=8, size=32)
    assert caught.value.reason == "cut_short"
    # ...or none, after one that got its own.
    with pytest.raises(VideoError, match=r"the last frame found is at \d\.\d s, and subclip 2 \(4\.5–5\.5 s\) got 0 "
                                         r"of its 4 frames: the file looks cut short") as caught:
        sample_frames(path, [SubclipPlan(0, 0.5, 1.0), SubclipPlan(1, 4.5, 1.0)], frame_step=6, size=32)
    assert caught.value.reason == "cut_short"
    # ...or cut before the first subclip starts, so that no subclip got any: where its picture's packets stop.
    with pytest.raises(VideoError, match=r"its picture stops at \d\.\d s, and subclip 1 \(4\.5–5\.5 s\) got 0 "
                                         r"of its 4 frames: the file looks cut short") as caught:
        sample_frames(path, [SubclipPlan(0, 4.5, 1.0)], frames_per_subclip=4, size=32)
    assert caught.value.reason == "cut_short"
    assert caught.value.naming("my trailer.mp4").startswith("my trailer.mp4: its picture stops")  # as people know it
    # The whole file gives every frame of the same plan.
    assert len(sample_frames(faststart, [SubclipPlan(0, 1.0, 4.0)], frames_per_subclip=8, size=32)[0].frames) == 8


def test_audio_only_file(tmp_path, ffmpeg):
    path = tmp_path / "song.mp4"
    run_ffmpeg(ffmpeg, "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(path))
    error = assert_refused(path, "no_video", "no video stream")
    assert "audio" in str(error)


def test_stream_that_does_not_decode(tmp_path):
    # A well-formed Matroska file whose Motion-JPEG packets are noise.
    path = tmp_path / "garbage.mkv"
    rng = np.random.default_rng(5)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for i in range(24):
            packet = av.Packet(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, i, i, Fraction(1, 24)
            packet.is_keyframe = True
            out.mux(packet)
    assert_refused(path, "undecodable", "does not decode|no decodable frame")


def test_still_picture_has_no_duration(tmp_path):
    from PIL import Image

    path = tmp_path / "poster.mp4"
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(path, format="PNG")
    assert_refused(path, "no_duration", "no duration")


def test_resolution_above_the_limit(index_video):
    path, _ = index_video(".mp4")
    assert_refused(path, "too_large", r"160×120 is above the limit \(100 pixels a side", max_side=100)
    assert_refused(path, "too_large", "above the limit", max_side=None, max_pixels=160 * 120 - 1)
    assert probe(path, max_side=160, max_pixels=160 * 120).width == 160


def test_subclip_past_the_end_has_no_frames(index_video):
    path, _ = index_video(".mp4")
    with pytest.raises(VideoError, match=r"subclip 1 \(100.0–130.0 s\) has no decodable frames") as caught:
        sample_frames(path, [SubclipPlan(0, 100.0, 30.0)], size=32)
    assert caught.value.reason == "no_frames"


def test_sample_frames_checks_its_arguments(index_video):
    path, _ = index_video(".mp4")
    with pytest.raises(ValueError, match="not both"):
        sample_frames(path, plan_subclips(6.0), frame_step=3, frames_per_subclip=4)
    with pytest.raises(VideoError, match="does not exist"):
        sample_frames(path.with_name("gone.mp4"), plan_subclips(6.0))


def test_an_empty_plan_samples_nothing(index_video):
    path, _ = index_video(".mp4")
    assert sample_frames(path, []) == []


@pytest.mark.parametrize("name", ["Alien:Covenant.mkv", "file:x.webm"])
def test_a_colon_in_the_file_name_is_no_protocol(tmp_path, monkeypatch, name):
    # FFmpeg takes the text before a colon for a protocol; opened by a bare relative name, the file must still be found.
    monkeypatch.chdir(tmp_path)
    generate_trailer(name, seed=3, duration=1.5, width=64, height=48)
    info = probe(name)
    assert (info.width, info.height, info.duration) == (64, 48, pytest.approx(1.5, abs=0.05))
    sampled = sample_frames(name, plan_subclips(info.duration), frames_per_subclip=2, size=32)
    assert [s.frames.shape for s in sampled] == [(2, 32, 32, 3)]


# --------------------------------------------------------------------------- storage


def test_sampled_frames_store_as_memory_mapped_npy_and_a_contact_sheet(tmp_path, index_video):
    from PIL import Image

    from ml.frames import load_frames, save_frames, write_contact_sheet

    path, _ = index_video(".mp4")
    sub = sample_frames(path, [SubclipPlan(0, 0.5, 5.0)], frame_step=12, size=64)[0]
    stored = load_frames(save_frames(sub.frames, tmp_path / "0.npy"))
    assert isinstance(stored, np.memmap) and np.array_equal(stored, sub.frames)
    sheet = write_contact_sheet(sub.frames, tmp_path / "0.jpg", columns=5)
    with Image.open(sheet) as image:
        assert image.format == "JPEG"
        assert image.width > image.height > 0  # 10 frames: two rows of five


def test_snippets_are_consecutive_frames_at_each_point(index_video):
    path, times = index_video(".mp4")
    plan = plan_subclips(6.0, n_subclips=2, subclip_duration=2.5, offset=0.5)
    sampled = sample_frames(path, plan, frames_per_subclip=4, size=32, snippet_frames=3)
    for sub in sampled:
        assert sub.frames.shape == (12, 32, 32, 3)
        indices = sub.frame_indices
        for point in range(4):  # each snippet is one frame and the two right after it
            first = indices[point * 3]
            assert indices[point * 3: point * 3 + 3] == [first, first + 1, first + 2]
    seed = SamplingConfig()
    assert seed.snippet_frames == 1 and SamplingConfig.from_dict(seed.to_dict()) == seed


@pytest.mark.parametrize("fps", [25, 50])
def test_a_point_halfway_between_two_frames_still_gets_two_frames(index_video, fps):
    """The web app's sampling of a 101 s trailer: points such as 32.5 s fall halfway between two frames at 25 fps,
    and both of a snippet's times were rounded to one frame (no motion in 1 of 48 snippets; 7 of 48 at 50 fps)."""
    path, _ = index_video(".mp4", fps=fps, seconds=101, width=64, height=48)
    for sub in sample_frames(path, plan_subclips(101.0), frames_per_subclip=16, size=None, snippet_frames=2):
        shown = [read_frame_index(frame) for frame in sub.frames]  # the frame number painted on each
        assert [shown[i + 1] - shown[i] for i in range(0, len(shown), 2)] == [1] * 16, sub.plan
        assert shown == sub.frame_indices
    with pytest.raises(ValueError, match="snippet_frames must be at most 16"):
        SamplingConfig(snippet_frames=17)


@pytest.mark.parametrize(("name", "text"), [
    ("notes.txt", "Scene 1. A chase across the rooftops, then the title card.\n" * 6000),  # FFmpeg drew it: 58 s
    ("readme.txt", "short\n" * 400),
    ("art.ans", "\x1b[31mred\x1b[0m text\n" * 3000),
    ("list.ffconcat", "ffconcat version 1.0\nfile other.mp4\n"),  # names another file to play in its place
    ("list.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/seg.ts\n#EXT-X-ENDLIST\n"),
])
def test_text_and_lists_of_other_files_are_no_video(tmp_path, index_video, name, text):
    if name == "list.ffconcat":  # the file it names is there: still refused, and never read
        source, _ = index_video(".mp4")
        (tmp_path / "other.mp4").write_bytes(source.read_bytes())
    path = tmp_path / name
    path.write_text(text)
    assert_refused(path, "not_media", "not a video file")


def test_a_file_damaged_in_the_middle_is_refused_rather_than_sampled_with_other_moments_frames(tmp_path, index_video):
    source, _ = index_video(".mp4", seconds=12.0, gop=12)
    data = bytearray(source.read_bytes())  # the index (moov) is at the end: it still lists every picture
    rng = np.random.default_rng(0)
    start, stop = int(len(data) * 0.4), int(len(data) * 0.6)
    data[start:stop] = rng.integers(0, 256, stop - start, dtype=np.uint8).tobytes()
    path = tmp_path / "garbled.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(VideoError, match=r"garbled\.mp4: subclip 1 \(1\.0–11\.0 s\): no frame decodes near \d+\.\d s, "
                                         r"though the file has pictures there .*: it looks damaged") as caught:
        sample_frames(path, [SubclipPlan(0, 1.0, 10.0)], frames_per_subclip=20, size=32)
    assert caught.value.reason == "damaged"
    # Its undamaged start is sampled as before.
    assert len(sample_frames(path, [SubclipPlan(0, 0.2, 2.0)], frames_per_subclip=8, size=32)[0].frames) == 8


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm"])
def test_a_frame_held_on_screen_for_seconds_is_no_damage(tmp_path, suffix):
    times = [round(i / 24, 3) for i in range(48)] + [round(4.0 + i / 24, 3) for i in range(48)]  # held 2 s after 2 s
    path = tmp_path / f"held{suffix}"
    write_index_video(path, n_frames=len(times), fps=24, width=96, height=64, frame_times=times)
    got = sample_frames(path, [SubclipPlan(0, 0.5, 5.0)], frames_per_subclip=11, size=32)[0]
    assert len(got.frames) == 11 and any(1.9 < t < 2.0 for t in got.timestamps)


def test_a_picture_of_extreme_shape_is_cropped_before_it_is_scaled(tmp_path):
    import sys

    path = tmp_path / "thin.mp4"
    write_index_video(path, n_frames=12, fps=24, width=2, height=4000)
    # The child's own peak (VmHWM, its memory's high-water mark since it started): getrusage's would include the
    # parent's, which a fork carries over to the child and exec does not clear.
    script = ("import re, sys; from ml.video import SubclipPlan, sample_frames; "
              "f = sample_frames(sys.argv[1], [SubclipPlan(0, 0.0, 0.5)], frames_per_subclip=4, size=224)[0].frames; "
              "hwm = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1); "
              "print(f.shape, int(hwm) // 1024)")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    shape, peak_mb = done.stdout.strip().rsplit(" ", 1)
    assert shape == "(4, 224, 224, 3)", done.stderr
    assert int(peak_mb) < 300  # scaled whole first, each frame was 255 × 510,000 pixels: about 770 MB at its peak


def test_an_mpeg_ts_cut_between_keyframes_is_sampled_from_its_first_frame_that_decodes(tmp_path, index_video):
    source, _ = index_video(".ts", seconds=6.0, gop=48)
    data = source.read_bytes()
    cut = 188 * (len(data) // 188 // 20)  # a recording or stream that starts mid-GOP: its first frames never decode
    path = tmp_path / "cut.ts"
    path.write_bytes(data[cut:])
    got = sample_frames(path, [SubclipPlan(0, 0.0, 4.0)], frames_per_subclip=8, size=32)[0]
    assert len(got.frames) == 8  # no damage: nothing before the first keyframe can decode
