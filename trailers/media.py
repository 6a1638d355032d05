"""Serving stored files to logged-in people, with HTTP range requests so a video player can seek.

Who may see a file is decided by the views; how its bytes travel depends on where it lies:

- an object store (STORAGE_BACKEND=s3): a redirect to a short-lived presigned URL, and the store answers
  the bytes, Range requests included; the bucket stays private;
- a folder, with MEDIA_SERVE=x-accel-redirect or x-sendfile (production behind nginx, Apache or lighttpd):
  an empty answer whose header hands the file to the web server, which sends it (ranges too);
- a folder otherwise (the embedded default): this module sends it. A request with one ``Range: bytes=a-b``
  gets 206 and only those bytes; a range that starts past the end gets 416; anything else (no range,
  several ranges, a malformed header) gets the whole file with 200. Every answer says
  ``Accept-Ranges: bytes``.

What a file is served as never follows a name an uploader chose: only the suffixes of ``store.SERVED_TYPES``
(videos and the site's own pictures) are served as what they name, anything else as bytes to download, and every
answer here says ``Content-Security-Policy: sandbox``. A real video with an HTML page appended, uploaded as
``clip.html``, decodes and is accepted; served as ``text/html`` on the site's own address, its page would act as
whoever opened the link.
"""

from __future__ import annotations

import os
import re
from functools import wraps
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header, http_date
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from .store import is_local, served_type

# At most 19 ASCII digits a side (more than any file's size): a longer number is a malformed header.
RANGE = re.compile(r"^\s*bytes\s*=\s*([0-9]{0,19})\s*-\s*([0-9]{0,19})\s*$", re.IGNORECASE)
CHUNK = 256 * 1024

# A file opened on its own (a link followed, a tab) is no page of the site's: no script runs, nothing is sent as it.
SANDBOX = "sandbox"


def login_or_token_required(view):
    """``login_required`` that also takes the API's token (``Authorization: Token …``): the API hands out these
    files' URLs (a trailer's ``video_url``, a subclip's ``contact_sheet_url``), and a client that logs in with a
    token only must be able to fetch them. A token that is not valid gets 401; no credentials at all, the login page."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            try:  # DRF's own check: None without a "Token" header (the keyword in any case), else the user or a refusal
                found = TokenAuthentication().authenticate(request)
            except AuthenticationFailed as error:
                response = HttpResponse(f"{error.detail}\n", status=401, content_type="text/plain; charset=utf-8")
                response["WWW-Authenticate"] = "Token"
                return response
            if found is not None:
                request.user = found[0]
        return login_required(view)(request, *args, **kwargs)

    return wrapped


def _sandboxed(response):
    response["Content-Security-Policy"] = SANDBOX
    return response


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
    """The stored file of ``field_file`` (a FieldFile), honouring a Range header, wherever it is stored."""
    if not field_file or not field_file.name:
        raise Http404("No file.")
    return serve_stored(request, field_file.storage, field_file.name, content_type=content_type,
                        download_name=download_name)


def serve_stored(request, storage, name: str, *, content_type: str | None = None, download_name: str | None = None):
    """The file ``name`` of ``storage`` (already known to be one this person may see)."""
    content_type = content_type or served_type(name)
    if not is_local(storage):
        return presigned_redirect(storage, name, content_type=content_type, download_name=download_name)
    path = storage.path(name)
    if settings.MEDIA_SERVE == "django":
        return serve_path(request, path, content_type=content_type, download_name=download_name)
    if not os.path.isfile(path):
        raise Http404("The file is missing from storage.")
    response = HttpResponse(content_type=content_type)
    if settings.MEDIA_SERVE == "x-accel-redirect":  # nginx: an `internal` location aliased to MEDIA_ROOT
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_PREFIX + quote(name)
    else:  # Apache's mod_xsendfile, lighttpd: the file's own path
        response["X-Sendfile"] = os.fsdecode(os.path.abspath(path))
    response["Cache-Control"] = "private, max-age=3600"
    if download_name:
        response["Content-Disposition"] = content_disposition_header(True, download_name)
    return _sandboxed(response)


def presigned_redirect(storage, name: str, *, content_type: str, download_name: str | None = None):
    """A redirect to a short-lived signed URL of the object ``name``: the store sends it, ranges and all."""
    parameters = {"ResponseContentType": content_type}
    if download_name:
        parameters["ResponseContentDisposition"] = content_disposition_header(True, download_name)
    response = HttpResponseRedirect(storage.url(name, parameters=parameters))
    # The browser may reuse the redirect (seeking re-requests the video) while the URL is still good.
    expires = getattr(storage, "querystring_expire", 3600)
    response["Cache-Control"] = f"private, max-age={max(0, min(expires // 2, 600))}"
    return response


def serve_path(request, path: str, *, content_type: str | None = None, download_name: str | None = None):
    """The file at ``path`` (already known to be one we may serve), honouring a Range header."""
    try:
        stat = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise Http404("The file is missing from storage.") from None
    if not os.path.isfile(path):
        raise Http404("Not a file.")
    size = stat.st_size
    content_type = content_type or served_type(path)
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
    return _sandboxed(response)
