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

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload, TemporaryFileUploadHandler
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

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


def incoming_folder() -> Path:
    """Where uploads wait while they are checked: MEDIA_ROOT/incoming, made when first needed (a machine that takes
    no uploads, a worker, never makes it). Beside the media on the filesystem backend, so an accepted file is moved
    into place, not copied; an object store gets it from here."""
    folder = Path(settings.MEDIA_ROOT) / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
