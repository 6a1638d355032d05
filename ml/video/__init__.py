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

The package, a file per job:

- ``errors``: :class:`VideoError`, what a file that cannot serve raises;
- ``probe``: :func:`probe` and :class:`VideoInfo`, and the stream helpers;
- ``plan``: :func:`plan_subclips` and :class:`SubclipPlan` (pure; no PyAV);
- ``convert``: decoded frames to upright, resized, cropped arrays;
- ``decoder``: the exact-seek decoder, one open file and its decoder;
- ``fanout``: units of work, and readers lent to the threads that decode them;
- ``sample``: :func:`sample_frames` and :func:`sample_trailer`.

Public names (other code and outside checks rely on them; importable from ``ml.video``):
:class:`VideoError`, :class:`VideoInfo`, :func:`probe`, :class:`SamplingConfig` (declared in
``ml.config``), :class:`SubclipPlan`, :func:`plan_subclips`, :class:`SampledSubclip`,
:func:`sample_frames` and :func:`sample_trailer`.

Times are in seconds from the first video frame of the file.
"""

from ml.config import SamplingConfig

from .convert import resized_shape
from .errors import VideoError
from .plan import SubclipPlan, plan_subclips
from .probe import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, VideoInfo, probe
from .sample import SampledSubclip, sample_frames, sample_trailer

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
