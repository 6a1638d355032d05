"""Trailer video: probing, subclip planning and frame sampling.

The method Reelscore comes from prepares a trailer like this: cut 3
non-overlapping subclips of 30 s starting 10 s in (skipping studio logos), drop
a subclip that comes out at half its length or less, keep every 45th frame of
each subclip, resize the shorter side to 255 and center-crop 224×224, RGB.
The original wrote every subclip to a new file with ffmpeg and decoded every
frame of it with OpenCV. Here the same frames come straight out of the
trailer: PyAV seeks to the keyframe before each run of wanted frames, the
decoder skips the non-reference frames that nobody asked for, runs that start
at different keyframes are decoded side by side on worker threads, and only
the kept frames are converted and resized.

Public names (other code and outside checks rely on them): :class:`VideoError`,
:class:`VideoInfo`, :func:`probe`, :class:`SamplingConfig`,
:class:`SubclipPlan`, :func:`plan_subclips`, :class:`SampledSubclip`,
:func:`sample_frames` and :func:`sample_trailer`.

Times are in seconds from the first video frame of the file.
"""

from __future__ import annotations

import bisect
import math
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from ml.config import Option, SamplingConfig, check_value, options
from ml.files import media_url

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_SIDE",
    "SampledSubclip",
    "SamplingConfig",
    "SubclipPlan",
    "VideoError",
    "VideoInfo",
    "plan_subclips",
    "probe",
    "resized_shape",
    "sample_frames",
    "sample_trailer",
]

#: Largest accepted width or height (as displayed); 8K UHD.
DEFAULT_MAX_SIDE = 7680
#: Largest accepted number of pixels per frame; 8K UHD.
DEFAULT_MAX_PIXELS = 7680 * 4320

#: The seed resized the shorter side to 255 before a 224 center crop.
_SEED_RESIZE_RATIO = Fraction(255, 224)
#: Within this many frame periods of a wanted time every frame is decoded,
#: so the nearest frame is never one the decoder skipped.
_DECODE_WINDOW_FRAMES = 2.0
#: Seek forward instead of decoding on when the next wanted frame has a
#: keyframe at least this many seconds past the decoder's position.
_SEEK_AHEAD_S = 0.5
#: Rounding allowance when comparing times computed two ways, in seconds.
_TIME_SLACK = 1e-6
#: Demuxers whose keyframe index comes from the file (MP4/MOV sample tables,
#: Matroska cues, AVI idx1) and can be trusted to plan seeks.
_INDEXED_FORMATS = frozenset({"mov", "mp4", "matroska", "webm", "avi"})
#: Most decoding threads one call starts.
_MAX_WORKERS = 4
#: Give up stepping back after an overshooting seek once this far before the start.
_MAX_BACKOFF_S = 60.0


class VideoError(Exception):
    """A file that cannot serve as a trailer; the message says why in plain words.

    ``reason`` is a short stable code for programs (``missing``, ``empty``,
    ``not_media``, ``no_video``, ``undecodable``, ``no_duration``,
    ``too_large``, ``too_short``, ``no_frames``); the message is for people.
    """

    def __init__(self, message: str, *, reason: str = "invalid", path: str | os.PathLike | None = None):
        super().__init__(message)
        self.reason = reason
        self.path = None if path is None else str(path)


# --------------------------------------------------------------------------- probing


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learned about a trailer file.

    ``width`` and ``height`` are as displayed: rotation metadata and
    non-square pixels are applied. ``rotation`` is how many degrees clockwise
    the stored frames are turned for display (0, 90, 180 or 270), the
    convention of the ``rotate`` tag phones write. ``fps`` is the average frame
    rate; ``container`` is FFmpeg's name for the format.
    """

    duration: float
    fps: float
    width: int
    height: int
    rotation: int
    codec: str
    container: str
    has_audio: bool
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Geometry:
    """How stored frames map to displayed frames."""

    coded_width: int
    coded_height: int
    display_width: int
    display_height: int
    quarter_turns: int  # np.rot90 count (counter-clockwise) that makes a stored frame upright


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(media_url(path), mode="r", metadata_errors="ignore")
    except av.error.FileNotFoundError as exc:
        raise VideoError(f"{path.name}: the file does not exist", reason="missing", path=path) from exc
    except av.error.PermissionError as exc:
        raise VideoError(f"{path.name}: the file cannot be read (permission denied)", reason="missing", path=path) from exc
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(
            f"{path.name}: not a media file, or a damaged one: FFmpeg could not read it ({_ffmpeg_words(exc)})",
            reason="not_media",
            path=path,
        ) from exc


def _ffmpeg_words(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().rstrip(".") or type(exc).__name__


def _check_file(path: Path) -> int:
    if not path.exists():
        raise VideoError(f"{path.name}: the file does not exist", reason="missing", path=path)
    if not path.is_file():
        raise VideoError(f"{path.name}: not a file", reason="missing", path=path)
    size = path.stat().st_size
    if size == 0:
        raise VideoError(f"{path.name}: the file is empty (0 bytes)", reason="empty", path=path)
    return size


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    cover = av.stream.Disposition.attached_pic
    streams = [s for s in container.streams.video if not (s.disposition & cover)]
    if not streams:
        kinds = sorted({"a cover picture" if s.disposition & cover else s.type for s in container.streams})
        kinds = kinds or ["nothing"]
        raise VideoError(
            f"{path.name}: has no video stream (it holds {', '.join(kinds)})", reason="no_video", path=path
        )
    stream = streams[0]
    if stream.codec_context is None:
        raise VideoError(
            f"{path.name}: the video stream's codec is not supported (no decoder for it)",
            reason="undecodable",
            path=path,
        )
    return stream


def _stream_start(stream: av.video.stream.VideoStream) -> int:
    return stream.start_time if stream.start_time is not None else 0


def _frame_rate(stream: av.video.stream.VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and rate > 0 and math.isfinite(float(rate)):
            return float(rate)
    return None


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration and stream.duration > 0 and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    return None


def _duration_from_packets(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    """Duration by reading (not decoding) every packet, for files whose header has none."""
    first = last = None
    count = 0
    for packet in container.demux(stream):
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None:
            continue
        count += 1
        end = ts + (packet.duration or 0)
        first = ts if first is None else min(first, ts)
        last = end if last is None else max(last, end)
    if count < 2 or first is None or last is None:
        return 0.0
    return float((last - first) * stream.time_base)


def _rotation_of(frame: av.VideoFrame) -> int:
    """Clockwise display rotation in {0, 90, 180, 270} from the frame's display matrix."""
    try:
        ccw = frame.rotation
    except Exception:  # pragma: no cover - side data unreadable
        return 0
    if not ccw or not math.isfinite(ccw):
        return 0
    return int(round(-ccw / 90.0)) % 4 * 90


def _geometry(frame: av.VideoFrame, stream: av.video.stream.VideoStream, rotation: int) -> _Geometry:
    width, height = frame.width, frame.height
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    display_width = width
    if sar and sar > 0 and sar != 1:
        display_width = max(1, int(round(width * float(sar))))
    quarter_turns = (-rotation // 90) % 4  # clockwise display turn → counter-clockwise np.rot90 count
    if quarter_turns % 2:
        return _Geometry(width, height, height, display_width, quarter_turns)
    return _Geometry(width, height, display_width, height, quarter_turns)


def _first_frame(container, stream, path: Path) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise VideoError(
            f"{path.name}: the video stream does not decode ({_ffmpeg_words(exc)})", reason="undecodable", path=path
        ) from exc
    raise VideoError(f"{path.name}: the video stream holds no decodable frame", reason="undecodable", path=path)


def probe(
    path: str | os.PathLike,
    *,
    max_side: int | None = DEFAULT_MAX_SIDE,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> VideoInfo:
    """Describe a trailer file, proving that its video stream decodes.

    Reads the container header and decodes the first video frame. Raises
    :class:`VideoError` (message in plain words) for a missing or empty file,
    a file that is not media, media without a video stream, a video stream
    that does not decode, a zero or unknown duration, and a displayed
    resolution whose longer side exceeds ``max_side`` or whose pixel count
    exceeds ``max_pixels`` (``None`` turns a limit off).
    """
    path = Path(path)
    size_bytes = _check_file(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        codec = stream.codec_context.name
        fps = _frame_rate(stream)
        duration = _duration(container, stream)
        frame = _first_frame(container, stream, path)
        rotation = _rotation_of(frame)
        geometry = _geometry(frame, stream, rotation)
        has_audio = bool(container.streams.audio)
        container_name = container.format.name
        if duration is None:
            container.seek(0, backward=True)
            duration = _duration_from_packets(container, stream)
    if fps is None:
        raise VideoError(f"{path.name}: the video's frame rate is unknown", reason="no_duration", path=path)
    if not duration or duration <= 0 or not math.isfinite(duration):
        raise VideoError(
            f"{path.name}: the video has no duration (zero or unknown: a still picture is not a trailer)",
            reason="no_duration",
            path=path,
        )
    width, height = geometry.display_width, geometry.display_height
    if (max_side is not None and max(width, height) > max_side) or (
        max_pixels is not None and width * height > max_pixels
    ):
        limit = []
        if max_side is not None:
            limit.append(f"{max_side} pixels a side")
        if max_pixels is not None:
            limit.append(f"{max_pixels:,} pixels")
        raise VideoError(
            f"{path.name}: the resolution {width}×{height} is above the limit ({' and '.join(limit)})",
            reason="too_large",
            path=path,
        )
    return VideoInfo(
        duration=round(duration, 6),
        fps=round(fps, 6),
        width=width,
        height=height,
        rotation=rotation,
        codec=codec,
        container=container_name,
        has_audio=has_audio,
        size_bytes=size_bytes,
    )


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class SubclipPlan:
    """One planned subclip: its position in the trailer, start and duration in seconds."""

    index: int
    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "start": self.start, "duration": self.duration}


def _consecutive(duration: float, start: float, n_subclips: int, subclip_duration: float) -> list[tuple[float, float]]:
    spans = []
    for i in range(n_subclips):
        begin = start + i * subclip_duration
        length = min(subclip_duration, duration - begin)
        # The seed dropped a subclip that came out at half its length or less.
        if length <= subclip_duration / 2:
            break
        spans.append((begin, length))
    return spans


def plan_subclips(
    duration: float,
    *,
    n_subclips: int = 3,
    subclip_duration: float = 30.0,
    offset: float = 10.0,
    min_duration: float = 1.0,
) -> list[SubclipPlan]:
    """Plan the subclips of a trailer of ``duration`` seconds; pure function.

    The rule, the seed's with a fallback for short videos:

    1. Lay ``n_subclips`` consecutive, non-overlapping subclips of
       ``subclip_duration`` from ``offset`` on. One cut short by the end of the
       video is kept only if it is longer than half ``subclip_duration``;
       planning stops at the first one that is not.
    2. If none fits after ``offset``, plan again from 0 with the same rule.
    3. If still none fits, the whole video is one subclip.

    A video shorter than ``min_duration`` raises :class:`VideoError`. So with
    the defaults a 120 s trailer gives 10–40, 40–70, 70–100; 60 s gives 10–40
    and 40–60; 45 s gives 10–40; 20 s gives 0–20; 5 s gives 0–5.
    """
    check_value("duration", duration, Option(float, low=0.0))
    sampling = options(SamplingConfig)
    for name, value in (("n_subclips", n_subclips), ("subclip_duration", subclip_duration), ("offset", offset),
                        ("min_duration", min_duration)):
        check_value(name, value, sampling[name])
    duration = float(duration)
    if duration <= 0 or duration < min_duration:
        raise VideoError(
            f"the video is too short: {duration:.2f} s, the minimum is {min_duration:g} s", reason="too_short"
        )
    spans = _consecutive(duration, float(offset), n_subclips, float(subclip_duration))
    if not spans and offset > 0:
        spans = _consecutive(duration, 0.0, n_subclips, float(subclip_duration))
    if not spans:
        spans = [(0.0, duration)]
    return [SubclipPlan(index=i, start=round(s, 6), duration=round(d, 6)) for i, (s, d) in enumerate(spans)]


# --------------------------------------------------------------------------- sampling


@dataclass
class SampledSubclip:
    """The frames kept from one planned subclip.

    ``frames`` is uint8 T×H×W×3 RGB. ``timestamps`` holds, for every kept
    frame, its time in seconds from the first frame of the file;
    ``frame_indices`` the same time as a frame number at the average frame
    rate (exact for constant-frame-rate video).
    """

    plan: SubclipPlan
    frames: np.ndarray
    timestamps: list[float] = field(default_factory=list)
    frame_indices: list[int] = field(default_factory=list)


def resized_shape(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) after the seed's resize for a ``size`` crop: shorter side to round(size·255/224).

    The longer side is truncated as torchvision's ``Resize`` does.
    """
    short = int(round(size * _SEED_RESIZE_RATIO))
    if width <= height:
        return short, int(short * height / width)
    return int(short * width / height), short


def _wanted_times(plan: SubclipPlan, fps: float, frame_step: int | None, frames_per_subclip: int | None,
                  snippet_frames: int = 1) -> list[float]:
    if frames_per_subclip is not None:
        points = [plan.start + k * plan.duration / frames_per_subclip for k in range(frames_per_subclip)]
    else:
        # Frames 0, N, 2N, … of the subclip at the stream's rate, as the seed kept them.
        n_frames = max(1, int(round(plan.duration * fps)))
        count = -(-n_frames // frame_step)
        points = [plan.start + k * frame_step / fps for k in range(count)]
    # A snippet: the point's frame and the ones right after it, so that motion between them can be seen.
    return [t + j / fps for t in points for j in range(snippet_frames)]


class _Converter:
    """Turns a decoded frame into an upright, resized, center-cropped RGB array."""

    def __init__(self, geometry: _Geometry, size: int | None):
        self.geometry = geometry
        self.size = size
        if size is None:
            out_w, out_h = geometry.display_width, geometry.display_height
        else:
            out_w, out_h = resized_shape(geometry.display_width, geometry.display_height, size)
        self.upright = (out_w, out_h)
        # Scale in stored orientation, then turn: scaling the small picture is cheaper.
        self.scaled = (out_h, out_w) if geometry.quarter_turns % 2 else (out_w, out_h)

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        width, height = self.scaled
        rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="BILINEAR").to_ndarray()
        if self.geometry.quarter_turns:
            rgb = np.rot90(rgb, self.geometry.quarter_turns)
        if self.size is not None:
            out_w, out_h = self.upright
            # torchvision's CenterCrop offsets: int(round((dim - size) / 2)).
            top = int(round((out_h - self.size) / 2.0))
            left = int(round((out_w - self.size) / 2.0))
            rgb = rgb[top : top + self.size, left : left + self.size]
        return np.ascontiguousarray(rgb)


class _Reader:
    """One open trailer and its decoder; samples runs of wanted times, one run after another.

    Not thread-safe: each thread that samples gets its own reader.
    """

    def __init__(self, path: Path, *, frame_threads: bool = True):
        self.path = path
        self.frame_threads = frame_threads
        self.container = _open(path)
        try:
            self._setup_stream()
            self.time_base = self.stream.time_base
            self.origin = _stream_start(self.stream)
            fps = _frame_rate(self.stream)
            if fps is None:
                raise VideoError(f"{path.name}: the video's frame rate is unknown", reason="no_duration", path=path)
            self.fps = fps
            self.period = 1.0 / fps
            self.geometry: _Geometry | None = None
            self._keyframes = self._read_keyframes()
            self._converters: dict[int | None, _Converter] = {}
        except BaseException:
            self.container.close()
            raise

    def _setup_stream(self) -> None:
        self.stream = _video_stream(self.container, self.path)
        # Frame threading when this is the only decoder; with several
        # decoders side by side each keeps to one thread.
        if self.frame_threads:
            self.stream.thread_type = "AUTO"
        else:
            self.stream.thread_type = "NONE"
            self.stream.codec_context.thread_count = 1
        self.codec = self.stream.codec_context
        self.skip = "DEFAULT"

    def close(self) -> None:
        self.container.close()

    # -- time in seconds from the first frame
    def seconds(self, ts: int) -> float:
        return float((ts - self.origin) * self.time_base)

    def timestamp(self, seconds: float) -> int:
        return self.origin + int(round(seconds / self.time_base))

    def _set_skip(self, mode: str) -> None:
        if mode != self.skip:
            self.codec.skip_frame = mode
            self.skip = mode

    def _seek(self, seconds: float) -> None:
        """Seek to the keyframe at or before ``seconds`` (before the first frame: the start)."""
        self._set_skip("DEFAULT")
        try:
            self.container.seek(self.timestamp(seconds), stream=self.stream, backward=True)
        except av.error.FFmpegError:
            # Some demuxers refuse a time before their first frame: start from the first one,
            # and where even that fails (a stream that cannot seek), open the file afresh.
            try:
                self.container.seek(self.origin, stream=self.stream, backward=True)
            except av.error.FFmpegError:
                self.container.close()
                self.container = _open(self.path)
                self._setup_stream()

    def keyframes(self) -> list[float]:
        """Keyframe (presentation) times from the container's index; empty where there is none."""
        return self._keyframes

    def _read_keyframes(self) -> list[float]:
        # Some containers (MP4) index decoding times, which run a few frames
        # ahead of presentation times when there are B-frames: add the first
        # packet's gap between the two. An error here only costs speed, as
        # seeks go by presentation time and their landing is checked.
        # Only containers that carry a real index: FLV and MPEG-TS demuxers
        # build theirs while reading, and mark packets that are not keyframes.
        if not any(name in _INDEXED_FORMATS for name in self.container.format.name.split(",")):
            return []
        try:
            entries = self.stream.index_entries
            times = sorted(self.seconds(e.timestamp) for e in entries if e.is_keyframe and not e.is_discard)
        except Exception:  # pragma: no cover - index unreadable
            return []
        delay = 0.0
        if times:
            for packet in self.container.demux(self.stream):
                if packet.pts is not None and packet.dts is not None:
                    delay = max(0.0, float((packet.pts - packet.dts) * self.time_base))
                    break
        return [t + delay for t in times]

    def _decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        try:
            return packet.decode()
        except av.error.InvalidDataError:
            return []  # a damaged packet: the frames it carried are lost, the rest decode

    def _frame_time(self, frame: av.VideoFrame, previous: float | None) -> float:
        ts = frame.pts if frame.pts is not None else frame.dts
        if ts is None:
            return 0.0 if previous is None else previous + self.period
        return self.seconds(ts)

    def _ensure_geometry(self, frame: av.VideoFrame) -> None:
        if self.geometry is None:
            self.geometry = _geometry(frame, self.stream, _rotation_of(frame))

    def convert_for(self, size: int | None):
        """A function turning this stream's frames into upright ``size`` crops."""

        def convert(frame: av.VideoFrame) -> np.ndarray:
            converter = self._converters.get(size)
            if converter is None:
                self._ensure_geometry(frame)
                converter = self._converters[size] = _Converter(self.geometry, size)
            return converter(frame)

        return convert

    # -- exact sampling
    def sample_exact(self, wanted: list[float], convert) -> list[tuple[float, np.ndarray]]:
        """The frame nearest in time to each wanted time (``wanted`` is sorted)."""
        chosen: list[tuple[float, np.ndarray]] = []
        window = _DECODE_WINDOW_FRAMES * self.period
        k = 0
        seek_to = wanted[0]
        backoff = 1.0
        previous: tuple[float, av.VideoFrame] | None = None
        seeks_left = 2 * len(wanted) + 16  # a bound, whatever the container's index says
        jumped_from = None
        while True:
            seeks_left -= 1
            self._seek(seek_to)
            previous = None
            position = None  # latest packet time handed to the decoder since the seek
            first = True
            action = "end"
            for packet in self.container.demux(self.stream):
                ts = packet.pts if packet.pts is not None else packet.dts
                if packet.size and ts is not None:
                    t_packet = self.seconds(ts)
                    if position is None and jumped_from is not None and t_packet <= jumped_from:
                        seeks_left = 0  # the jump did not move forward: stop jumping, decode on
                    position = t_packet if position is None else max(position, t_packet)
                    if packet.pts is None:
                        self._set_skip("DEFAULT")
                    else:
                        # Decode every frame near a wanted time; away from them only
                        # the frames that later ones are predicted from.
                        i = bisect.bisect_left(wanted, t_packet - window, lo=k)
                        near = i < len(wanted) and wanted[i] <= t_packet + window
                        self._set_skip("DEFAULT" if near else "NONREF")
                elif packet.size:
                    self._set_skip("DEFAULT")
                for frame in self._decode(packet):
                    t = self._frame_time(frame, previous[0] if previous else None)
                    if first:
                        first = False
                        if t > wanted[k] + self.period / 2 and seek_to > -_MAX_BACKOFF_S:
                            # The seek landed after the wanted frame (demuxers that seek
                            # by decoding time, such as MPEG-TS, do): go back further.
                            action = "back"
                            break
                        self._ensure_geometry(frame)
                    while k < len(wanted) and t >= wanted[k]:
                        if previous is not None and wanted[k] - previous[0] < t - wanted[k]:
                            chosen.append((previous[0], convert(previous[1])))
                        else:
                            chosen.append((t, convert(frame)))
                        k += 1
                    previous = (t, frame)
                    if k == len(wanted):
                        return chosen
                if action != "end":
                    break
                if position is not None and not first and seeks_left > 0:
                    jump = self._keyframe_ahead(wanted[k], position)
                    if jump is not None:
                        action, seek_to, jumped_from = "jump", jump, position
                        break
            if action == "end" and first and seek_to > -_MAX_BACKOFF_S:
                # Nothing decoded between the landing and the end: the seek landed
                # on a frame that is not a keyframe, past the last one. Go back.
                action = "back"
            if action == "back" and seeks_left > 0:
                seek_to, backoff = (seek_to - backoff if seek_to > 0 else -2 * _MAX_BACKOFF_S), backoff * 4
            elif action != "jump":
                break
        # End of the stream: the last frame stands for wanted times just after it.
        while previous is not None and k < len(wanted) and wanted[k] - previous[0] <= 1.5 * self.period:
            chosen.append((previous[0], convert(previous[1])))
            k += 1
        return chosen

    def _keyframe_ahead(self, want: float, position: float) -> float | None:
        """Where to seek to skip to a keyframe well past the decoder's position, no later than ``want``."""
        keyframes = self.keyframes()
        if not keyframes:
            return None
        # Seeking to ``want`` lands on the last keyframe at or before it.
        i = bisect.bisect_right(keyframes, want + _TIME_SLACK) - 1
        if i >= 0 and keyframes[i] > position + _SEEK_AHEAD_S:
            return want
        return None

    # -- fast sampling
    def sample_fast(self, wanted: list[float], convert) -> list[tuple[float, np.ndarray]]:
        """For each wanted time the nearest keyframe; only keyframes are decoded."""
        cache: dict[float, np.ndarray] = {}
        chosen = []
        for want in wanted:
            before, after = self._keyframes_around(want)
            candidates = [c for c in (before, after) if c is not None]
            if not candidates:
                continue
            t, packet = min(candidates, key=lambda c: (abs(c[0] - want), c[0]))
            if t not in cache:
                frame = self._decode_alone(packet)
                if frame is None:
                    continue
                self._ensure_geometry(frame)
                cache[t] = convert(frame)
            chosen.append((t, cache[t]))
        return chosen

    def _keyframes_around(self, want: float):
        """The keyframe packets just at-or-before and just after ``want`` (either may be None)."""
        seek_to, backoff = want, 1.0
        while True:
            self._seek(seek_to)
            before = after = None
            for packet in self.container.demux(self.stream):
                ts = packet.pts if packet.pts is not None else packet.dts
                if not packet.size or ts is None:
                    continue
                t_packet = self.seconds(ts)
                if before is not None and t_packet - want >= want - before[0]:
                    break  # nothing from here on is nearer than the keyframe before
                if packet.is_keyframe:
                    if t_packet <= want:
                        before = (t_packet, packet)
                    else:
                        after = (t_packet, packet)
                        break
            if before is not None or seek_to <= -_MAX_BACKOFF_S:
                return before, after
            # The seek landed after ``want``: step back, as in exact sampling.
            seek_to, backoff = (seek_to - backoff if seek_to > 0 else -2 * _MAX_BACKOFF_S), backoff * 4

    def _decode_alone(self, packet: av.Packet) -> av.VideoFrame | None:
        """Decode one keyframe packet on its own (the decoder is drained; the next seek resets it)."""
        self._set_skip("DEFAULT")
        self.codec.flush_buffers()
        try:
            frames = self.codec.decode(packet) + self.codec.decode(None)
        except av.error.FFmpegError:
            return None
        return frames[0] if frames else None


def _check_sampling(frame_step, frames_per_subclip, size, snippet_frames) -> tuple[int | None, int | None]:
    """sample_frames' arguments, checked as SamplingConfig checks its fields (but ``size`` may be None)."""
    if frame_step is None and frames_per_subclip is None:
        frame_step = 45
    _, errors = SamplingConfig.check({"frame_step": frame_step, "frames_per_subclip": frames_per_subclip,
                                      "snippet_frames": snippet_frames, **({"size": size} if size is not None else {})})
    if errors:
        raise errors[0]
    return frame_step, frames_per_subclip


def sample_frames(
    path: str | os.PathLike,
    plan: Sequence[SubclipPlan] | SubclipPlan,
    *,
    frame_step: int | None = None,
    frames_per_subclip: int | None = None,
    size: int | None = 224,
    fast: bool = False,
    workers: int | None = None,
    snippet_frames: int = 1,
) -> list[SampledSubclip]:
    """Sample the frames of every planned subclip; one :class:`SampledSubclip` per plan entry.

    Two modes, one at a time: ``frame_step=N`` keeps the subclip's frames 0, N,
    2N, … at the stream's average frame rate (the seed's method; the default,
    N=45, when neither is given), ``frames_per_subclip=T`` keeps T frames
    evenly spaced in time (``start + k·duration/T``), whatever the frame rate.
    Each kept frame is the one whose timestamp is nearest the wanted time, so
    variable-frame-rate video samples by time too.

    Frames come out upright RGB uint8, the shorter side resized to
    round(size·255/224) and center-cropped to size×size (``size=None`` keeps
    the displayed size). The file is never decoded from its start: each run of
    wanted frames is reached by seeking to the keyframe before it, frames far
    from a wanted one are decoded only if later frames depend on them, and
    only kept frames are converted. Runs that start at different keyframes are
    independent, and ``workers`` threads (default: one per CPU, at most 4)
    decode them side by side, each with its own decoder.

    ``fast=True`` instead takes, for each wanted time, the nearest keyframe:
    much faster, off by up to half a keyframe interval, and neighbouring
    wanted times may repeat a frame. Never the default.

    ``snippet_frames=K`` takes, at each of those points, K consecutive frames
    (the point's and the K-1 after it, at the stream's rate): short snippets
    that show motion. A subclip then holds points × K frames, snippet by snippet.

    An empty plan gives an empty list. Raises :class:`VideoError` if the file
    cannot be read or a subclip yields no decodable frame.
    """
    frame_step, frames_per_subclip = _check_sampling(frame_step, frames_per_subclip, size, snippet_frames)
    plans = [plan] if isinstance(plan, SubclipPlan) else list(plan)
    path = Path(path)
    _check_file(path)
    if not plans:
        return []
    if workers is None:
        workers = min(os.cpu_count() or 1, _MAX_WORKERS)
    check_value("workers", workers, Option(int, low=1))

    # Readers (each an open file with its own decoder) are lent to one unit of
    # work at a time; a new one is opened only while fewer than ``workers`` exist.
    readers: list[_Reader] = []
    free: queue.SimpleQueue[_Reader] = queue.SimpleQueue()
    lock = threading.Lock()

    def borrow() -> _Reader:
        try:
            return free.get_nowait()
        except queue.Empty:
            with lock:
                if len(readers) < workers:
                    reader = _Reader(path, frame_threads=False)
                    readers.append(reader)
                    return reader
            return free.get()

    def run(unit: list[tuple[float, int, int]]) -> list[tuple[float, np.ndarray]]:
        reader = borrow()
        try:
            wanted = [t for t, _, _ in unit]
            convert = reader.convert_for(size)
            return reader.sample_fast(wanted, convert) if fast else reader.sample_exact(wanted, convert)
        except av.error.FFmpegError as exc:
            item = plans[unit[0][1]]
            raise VideoError(
                f"{path.name}: subclip {item.index} ({item.start:.1f}–{item.end:.1f} s) does not decode "
                f"({_ffmpeg_words(exc)})",
                reason="undecodable",
                path=path,
            ) from exc
        finally:
            free.put(reader)

    try:
        # The first reader plans the work; with one worker it decodes with frame threads.
        first = _Reader(path, frame_threads=workers == 1)
        readers.append(first)
        free.put(first)
        units = _plan_units(first, plans, frame_step, frames_per_subclip, fast, snippet_frames)
        if workers == 1 or len(units) == 1:
            picked_units = [run(unit) for unit in units]
        else:
            # Longest first, so the threads finish together.
            order = sorted(range(len(units)), key=lambda u: -_unit_cost(first, units[u]))
            with ThreadPoolExecutor(max_workers=min(workers, len(units))) as pool:
                done = dict(zip(order, pool.map(run, [units[u] for u in order]), strict=True))
            picked_units = [done[u] for u in range(len(units))]
        fps = first.fps
    finally:
        for reader in readers:
            reader.close()

    picked: list[list[tuple[int, float, np.ndarray]]] = [[] for _ in plans]
    for unit, got in zip(units, picked_units, strict=True):
        # A unit's frames answer its wanted times in order; one cut short by the
        # end of the file answers only the first ones.
        for (_, i, k), (t, frame) in zip(unit, got, strict=False):
            picked[i].append((k, t, frame))
    results = []
    for item, got in zip(plans, picked, strict=True):
        if not got:
            raise VideoError(
                f"{path.name}: subclip {item.index} ({item.start:.1f}–{item.end:.1f} s) has no decodable frames",
                reason="no_frames",
                path=path,
            )
        got.sort(key=lambda entry: entry[0])
        times = [round(t, 6) for _, t, _ in got]
        results.append(
            SampledSubclip(
                plan=item,
                frames=np.stack([frame for _, _, frame in got]),
                timestamps=times,
                frame_indices=[int(round(t * fps)) for t in times],
            )
        )
    return results


def _plan_units(
    reader: _Reader, plans: list[SubclipPlan], frame_step: int | None, frames_per_subclip: int | None, fast: bool,
    snippet_frames: int = 1,
) -> list[list[tuple[float, int, int]]]:
    """Split the wanted frames into units of work: (time, subclip, position) runs, each decoded from one seek.

    With a keyframe index, wanted frames (of all subclips together) that would
    be decoded from the same keyframe form one unit: neighbouring subclips
    never decode the same stretch twice, and units are independent. Without
    an index, and in fast mode, each subclip is one unit.
    """
    per_subclip = [
        [(t, i, k) for k, t in enumerate(_wanted_times(item, reader.fps, frame_step, frames_per_subclip,
                                                         snippet_frames))]
        for i, item in enumerate(plans)
    ]
    keyframes = reader.keyframes()
    if fast or not keyframes:
        return [sorted(unit) for unit in per_subclip if unit]
    units: list[list[tuple[float, int, int]]] = []
    entry_key = None
    for entry in sorted(entry for unit in per_subclip for entry in unit):
        key = bisect.bisect_right(keyframes, entry[0] + _TIME_SLACK)  # the keyframe decoding starts from
        if units and key == entry_key:
            units[-1].append(entry)
        else:
            units.append([entry])
            entry_key = key
    return units


def _unit_cost(reader: _Reader, unit: list[tuple[float, int, int]]) -> float:
    """Seconds of video a unit decodes, roughly: from the keyframe before its first frame to its last."""
    keyframes = reader.keyframes()
    i = bisect.bisect_right(keyframes, unit[0][0] + _TIME_SLACK) - 1
    entry = keyframes[i] if i >= 0 else unit[0][0] - 5.0
    return unit[-1][0] - entry


def sample_trailer(
    path: str | os.PathLike,
    config: SamplingConfig | None = None,
    *,
    max_side: int | None = DEFAULT_MAX_SIDE,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> tuple[VideoInfo, list[SampledSubclip]]:
    """Probe, plan and sample a trailer with one config: the call preprocessing makes.

    Raises :class:`VideoError` for any file that cannot serve as a trailer,
    including one shorter than ``config.min_duration``.
    """
    config = config or SamplingConfig.seed()
    info = probe(path, max_side=max_side, max_pixels=max_pixels)
    plan = config.plan(info.duration)
    subclips = sample_frames(
        path,
        plan,
        frame_step=config.frame_step,
        frames_per_subclip=config.frames_per_subclip,
        size=config.size,
        fast=config.fast,
        snippet_frames=config.snippet_frames,
    )
    return info, subclips
