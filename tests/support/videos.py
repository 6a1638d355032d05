"""Odd video files for the ml tests, made by the FFmpeg binary that imageio-ffmpeg ships (the ``ffmpeg`` fixture of
tests/ml/conftest.py gives its path)."""

from __future__ import annotations

import subprocess


def run_ffmpeg(ffmpeg: str, *args: str) -> None:
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)
