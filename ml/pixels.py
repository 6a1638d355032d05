"""Pixel features: what a frame's pretrained embedding does not say — how things move, and the colours.

An ImageNet encoder's embedding is an average over the picture: it says what is
there, hardly where, so it cannot say how fast or which way something moves,
and it cares little for the colour grading. These few numbers per frame fill
that in, from the frames themselves:

* motion, per cell of a ``grid`` × ``grid`` partition of the frame: the
  Lucas–Kanade optical flow (u, v) from the previous frame of the same
  snippet (``ml.video.SamplingConfig.snippet_frames`` consecutive frames per
  sample point), in pixels per frame at a 112-pixel side; the first frame of
  a snippet carries the flow to its next frame, so that any frame a model
  picks carries its snippet's motion; zeros for every frame when snippets are
  single frames (the seed's every-45th-frame plan has no consecutive frames);
* how much changed between those two frames (mean absolute difference, 0–1);
* the frame's mean colour (R, G, B in 0–1).

And, with ``background`` (``LRCNConfig.background``), the frame's background colour: its median colour
(R, G, B in 0–1), which objects in front of the background, whatever their size, hardly move, where the
mean colour above moves with them.

And, with ``foreground`` (``LRCNConfig.foreground``), where the foreground is in each frame, whatever its
shape (:func:`foreground_features`): the background taken as the frame's per-channel median colour, the
foreground as the pixels far from it, and that mask's centre against its mean over the subclip (where it
goes, scaled up for the LSTM), each pixel weighed by how steadily it is foreground over the subclip. Over a
subclip's sample points the sequence model sees an object's path — how far and which way — where the flow
above depends on the object's outline and texture. With ``LRCNConfig.foreground_track`` "object" the centre is
instead the plain centre of the one connected foreground region that weighs most by the same measure, its size
times how steadily it stays (:func:`foreground_centres`): the whole object, not the part of it that stays put.

And, with ``drift`` (``LRCNConfig.drift``), how far that centre drifts over the whole subclip
(:func:`drift_features`): the least-squares line through the centres against the sample points' order, its
change from the first point to the last, the same two numbers on every frame of the subclip. The offsets
above give the path step by step, and a head trained on a few dozen trailers reads a path's trend from them
poorly; the line sums the whole subclip into the one number the path's direction and length are.

They are computed from the stored frames in milliseconds, so they are never stored: a model that uses
them (``LRCNConfig.pixel_grid`` > 0, ``foreground``, ``background`` or ``drift``) gets them beside its
cached embeddings wherever it trains or scores. A cross-validation, whose fits read every trailer's frames
again, computes them once for all its fits (:func:`remembered_features`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
from scipy import ndimage

from ml.config import TRACKS
from ml.frames import load_frames

REFERENCE_SIDE = 112  # flows are given in pixels per frame at this frame side, whatever the frames' size
FOREGROUND_FEATURES = 2  # the foreground centre's offset from its subclip mean: x, y
BACKGROUND_FEATURES = 3  # the frame's median colour: R, G, B
DRIFT_FEATURES = 2  # the foreground centre's drift over the subclip: x, y
# The offsets are the fraction of the picture × this: an object crossing a fifth of it in a subclip moves its
# offset by about 60. Chosen on a tuning set (ml/config.py, the default preset) for heads that read the features
# as they are: such a head trains for a few hundred steps, in which an input's weight grows by a few tenths at
# most, so that offsets in fractions of the picture (a few hundredths) weighed nothing. A head now reads every
# pixel feature in units of its spread over the training trailers (LRCN.scale_pixels), which this factor does
# not change; the model files saved before that still read the offsets at this scale.
FOREGROUND_OFFSET_SCALE = 300.0
FOREGROUND_DISTANCE = 0.2  # a pixel this far from the median colour in some channel (0–1) is foreground
# Within remembered_features(): each frame file's features by its path and pixel_features' options.
_remembered: ContextVar[dict | None] = ContextVar("remembered_pixel_features", default=None)


def feature_count(grid: int, foreground: bool = False, background: bool = False, drift: bool = False) -> int:
    """Columns :func:`pixel_features` gives for ``grid`` (0: no flow nor colour), ``foreground``, ``background``
    and ``drift``."""
    return ((0 if grid <= 0 else 2 * grid * grid + 4) + (FOREGROUND_FEATURES if foreground else 0)
            + (BACKGROUND_FEATURES if background else 0) + (DRIFT_FEATURES if drift else 0))


def pixel_options(config) -> dict:
    """The keyword arguments of :func:`head_input` and :func:`sample_head_inputs` for an ``LRCNConfig``."""
    return {"grid": config.pixel_grid, "snippet_frames": config.snippet_frames, "foreground": config.foreground,
            "background": config.background, "drift": config.drift, "track": config.foreground_track}


def pixel_features(frames: np.ndarray, *, grid: int, snippet_frames: int, foreground: bool = False,
                   background: bool = False, drift: bool = False, track: str = "pixels") -> np.ndarray:
    """uint8 frames (T, H, W, 3), in snippets of ``snippet_frames`` → float32 features
    (T, feature_count(grid, foreground, background, drift)): the flow, change and colour columns (``grid`` > 0),
    then the foreground's (``foreground``), the background colour (``background``) and the drift (``drift``);
    the foreground's offsets and the drift follow its centre as ``track`` says (:func:`foreground_centres`)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"expected non-empty frames (T, H, W, 3), got shape {frames.shape}")
    alone = foreground or background or drift  # columns that need no grid
    if grid < (0 if alone else 1) or snippet_frames < 1:
        least = "0 with foreground, background or drift" if alone else "1"
        raise ValueError(f"grid must be at least {least} and snippet_frames at least 1, got {grid} and "
                         f"{snippet_frames}")
    blocks = [_motion_features(frames, grid, snippet_frames)] if grid > 0 else []
    centres = foreground_centres(frames, track) if foreground or drift else None
    if foreground:
        blocks.append(_offsets(*centres))
    if background:
        blocks.append((median_colour(frames) / 255.0).astype(np.float32))
    if drift:
        blocks.append(_drift(*centres, snippet_frames))
    return blocks[0] if len(blocks) == 1 else np.hstack(blocks)


def median_colour(frames: np.ndarray) -> np.ndarray:
    """uint8 frames (T, H, W, 3) → each frame's median colour (T, 3), 0–255: the median of every other pixel of
    every other row, per channel. Where more than half the picture is background, its colour."""
    frames = np.asarray(frames)
    return np.median(frames[:, ::2, ::2].reshape(frames.shape[0], -1, 3), axis=1)


def foreground_features(frames: np.ndarray, track: str = "pixels") -> np.ndarray:
    """uint8 frames (T, H, W, 3) of one subclip → float32 (T, FOREGROUND_FEATURES): per frame, where the centre
    of its foreground is against its mean over the subclip's frames (x, y, fractions of the picture ×
    FOREGROUND_OFFSET_SCALE): where it goes, not where it is, so that a mean over frames says nothing of the motion.

    A frame's foreground is its pixels more than FOREGROUND_DISTANCE from the frame's median colour in some
    channel. The centre weighs each of them by the square of its persistence, the share of the subclip's
    frames in which that pixel is foreground: an object that stays in the picture counts, small things that
    dart about or come and go with the cuts count little. A frame with no foreground has an offset of 0 (and
    is left out of the mean). Neither the foreground's size nor its spread is given: they are the object's
    shape, which the rating does not depend on. That is the ``pixels`` track; :func:`foreground_centres` says
    what ``track`` "object" follows instead.
    """
    return _offsets(*foreground_centres(frames, track))


def drift_features(frames: np.ndarray, snippet_frames: int = 1, track: str = "pixels") -> np.ndarray:
    """uint8 frames (T, H, W, 3) of one subclip, in snippets of ``snippet_frames`` → float32 (T, DRIFT_FEATURES):
    how far the foreground's centre (:func:`foreground_centres`, followed as ``track`` says) drifts over the
    subclip, x and y in fractions of the picture, the same on every frame.

    The drift is the least-squares line through the centres of the frames that have a foreground, against
    their snippet's place in the subclip (the sample points are evenly spaced, so the place stands for the
    time), taken from the first snippet to the last. Fewer than two snippets with a foreground give 0.
    """
    return _drift(*foreground_centres(frames, track), snippet_frames)


def foreground_centres(frames: np.ndarray, track: str = "pixels") -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames (T, H, W, 3) of one subclip → each frame's foreground centre (T, 2: x, y in fractions of the
    picture; 0 where there is none) and which frames have a foreground (T,) bool.

    A frame's foreground is its pixels more than FOREGROUND_DISTANCE from its median colour in some channel; a
    pixel's persistence is the share of the subclip's frames in which it is foreground. ``track`` (one of
    :data:`TRACKS`) says how the centre follows it:

    * ``pixels``: the centre of every foreground pixel, each weighed by the square of its persistence, as
      :func:`foreground_features` says.
    * ``object``: the plain centre of the frame's one connected foreground region (pixels joined through their
      sides, not their corners) that weighs most by that same measure (the sum of its pixels' squared
      persistence: its size times how steadily it stays): the object that stays in the picture. Small
      things elsewhere do not pull its centre, and the whole object counts, where ``pixels`` weighs the part
      of a large object that stays put above its moving edges, and so shrinks the path of a large, slow
      object towards its middle.
    """
    if track not in TRACKS:
        raise ValueError(f"track must be one of {', '.join(TRACKS)}; got {track!r}")
    mask = _foreground_mask(np.asarray(frames))
    count, height, width = mask.shape
    persistence = mask.mean(axis=0, dtype=np.float32)  # (H, W)
    weight = persistence * persistence
    if track == "pixels":
        weights = mask * weight[None]  # (T, H, W)
    else:
        weights = np.zeros(mask.shape, np.float32)
        for t in range(count):
            regions, found = ndimage.label(mask[t])
            if found:
                mass = np.bincount(regions.ravel(), weights=weight.ravel(), minlength=found + 1)[1:]
                if mass.max() > 0:
                    weights[t] = regions == 1 + int(np.argmax(mass))
    xs = (np.arange(width, dtype=np.float64) + 0.5) / width
    ys = (np.arange(height, dtype=np.float64) + 0.5) / height
    columns = weights.sum(axis=1, dtype=np.float64)  # (T, W)
    total = columns.sum(axis=1)
    seen = total > 0
    centres = np.zeros((count, 2))
    if seen.any():
        centres[seen] = np.stack([columns[seen] @ xs, weights[seen].sum(axis=2, dtype=np.float64) @ ys], axis=1)
        centres[seen] /= total[seen, None]
    return centres, seen


def _foreground_mask(frames: np.ndarray) -> np.ndarray:
    """uint8 frames (T, H, W, 3) → (T, H, W) bool: the pixels more than FOREGROUND_DISTANCE from their frame's
    median colour in some channel."""
    background = median_colour(frames).astype(np.int16)  # (T, 3)
    margin = round(FOREGROUND_DISTANCE * 255)
    mask = np.zeros(frames.shape[:3], bool)
    for channel in range(3):
        values = frames[..., channel]
        low = (background[:, channel] - margin).reshape(-1, 1, 1)
        high = (background[:, channel] + margin).reshape(-1, 1, 1)
        mask |= (values < low) | (values > high)
    return mask


def _offsets(centres: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The centres against their mean over the frames that have one, scaled (0 where there is none)."""
    out = np.zeros((len(centres), FOREGROUND_FEATURES), np.float32)
    if seen.any():
        out[seen] = (centres[seen] - centres[seen].mean(axis=0)) * FOREGROUND_OFFSET_SCALE
    return out


def _drift(centres: np.ndarray, seen: np.ndarray, snippet_frames: int) -> np.ndarray:
    """The least-squares drift of the centres over the snippets, on every frame (see :func:`drift_features`)."""
    place = np.arange(len(centres)) // max(1, snippet_frames)
    out = np.zeros((len(centres), DRIFT_FEATURES), np.float32)
    t = place[seen].astype(np.float64)
    if len(np.unique(t)) >= 2:
        t -= t.mean()
        slope = t @ (centres[seen] - centres[seen].mean(axis=0)) / (t @ t)
        out[:] = slope * (place[-1] - place[0])
    return out


def _motion_features(frames: np.ndarray, grid: int, snippet_frames: int) -> np.ndarray:
    """The flow per cell, the change and the mean colour: (T, feature_count(grid))."""
    count, height, width = frames.shape[:3]
    rgb = frames.astype(np.float32) / 255.0
    out = np.zeros((count, feature_count(grid)), np.float32)
    out[:, -3:] = rgb.mean(axis=(1, 2))
    if snippet_frames == 1 or count < 2:
        return out
    gray = _smooth(rgb @ np.array([0.299, 0.587, 0.114], np.float32))
    rows = np.array_split(np.arange(height), grid)
    cols = np.array_split(np.arange(width), grid)
    scale = REFERENCE_SIDE / max(height, width)
    for t in range(1, count):
        if t % snippet_frames == 0:
            continue  # the first frame of a snippet: the frame before it is far away in time
        before, after = gray[t - 1], gray[t]
        mid = (before + after) / 2
        ix = np.gradient(mid, axis=1)
        iy = np.gradient(mid, axis=0)
        it = after - before
        flows = []
        for r in rows:
            for c in cols:
                gx, gy, gt = ix[np.ix_(r, c)], iy[np.ix_(r, c)], it[np.ix_(r, c)]
                flows.extend(_lucas_kanade(gx, gy, gt))
        out[t, : 2 * grid * grid] = np.asarray(flows, np.float32) * scale
        out[t, 2 * grid * grid] = float(np.abs(it).mean())
        if (t - 1) % snippet_frames == 0:  # the snippet's first frame: the same motion as its second
            out[t - 1, : 2 * grid * grid + 1] = out[t, : 2 * grid * grid + 1]
    return out


def _lucas_kanade(gx: np.ndarray, gy: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """One cell's flow from the brightness-constancy equations, least squares with a little ridge (a flat
    cell has no flow to speak of, rather than an arbitrary one)."""
    a11, a12, a22 = float((gx * gx).sum()), float((gx * gy).sum()), float((gy * gy).sum())
    b1, b2 = -float((gx * gt).sum()), -float((gy * gt).sum())
    ridge = 1e-4 * gx.size
    a11, a22 = a11 + ridge, a22 + ridge
    det = a11 * a22 - a12 * a12
    return (a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det


def _smooth(gray: np.ndarray) -> np.ndarray:
    """A 3×3 box blur per frame: gradients of a blurred picture follow motion of more than a pixel."""
    padded = np.pad(gray, ((0, 0), (1, 1), (1, 1)), mode="edge")
    total = np.zeros_like(gray)
    for dy in range(3):
        for dx in range(3):
            total += padded[:, dy:dy + gray.shape[1], dx:dx + gray.shape[2]]
    return total / 9.0


def head_input(embeddings: np.ndarray, frames: np.ndarray, **options) -> np.ndarray:
    """What a frozen encoder's head reads for one subclip: its cached embeddings (T, D), and where ``options``
    (:func:`pixel_features`' keywords, :func:`pixel_options` of a config) ask for any, the pixel features of
    its frames beside them (T, D + feature_count(...))."""
    if not pixel_columns(options):
        return embeddings
    return _beside(embeddings, pixel_features(frames, **options))


def pixel_columns(options: dict) -> int:
    """How many columns :func:`pixel_features` gives for ``options`` (its keywords, or :func:`pixel_options` of a
    config): what a head reads beside each embedding."""
    return feature_count(options["grid"], options.get("foreground", False), options.get("background", False),
                         options.get("drift", False))


def _beside(embeddings: np.ndarray, features: np.ndarray) -> np.ndarray:
    if features.shape[0] != embeddings.shape[0]:
        raise ValueError(f"{embeddings.shape[0]} embeddings for {features.shape[0]} frames: the cache is stale")
    return np.hstack([np.asarray(embeddings, np.float32), features])


def sample_head_inputs(sample, **options) -> tuple[np.ndarray, ...]:
    """A trailer sample's head inputs, one per subclip: its embedding arrays (``ml.data.TrailerSample`` after
    ``ml.embeddings.gather_embeddings``), with the pixel features of its frame files beside them where
    ``options`` (as for :func:`head_input`) ask for any."""
    if not pixel_columns(options):
        return tuple(sample.embeddings)
    return tuple(_beside(e, f) for e, f in zip(sample.embeddings, sample_pixel_features(sample, **options),
                                                strict=True))


def sample_pixel_features(sample, **options) -> list[np.ndarray]:
    """The pixel features (:func:`pixel_features`' keywords) of each of a trailer sample's subclips, from its
    frame files (or frame arrays)."""
    return [pixel_features(s, **options) if isinstance(s, np.ndarray) else _file_features(s, options)
            for s in sample.subclips]


@contextmanager
def remembered_features() -> Iterator[None]:
    """Within it, :func:`sample_head_inputs` computes each frame file's pixel features once (the files must not
    change meanwhile): a cross-validation's fits and predictions read the same trailers again and again."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def _file_features(path, options: dict) -> np.ndarray:
    memo = _remembered.get()
    key = ((os.fspath(path), *sorted(options.items()))
           if memo is not None and isinstance(path, str | os.PathLike) else None)
    if key is not None and key in memo:
        return memo[key]
    features = pixel_features(load_frames(path, mmap=True), **options)
    if key is not None:
        memo[key] = features
    return features
