"""Decoded frames to arrays: upright, resized (the seed's way) and center-cropped RGB."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from .probe import Geometry

#: The seed resized the shorter side to 255 before a 224 center crop.
_SEED_RESIZE_RATIO = Fraction(255, 224)


def _resized_short(size: int) -> int:
    """The shorter side the seed's resize gives for a ``size`` crop: round(size·255/224)."""
    return int(round(size * _SEED_RESIZE_RATIO))


def resized_shape(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) after the seed's resize for a ``size`` crop: shorter side to round(size·255/224).

    The longer side is truncated as torchvision's ``Resize`` does.
    """
    short = _resized_short(size)
    if width <= height:
        return short, int(short * height / width)
    return int(short * width / height), short


#: Beyond this ratio of the longer side to the shorter, a frame is cropped first and then scaled: scaling a
#: 1×7680 picture's shorter side to 255 first would make it 255×1,958,400 (more than FFmpeg's scaler takes, and
#: hundreds of MB a frame). The centre square is the same; only its edge pixels' rounding differs.
_CROP_FIRST_ASPECT = 8


class Converter:
    """Turns a decoded frame into an upright, resized, center-cropped RGB array."""

    def __init__(self, geometry: Geometry, size: int | None):
        self.geometry = geometry
        self.size = size
        if size is None:
            out_w, out_h = geometry.display_width, geometry.display_height
        else:
            out_w, out_h = resized_shape(geometry.display_width, geometry.display_height, size)
        self.upright = (out_w, out_h)
        # Scale in stored orientation, then turn: scaling the small picture is cheaper.
        self.scaled = (out_h, out_w) if geometry.quarter_turns % 2 else (out_w, out_h)
        # One conversion context for every frame (a frame's own reformat() makes a new one each time).
        self.reformatter = VideoReformatter()
        long, short = sorted((geometry.display_width, geometry.display_height), reverse=True)
        self.crop_first = size is not None and long > _CROP_FIRST_ASPECT * short

    def _cropped_then_scaled(self, frame: av.VideoFrame) -> np.ndarray:
        g = self.geometry
        stored = (g.display_height, g.display_width) if g.quarter_turns % 2 else (g.display_width, g.display_height)
        rgb = self.reformatter.reformat(frame, width=stored[0], height=stored[1], format="rgb24").to_ndarray()
        if g.quarter_turns:
            rgb = np.rot90(rgb, g.quarter_turns)
        height, width = rgb.shape[:2]
        # The part of the picture the seed's crop keeps: size / round(size·255/224) of the shorter side, centred.
        side = max(1, int(round(min(height, width) * self.size / _resized_short(self.size))))
        top, left = (height - side) // 2, (width - side) // 2
        square = Image.fromarray(np.ascontiguousarray(rgb[top:top + side, left:left + side]))
        return np.asarray(square.resize((self.size, self.size), Image.BILINEAR))

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        if self.crop_first:
            return self._cropped_then_scaled(frame)
        width, height = self.scaled
        rgb = self.reformatter.reformat(frame, width=width, height=height, format="rgb24",
                                        interpolation="BILINEAR").to_ndarray()
        if self.geometry.quarter_turns:
            rgb = np.rot90(rgb, self.geometry.quarter_turns)
        if self.size is not None:
            out_w, out_h = self.upright
            # torchvision's CenterCrop offsets: int(round((dim - size) / 2)).
            top = int(round((out_h - self.size) / 2.0))
            left = int(round((out_w - self.size) / 2.0))
            rgb = rgb[top : top + self.size, left : left + self.size]
        return np.ascontiguousarray(rgb)
