"""Decoded frames to arrays: upright, resized (the seed's way) and center-cropped RGB."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from .probe import Geometry

#: The seed resized the shorter side to 255 before a 224 center crop.
_SEED_RESIZE_RATIO = Fraction(255, 224)


def resized_shape(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) after the seed's resize for a ``size`` crop: shorter side to round(size·255/224).

    The longer side is truncated as torchvision's ``Resize`` does.
    """
    short = int(round(size * _SEED_RESIZE_RATIO))
    if width <= height:
        return short, int(short * height / width)
    return int(short * width / height), short


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

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
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
