"""Video fixtures for the ml tests: small real files made on the spot, good and bad.

Frame-index videos (every frame paints its own number) come from
``ml.synth.write_index_video``; odd files (display rotation, truncation,
audio only) come from the FFmpeg binary that imageio-ffmpeg ships.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml.synth import write_index_video


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="session")
def index_video(tmp_path_factory):
    """Make (once per session) a frame-index video; returns (path, frame times in seconds)."""
    folder = tmp_path_factory.mktemp("index-videos")
    made: dict[tuple, tuple[Path, list[float]]] = {}

    def make(suffix: str = ".mp4", *, seconds: float = 6.0, fps: int = 24, width: int = 160, height: int = 120,
             vfr: bool = False, codec: str | None = None, audio: bool = False, gop: int | None = None):
        key = (suffix, seconds, fps, width, height, vfr, codec, audio, gop)
        if key not in made:
            name = "-".join(str(part) for part in key[1:] if part not in (None, False)).replace(".", "_")
            path = folder / f"index-{name}{suffix}"
            frame_times = None
            n_frames = int(round(seconds * fps))
            if vfr:
                # Frame gaps wander between 1/60 s and 1/10 s: a phone's variable frame rate.
                gaps = np.random.default_rng(7).uniform(1 / 60, 1 / 10, size=n_frames)
                frame_times = np.concatenate([[0.0], np.cumsum(gaps)[:-1]])
                frame_times = list(np.round(frame_times, 3))  # whole milliseconds survive every container
            times = write_index_video(path, n_frames=n_frames, fps=fps, width=width, height=height,
                                      frame_times=frame_times, codec=codec, audio=audio, gop=gop)
            made[key] = (path, times)
        return made[key]

    return make
