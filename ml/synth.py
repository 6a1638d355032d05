"""Synthetic trailers with a known rating, for tests and the demo.

Each trailer is deterministic from its seed and hides a rating in 1–10 made of
two halves:

* something visible in any single frame: the hue of the background;
* something only visible over time: a large white bar crosses the picture
  over the length of the trailer, and how far it travels and in which
  direction (left or right) sets the other half. Its starting place is random,
  so one frame says nothing about where it is going.

Small coloured discs drift about and the scene "cuts" (the discs jump) at
random moments; they carry no information. A single-frame model can learn the
hue half; a sequence model can learn both.

The module also writes frame-index videos for accuracy tests: every frame
paints its own index as a 4×4 block barcode in the central square of the
picture, which survives compression, the seed's resize and the center crop
(:func:`write_index_video`, :func:`read_frame_index`).
"""

from __future__ import annotations

import colorsys
import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ml.files import media_url

__all__ = [
    "CONTAINERS",
    "SynthTrailer",
    "generate_dataset",
    "generate_trailer",
    "paint_frame_index",
    "read_frame_index",
    "write_index_video",
    "write_markup",
]

#: Suffix → (video codec, audio codec, pixel format) used for that container.
CONTAINERS: dict[str, tuple[str, str, str]] = {
    ".mp4": ("libx264", "aac", "yuv420p"),
    ".mov": ("libx264", "aac", "yuv420p"),
    ".mkv": ("libx264", "aac", "yuv420p"),
    ".webm": ("libvpx-vp9", "libopus", "yuv420p"),
    ".avi": ("mpeg4", "aac", "yuv420p"),
    ".flv": ("libx264", "aac", "yuv420p"),
    ".ts": ("libx264", "aac", "yuv420p"),
}

_HUE_RANGE = 0.75  # hues 0..0.75 (red → violet) so the scale does not wrap back to red
_MAX_TRAVEL = 0.8  # the bar crosses at most this fraction of the width over the trailer
_BARCODE_BITS = 16


@dataclass(frozen=True)
class SynthTrailer:
    """A generated trailer: where it is, its hidden rating, and its title (the file stem)."""

    path: Path
    rating: float
    title: str


# --------------------------------------------------------------------------- encoding


def _codec_options(codec: str, fps: int, gop: int | None) -> dict[str, str]:
    gop = gop or max(1, 2 * fps)
    if codec == "libx264":
        # B-frames (veryfast keeps 3) so that readers meet reordered, non-reference frames.
        # No macroblock tree: with it, x264 output depended on what the heap held before
        # (about 1 encode in 20 differed once audio was encoded alongside), so the same
        # seed did not always give the same bytes.
        return {"preset": "veryfast", "crf": "18", "g": str(gop), "threads": "1", "x264-params": "mbtree=0"}
    if codec in ("libvpx-vp9", "libvpx"):
        return {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0", "g": str(gop), "threads": "1"}
    if codec in ("mpeg4", "flv", "mpeg2video"):
        return {"qscale": "3", "g": str(gop)}
    return {"g": str(gop)}


def _clean_frame(rgb: av.VideoFrame, pix_fmt: str) -> av.VideoFrame:
    """``rgb`` converted to ``pix_fmt`` in a frame whose row padding is zeros.

    Encoders (x264 among them) may read the padding at the end of rows, which
    FFmpeg leaves uninitialised: the same pictures could then encode to
    different bytes from one run to the next.
    """
    converted = rgb.reformat(format=pix_fmt)
    clean = av.VideoFrame(converted.width, converted.height, pix_fmt)
    for source, target in zip(converted.planes, clean.planes, strict=True):
        buffer = np.frombuffer(target, np.uint8)
        buffer[:] = 0
        rows = buffer.reshape(-1, target.line_size)
        data = np.frombuffer(source, np.uint8).reshape(-1, source.line_size)
        rows[: source.height, : source.width] = data[: source.height, : source.width]
    return clean


class _Writer:
    """A PyAV output with one video stream (and optionally a silent-ish audio tone)."""

    def __init__(
        self,
        path: Path,
        *,
        fps: int,
        width: int,
        height: int,
        codec: str | None = None,
        audio: bool = False,
        gop: int | None = None,
        time_base: Fraction | None = None,
        rotation: int | None = None,
    ):
        suffix = path.suffix.lower()
        if suffix not in CONTAINERS:
            raise ValueError(f"no codec chosen for {suffix!r} files; use one of {sorted(CONTAINERS)}")
        video_codec, audio_codec, pix_fmt = CONTAINERS[suffix]
        video_codec = codec or video_codec
        path.parent.mkdir(parents=True, exist_ok=True)
        # bitexact: no random Matroska segment id, no encoder version string.
        self.container = av.open(media_url(path), mode="w", options={"fflags": "+bitexact"})
        self.fps = fps
        self.stream = self.container.add_stream(video_codec, rate=fps, options=_codec_options(video_codec, fps, gop))
        self.stream.width = width
        self.stream.height = height
        self.stream.pix_fmt = pix_fmt
        if video_codec == "mpeg4" and suffix == ".avi":
            self.stream.codec_context.codec_tag = "XVID"
        if time_base is not None:
            self.stream.codec_context.time_base = time_base
            self.stream.time_base = time_base
        if rotation:
            self.stream.set_display_rotation(rotation)
        self.audio = None
        if audio:
            self.audio = self.container.add_stream(audio_codec, rate=48000)
            self.audio.layout = "stereo"
            self._samples_written = 0

    def write(self, rgb: np.ndarray, pts: int | None = None) -> None:
        frame = _clean_frame(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"), self.stream.pix_fmt)
        if pts is not None:
            frame.pts = pts
            frame.time_base = self.stream.codec_context.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def write_audio_until(self, seconds: float, rng: np.random.Generator) -> None:
        if self.audio is None:
            return
        rate = 48000
        target = int(seconds * rate)
        chunk = 1024
        while self._samples_written < target:
            n = min(chunk, target - self._samples_written)
            t = (np.arange(n) + self._samples_written) / rate
            tone = 0.1 * np.sin(2 * np.pi * 220.0 * t)
            samples = np.stack([tone, tone]).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
            frame.sample_rate = rate
            frame.pts = self._samples_written
            self._samples_written += n
            for packet in self.audio.encode(frame):
                self.container.mux(packet)

    def close(self) -> None:
        for stream in (self.stream, self.audio):
            if stream is not None:
                for packet in stream.encode(None):
                    self.container.mux(packet)
        self.container.close()


# --------------------------------------------------------------------------- frame-index videos


def _barcode_cells(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """(top, left, bottom, right) of the 16 cells, inside the central square with a margin."""
    side = min(width, height)
    top0 = (height - side) // 2
    left0 = (width - side) // 2
    margin = side // 8
    cell = (side - 2 * margin) // 4
    cells = []
    for bit in range(_BARCODE_BITS):
        row, col = divmod(bit, 4)
        top = top0 + margin + row * cell
        left = left0 + margin + col * cell
        cells.append((top, left, top + cell, left + cell))
    return cells


def paint_frame_index(index: int, width: int, height: int) -> np.ndarray:
    """An RGB frame showing ``index`` as a 4×4 barcode (bit 0 top left, white = 1)."""
    if not 0 <= index < 2**_BARCODE_BITS:
        raise ValueError(f"index must be in 0..{2**_BARCODE_BITS - 1}, got {index}")
    frame = np.full((height, width, 3), 128, np.uint8)
    for bit, (top, left, bottom, right) in enumerate(_barcode_cells(width, height)):
        frame[top:bottom, left:right] = 235 if (index >> bit) & 1 else 20
    return frame


def read_frame_index(frame: np.ndarray) -> int:
    """The index painted by :func:`paint_frame_index`, read back from a frame of any size.

    Works on the full picture and on the seed's center crop of it alike: a
    square frame is taken to be the central square.
    """
    height, width = frame.shape[:2]
    value = 0
    luma = frame[..., :3].astype(np.float32).mean(axis=2)
    for bit, (top, left, bottom, right) in enumerate(_barcode_cells(width, height)):
        pad_y, pad_x = (bottom - top) // 4, (right - left) // 4
        if luma[top + pad_y : bottom - pad_y, left + pad_x : right - pad_x].mean() > 128:
            value |= 1 << bit
    return value


def write_index_video(
    path: str | os.PathLike,
    *,
    n_frames: int,
    fps: int = 24,
    width: int = 160,
    height: int = 120,
    frame_times: Sequence[float] | None = None,
    codec: str | None = None,
    gop: int | None = None,
    audio: bool = False,
    rotation: int | None = None,
) -> list[float]:
    """Write a video whose frame i shows i as a barcode; return every frame's time in seconds.

    ``frame_times`` (seconds, increasing) makes a variable-frame-rate file;
    otherwise frames are 1/fps apart. ``rotation`` stores display-matrix
    rotation (degrees counter-clockwise, as FFmpeg's ``-display_rotation``).
    """
    path = Path(path)
    time_base = Fraction(1, 90000) if frame_times is not None else None
    writer = _Writer(
        path, fps=fps, width=width, height=height, codec=codec, audio=audio, gop=gop, time_base=time_base,
        rotation=rotation,
    )
    rng = np.random.default_rng(0)
    times = []
    try:
        for i in range(n_frames):
            if frame_times is not None:
                t = float(frame_times[i])
                writer.write(paint_frame_index(i, width, height), pts=int(round(t * 90000)))
            else:
                t = i / fps
                writer.write(paint_frame_index(i, width, height))
            times.append(t)
            writer.write_audio_until(t + 1 / fps, rng)
    finally:
        writer.close()
    return times


# --------------------------------------------------------------------------- synthetic trailers


def _rating_parts(rng: np.random.Generator, rating: float | None) -> tuple[float, float]:
    """Two scores in [0, 1] (hue, motion) whose mean sets the rating."""
    if rating is None:
        return float(rng.uniform()), float(rng.uniform())
    if not 1.0 <= rating <= 10.0:
        raise ValueError(f"rating must be within 1–10, got {rating!r}")
    mean = (rating - 1.0) / 9.0
    low, high = max(0.0, 2 * mean - 1.0), min(1.0, 2 * mean)
    hue_score = float(rng.uniform(low, high))
    return hue_score, 2 * mean - hue_score


def _hue_rgb(hue: float, *, saturation: float = 0.65, value: float = 0.75) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue, saturation, value), np.float32) * 255.0


def _render_frames(rng: np.random.Generator, *, n_frames: int, fps: int, width: int, height: int,
                   hue_score: float, motion_score: float):
    """Yield the trailer's RGB frames."""
    duration = n_frames / fps
    background = _hue_rgb(hue_score * _HUE_RANGE)
    travel = (2 * motion_score - 1.0) * _MAX_TRAVEL  # signed fraction of the width over the trailer
    bar_width = max(2, width // 8)
    # Start where the whole journey stays inside the picture.
    low, high = max(0.0, -travel), min(1.0, 1.0 - travel)
    bar_start = float(rng.uniform(low, high)) if high > low else 0.5

    n_discs = 4
    cut_times = np.sort(rng.uniform(0, duration, size=max(1, int(duration / 2))))
    yy, xx = np.mgrid[0:height, 0:width]
    radius = max(2, min(width, height) // 10)

    def new_scene():
        return (
            rng.uniform([0, 0], [width, height], size=(n_discs, 2)),
            rng.uniform(-0.15, 0.15, size=(n_discs, 2)) * np.array([width, height]),
            rng.uniform(0, 1, size=n_discs),
        )

    centres, speeds, hues = new_scene()
    disc_colours = [_hue_rgb(h, saturation=0.9, value=0.95) for h in hues]
    next_cut = 0
    for i in range(n_frames):
        t = i / fps
        while next_cut < len(cut_times) and cut_times[next_cut] <= t:
            centres, speeds, hues = new_scene()
            disc_colours = [_hue_rgb(h, saturation=0.9, value=0.95) for h in hues]
            next_cut += 1
        frame = np.empty((height, width, 3), np.float32)
        frame[:] = background
        for centre, colour in zip(centres, disc_colours, strict=True):
            cx, cy = centre[0] % width, centre[1] % height
            frame[(xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2] = colour
        x = (bar_start + travel * t / duration) * (width - bar_width)
        left = int(round(x))
        frame[height // 6 : height - height // 6, left : left + bar_width] = 250.0
        centres = centres + speeds / fps
        yield np.clip(frame + rng.normal(0, 3, size=(1, 1, 3)), 0, 255).astype(np.uint8)


def generate_trailer(
    path: str | os.PathLike,
    *,
    seed: int,
    duration: float = 6.0,
    fps: int = 24,
    width: int = 160,
    height: int = 120,
    audio: bool = False,
    rating: float | None = None,
    codec: str | None = None,
) -> SynthTrailer:
    """Write a synthetic trailer to ``path`` and return it with its hidden rating.

    The container comes from the suffix (see :data:`CONTAINERS`: mp4, mov,
    mkv, ts and flv hold h264, webm VP9, avi MPEG-4 part 2); ``codec``
    overrides the video codec (e.g. ``"libvpx"`` for VP8). The same seed and
    arguments always give the same rating and the same pictures. ``rating``
    (1–10) asks for a given rating instead of a random one. The rating is
    rounded to one decimal, as the markup file holds it.
    """
    path = Path(path)
    if duration <= 0 or fps <= 0 or width < 16 or height < 16:
        raise ValueError("duration and fps must be positive, width and height at least 16")
    rng = np.random.default_rng(seed)
    hue_score, motion_score = _rating_parts(rng, rating)
    value = round(1.0 + 9.0 * (hue_score + motion_score) / 2.0, 1)
    n_frames = max(1, int(round(duration * fps)))
    writer = _Writer(path, fps=fps, width=width, height=height, codec=codec, audio=audio)
    try:
        frames = _render_frames(rng, n_frames=n_frames, fps=fps, width=width, height=height,
                                hue_score=hue_score, motion_score=motion_score)
        for i, frame in enumerate(frames):
            writer.write(frame)
            writer.write_audio_until((i + 1) / fps, rng)
    except BaseException:
        writer.close()
        path.unlink(missing_ok=True)
        raise
    writer.close()
    return SynthTrailer(path=path, rating=value, title=path.stem)


def generate_dataset(
    out_dir: str | os.PathLike,
    n: int,
    *,
    seed: int,
    duration: float = 6.0,
    fps: int = 24,
    width: int = 160,
    height: int = 120,
    suffixes: Sequence[str] = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".flv", ".ts"),
    audio: bool = False,
    prefix: str = "synth",
) -> list[SynthTrailer]:
    """Write ``n`` trailers named ``{prefix}-0000.mp4`` … into ``out_dir``, cycling through ``suffixes``.

    Trailer i uses seed ``seed * 100_003 + i``, so a dataset is reproducible and
    its trailers differ.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trailers = []
    for i in range(n):
        suffix = suffixes[i % len(suffixes)]
        trailers.append(
            generate_trailer(
                out_dir / f"{prefix}-{i:04d}{suffix}",
                seed=seed * 100_003 + i,
                duration=duration,
                fps=fps,
                width=width,
                height=height,
                audio=audio,
            )
        )
    return trailers


def write_markup(path: str | os.PathLike, trailers: Iterable[SynthTrailer]) -> Path:
    """Write the seed's markup CSV: columns ``Title`` (the file stem) and ``Score``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Title", "Score"])
        for trailer in trailers:
            writer.writerow([trailer.title, f"{trailer.rating:.1f}"])
    return path
