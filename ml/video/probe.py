"""Probing a trailer file: what it holds, and proof that its video stream decodes; the stream helpers the
decoder shares."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import av.error

from ml.files import media_url

from .errors import VideoError

#: Largest accepted width or height (as displayed); 8K UHD.
DEFAULT_MAX_SIDE = 7680
#: Largest accepted number of pixels per frame; 8K UHD.
DEFAULT_MAX_PIXELS = 7680 * 4320


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
class Geometry:
    """How stored frames map to displayed frames."""

    coded_width: int
    coded_height: int
    display_width: int
    display_height: int
    quarter_turns: int  # np.rot90 count (counter-clockwise) that makes a stored frame upright


#: FFmpeg's readers of files that are no video, which it would still play as one: text and ANSI art drawn as
#: pictures (a notes.txt became a 58 s "trailer"), and lists that name other files or network addresses to read
#: in the file's place (a playlist, a concat list, a session description). They are never tried on a trailer.
NOT_VIDEO_FORMATS = frozenset({"tty", "bin", "xbin", "adf", "idf", "concat", "hls", "dash", "imf", "sdp", "rtp", "rtsp",
                               "sap", "avisynth", "vapoursynth"})


@lru_cache(maxsize=1)
def read_options() -> dict[str, str]:
    """What every ``av.open`` of a trailer is given: the formats FFmpeg may read it as (every one of this build
    but :data:`NOT_VIDEO_FORMATS`; checked before a reader opens anything the file names)."""
    return {"format_whitelist": ",".join(sorted(av.formats_available - NOT_VIDEO_FORMATS))}


def open_container(path: Path) -> av.container.InputContainer:
    try:
        return av.open(media_url(path), mode="r", metadata_errors="ignore", container_options=read_options())
    except av.error.ArgumentError as exc:  # the format FFmpeg found is not on the list, or a reader refused the file
        raise VideoError(
            f"{path.name}: not a video file FFmpeg may read (text, or a list of other files to play), or a damaged "
            "one",
            reason="not_media",
            path=path,
        ) from exc
    except av.error.FileNotFoundError as exc:
        raise VideoError(f"{path.name}: the file does not exist", reason="missing", path=path) from exc
    except av.error.PermissionError as exc:
        raise VideoError(f"{path.name}: the file cannot be read (permission denied)", reason="missing", path=path) from exc
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(
            f"{path.name}: not a media file, or a damaged one: FFmpeg could not read it ({ffmpeg_words(exc)})",
            reason="not_media",
            path=path,
        ) from exc


def ffmpeg_words(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().rstrip(".") or type(exc).__name__


def check_file(path: Path) -> int:
    if not path.exists():
        raise VideoError(f"{path.name}: the file does not exist", reason="missing", path=path)
    if not path.is_file():
        raise VideoError(f"{path.name}: not a file", reason="missing", path=path)
    size = path.stat().st_size
    if size == 0:
        raise VideoError(f"{path.name}: the file is empty (0 bytes)", reason="empty", path=path)
    return size


def video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
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


def stream_start(stream: av.video.stream.VideoStream) -> int:
    return stream.start_time if stream.start_time is not None else 0


def frame_rate(stream: av.video.stream.VideoStream) -> float | None:
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


def _packet_spans(container: av.container.InputContainer, *streams) -> dict[int, tuple[int, int, int]]:
    """{stream index: (packets read, first time, last end)} of ``streams``' packets from where the container stands,
    read, not decoded, each in its own stream's time base; a stream with no timed packet is left out."""
    spans: dict[int, tuple[int, int, int]] = {}
    for packet in container.demux(*streams):
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None:
            continue
        end = ts + (packet.duration or 0)
        count, first, last = spans.get(packet.stream.index, (0, ts, end))
        spans[packet.stream.index] = (count + 1, min(first, ts), max(last, end))
    return spans


def _seconds(stream, time: int) -> float:
    """A time in ``stream``'s time base, in seconds from the stream's start."""
    return float((time - stream_start(stream)) * stream.time_base)


def _video_end(container: av.container.InputContainer, stream: av.video.stream.VideoStream, whole: float) -> float | None:
    """Where the video's own packets end, in seconds from its start, read from its last keyframe before ``whole``,
    the container's duration. A Matroska or WebM file gives no duration per stream, and its container's is the
    longest stream's: audio that runs on past the picture would make the subclips reach past the video's end.
    None where it cannot be read."""
    try:
        container.seek(int(whole / stream.time_base) + stream_start(stream), stream=stream, backward=True)
        span = _packet_spans(container, stream).get(stream.index)
    except av.error.FFmpegError:
        return None
    return _seconds(stream, span[2]) if span else None


def _duration_from_packets(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    """Duration by reading (not decoding) every packet, for files whose header has none."""
    count, first, last = _packet_spans(container, stream).get(stream.index, (0, 0, 0))
    if count < 2:
        return 0.0
    return float((last - first) * stream.time_base)


def cut_at(path: Path) -> float | None:
    """Where a file cut short stops: the time its picture's packets end, read (not decoded) from its first, when the
    data of every stream ends over a second before the length its header gives (a download that did not finish).
    None for a whole file (one whose audio runs on past its picture included), or where nothing can be read."""
    try:
        with open_container(path) as container:
            stream = video_stream(container, path)
            whole = _duration(container, stream)
            video = stream.index
            by_index = {each.index: each for each in container.streams}
            ends = {i: _seconds(by_index[i], last) for i, (_, _, last) in _packet_spans(container).items()}
    except (VideoError, av.error.FFmpegError):
        return None
    if video not in ends or whole is None:
        return None
    return ends[video] if max(ends.values()) + 1.0 < whole else None


def rotation_of(frame: av.VideoFrame) -> int:
    """Clockwise display rotation in {0, 90, 180, 270} from the frame's display matrix."""
    try:
        ccw = frame.rotation
    except Exception:  # pragma: no cover - side data unreadable
        return 0
    if not ccw or not math.isfinite(ccw):
        return 0
    return int(round(-ccw / 90.0)) % 4 * 90


def geometry_of(frame: av.VideoFrame, stream: av.video.stream.VideoStream, rotation: int) -> Geometry:
    width, height = frame.width, frame.height
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    display_width = width
    if sar and sar > 0 and sar != 1:
        display_width = max(1, int(round(width * float(sar))))
    quarter_turns = (-rotation // 90) % 4  # clockwise display turn → counter-clockwise np.rot90 count
    if quarter_turns % 2:
        return Geometry(width, height, height, display_width, quarter_turns)
    return Geometry(width, height, display_width, height, quarter_turns)


def _first_frame(container, stream, path: Path) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise VideoError(
            f"{path.name}: the video stream does not decode ({ffmpeg_words(exc)})", reason="undecodable", path=path
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
    size_bytes = check_file(path)
    with open_container(path) as container:
        stream = video_stream(container, path)
        codec = stream.codec_context.name
        fps = frame_rate(stream)
        duration = _duration(container, stream)
        frame = _first_frame(container, stream, path)
        rotation = rotation_of(frame)
        geometry = geometry_of(frame, stream, rotation)
        has_audio = bool(container.streams.audio)
        container_name = container.format.name
        if duration is None:
            container.seek(0, backward=True)
            duration = _duration_from_packets(container, stream)
        elif not (stream.duration and stream.duration > 0) and len(container.streams) > 1:
            own = _video_end(container, stream, duration)  # the container's length may be the audio's
            if own is not None and 0 < own < duration:
                duration = own
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
