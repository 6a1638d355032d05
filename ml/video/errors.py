"""The error a file that cannot serve as a trailer raises (no PyAV here: the subclip plan raises it too)."""

from __future__ import annotations

import os


class VideoError(Exception):
    """A file that cannot serve as a trailer; the message says why in plain words.

    ``reason`` is a short stable code for programs (``missing``, ``empty``,
    ``not_media``, ``no_video``, ``undecodable``, ``no_duration``,
    ``too_large``, ``too_short``, ``no_frames``, ``cut_short``, ``damaged``); the message is for people.
    """

    def __init__(self, message: str, *, reason: str = "invalid", path: str | os.PathLike | None = None):
        super().__init__(message)
        self.reason = reason
        self.path = None if path is None else str(path)

    def naming(self, name: str) -> str:
        """The message with the file called ``name``, as people know it, where it names the copy it read (an
        upload's temporary file, a stored file's hashed name)."""
        if not self.path or not name:
            return str(self)
        return str(self).replace(os.path.basename(self.path), name)
