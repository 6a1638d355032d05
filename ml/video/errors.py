"""The error a file that cannot serve as a trailer raises (no PyAV here: the subclip plan raises it too)."""

from __future__ import annotations

import os


class VideoError(Exception):
    """A file that cannot serve as a trailer; the message says why in plain words.

    ``reason`` is a short stable code for programs (``missing``, ``empty``,
    ``not_media``, ``no_video``, ``undecodable``, ``no_duration``,
    ``too_large``, ``too_short``, ``no_frames``, ``cut_short``); the message is for people.
    """

    def __init__(self, message: str, *, reason: str = "invalid", path: str | os.PathLike | None = None):
        super().__init__(message)
        self.reason = reason
        self.path = None if path is None else str(path)
