"""Refusing a too-large trailer while it arrives, not after it has been written to disk.

``TrailerSizeLimit`` is an upload handler put first in a request's handlers. It
counts each file's bytes as they stream in and stops reading the upload at the
first byte past ``TRAILER_MAX_BYTES``. An endpoint that takes one file at a
time (the upload page's per-file requests, the API) stops reading the request
there, and refuses at once, reading none of it, when the request's declared
length is already past the limit. The page's plain multi-file form (for
browsers without JavaScript) skips the rest of that one file, storing none of
it, and goes on with the next. The view finds the refusals in
``too_large_uploads(request)``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload, TemporaryFileUploadHandler
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

log = logging.getLogger(__name__)

# Room for the multipart envelope (boundaries, headers, a CSRF token, a title) around one file.
ENVELOPE_BYTES = 64 * 1024


class TrailerSizeLimit(FileUploadHandler):
    def __init__(self, request=None, *, single_file: bool = False):
        super().__init__(request)
        self.single_file = single_file
        self.limit = settings.TRAILER_MAX_BYTES
        self.received = 0
        request.too_large_uploads = []

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if self.single_file and content_length and content_length > self.limit + ENVELOPE_BYTES:
            self.request.too_large_uploads.append(("", content_length))
            return QueryDict(encoding=encoding), MultiValueDict()  # parse nothing: the body is never read
        return None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.too_large_uploads.append((self.file_name or "", None))
            if self.single_file:
                raise StopUpload(connection_reset=True)
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler builds the file


# An upload still in incoming/ this long after it was last written was left by a web process killed while it received
# or checked it: no upload takes that long (nginx's and gunicorn's timeouts are minutes).
ABANDONED_AFTER_SECONDS = 6 * 3600
_LOOKED_EVERY_SECONDS = 600
_looked_at = 0.0


def incoming_folder() -> Path:
    """Where uploads wait while they are checked: MEDIA_ROOT/incoming, made when first needed (a machine that takes
    no uploads, a worker, never makes it). Beside the media on the filesystem backend, so an accepted file is moved
    into place, not copied; an object store gets it from here. Where it cannot be written, the system's temporary
    folder, with an error in the log saying so (an upload still works)."""
    folder = Path(settings.MEDIA_ROOT) / "incoming"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"{folder} cannot be written by this process")
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / "reelscore-incoming"
        log.error("uploads cannot wait in %s (%s): they wait in %s instead; make MEDIA_ROOT writable by the web "
                  "server's user", folder, exc, fallback)
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback
    _forget_abandoned(folder)
    return folder


def _forget_abandoned(folder: Path) -> None:
    """Delete the uploads left in ``folder`` by a web process killed mid-upload (ABANDONED_AFTER_SECONDS old), at most
    every few minutes per process; the folders in it (the filesystem backend's work folders) are not uploads."""
    global _looked_at
    now = time.time()
    if now - _looked_at < _LOOKED_EVERY_SECONDS:
        return
    _looked_at = now
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
                if entry.is_file(follow_symlinks=False) and age > ABANDONED_AFTER_SECONDS:
                    os.unlink(entry.path)
                    log.info("deleted %s: an upload abandoned %.0f hours ago", entry.path, age / 3600)
            except OSError:
                continue  # gone meanwhile, or another process's


class IncomingUploadedFile(TemporaryUploadedFile):
    """Django's upload written to a temporary file as it arrives, in ``incoming_folder()`` rather than the system's
    temporary folder (which may be memory, and is not where the README says uploads wait)."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        file = tempfile.NamedTemporaryFile(suffix=".upload" + os.path.splitext(name)[1], dir=incoming_folder())
        UploadedFile.__init__(self, file, name, content_type, size, charset, content_type_extra)


class IncomingFileUploadHandler(TemporaryFileUploadHandler):
    """Django's handler for uploads past FILE_UPLOAD_MAX_MEMORY_SIZE, writing them to ``IncomingUploadedFile``."""

    def new_file(self, *args, **kwargs):
        FileUploadHandler.new_file(self, *args, **kwargs)
        self.file = IncomingUploadedFile(self.file_name, self.content_type, 0, self.charset, self.content_type_extra)


def install(request, *, single_file: bool = False) -> None:
    """Put the size limit in front of ``request``'s upload handlers (before its body is parsed)."""
    request.upload_handlers.insert(0, TrailerSizeLimit(request, single_file=single_file))


def too_large_uploads(request) -> list[tuple[str, int | None]]:
    """(file name or "", declared size or None) of each upload refused for its size; ask once the body is parsed."""
    return getattr(request, "too_large_uploads", [])



def more_than_one_file(files) -> str | None:
    """The refusal for an upload with several "file" parts (it would silently keep one), or None."""
    count = len(files.getlist("file"))
    return f"Send one file per upload: this one had {count} parts named “file”." if count > 1 else None
