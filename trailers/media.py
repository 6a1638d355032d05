"""Serving stored files to logged-in people, with HTTP range requests so a video player can seek.

A request with one ``Range: bytes=a-b`` gets 206 and only those bytes; a range
that starts past the end gets 416; anything else (no range, several ranges,
a malformed header) gets the whole file with 200. Every answer says
``Accept-Ranges: bytes``.
"""

from __future__ import annotations

import mimetypes
import os
import re

from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header, http_date

# At most 19 ASCII digits a side (more than any file's size): a longer number is a malformed header.
RANGE = re.compile(r"^\s*bytes\s*=\s*([0-9]{0,19})\s*-\s*([0-9]{0,19})\s*$", re.IGNORECASE)
CHUNK = 256 * 1024

mimetypes.add_type("video/x-matroska", ".mkv")
mimetypes.add_type("video/webm", ".webm")
mimetypes.add_type("video/x-flv", ".flv")


def _chunks(path: str, start: int, length: int):
    with open(path, "rb") as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            data = handle.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data


def parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """(first, last) byte of a single satisfiable range; None when the header is to be ignored; False when unsatisfiable."""
    match = RANGE.match(header or "")
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            return False
        return max(0, size - n), size - 1
    start = int(first)
    if start >= size:
        return False
    end = int(last) if last else size - 1
    if end < start:
        return None
    return start, min(end, size - 1)


def serve_file(request, field_file, *, content_type: str | None = None, download_name: str | None = None):
    """The stored file of ``field_file`` (a FieldFile on filesystem storage), honouring a Range header."""
    if not field_file or not field_file.name:
        raise Http404("No file.")
    try:
        path = field_file.path
    except NotImplementedError:
        raise Http404("This storage cannot serve files by path.") from None
    return serve_path(request, path, content_type=content_type, download_name=download_name)


def serve_path(request, path: str, *, content_type: str | None = None, download_name: str | None = None):
    """The file at ``path`` (already known to be one we may serve), honouring a Range header."""
    try:
        stat = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise Http404("The file is missing from storage.") from None
    if not os.path.isfile(path):
        raise Http404("Not a file.")
    size = stat.st_size
    content_type = content_type or mimetypes.guess_type(path)[0] or "application/octet-stream"
    wanted = parse_range(request.headers.get("Range", ""), size) if request.method == "GET" else None

    if wanted is False:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif wanted is None:
        response = FileResponse(open(path, "rb"), content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        first, last = wanted
        length = last - first + 1
        response = StreamingHttpResponse(_chunks(path, first, length), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Cache-Control"] = "private, max-age=3600"
    if download_name:
        response["Content-Disposition"] = content_disposition_header(True, download_name)  # a download, under this name
    return response
