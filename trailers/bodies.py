"""A request body that cannot be read gets a 4xx with the reason, in the shape its view answers
refusals in: never Django's bare "Bad Request (400)" page where a client expects JSON, never a 500.

``RequestBodyMiddleware`` does it for every view, in one place:

- Before the view, without reading the body, it refuses a Content-Type header that cannot be parsed
  at all (400), a body in a charset other than UTF-8 (415: some of Python's codecs, such as idna,
  raise instead of decoding), and multipart/form-data without a usable boundary (400).
- It makes a multipart body that ends before its closing boundary (cut off on the way, or sent with
  another boundary than its Content-Type names) an error when it is read: Django keeps the parts
  that happened to arrive, so a trailer cut short could be stored, or a run started with defaults.
- While the view reads the body: data over DATA_UPLOAD_MAX_MEMORY_SIZE (413), too many fields or
  files, a multipart body the parser refuses, a connection that broke off (400); and no room left to write
  it, or to keep what it holds (the disk or quota full: 503, the reason in the log too).

The shape: the API's views answer ``{"detail": reason, "code": code}``, the API's one error shape
(trailers/api/errors.py; the upload page's script uploads through the API and reads it too); any other
view gets a page with the reason (but for a form that CsrfViewMiddleware reads before the view: a
body it cannot read there still gets Django's own 400 page).

``WSGIHandler`` and ``ASGIHandler`` (config/wsgi.py, config/asgi.py) build requests whose
Content-Type header cannot be parsed instead of failing before any middleware runs.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.handlers import asgi, wsgi
from django.http import JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from rest_framework.views import APIView

from ml.files import out_of_room
from trailers.errors import NO_ROOM
from trailers.uploads import ENVELOPE_BYTES

READABLE_CHARSETS = {"utf-8", "ascii"}  # as codecs.lookup() names them

log = logging.getLogger("django.request")


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    reason: str


class IncompleteMultipart(MultiPartParserError):
    """A multipart body that ended before its closing boundary."""


class ClosingBoundaryCheck:
    """A multipart request's body stream, read as before, except that reaching its end without having
    passed the closing boundary raises IncompleteMultipart instead of ending a shorter form."""

    def __init__(self, stream, boundary: str):
        self._stream = stream
        self._boundary = boundary
        self._closing = b"--" + boundary.encode("ascii") + b"--"
        self._tail = b""  # the end of what was read so far, for a boundary split between two reads
        self._closed = False

    def read(self, size=-1):
        data = self._passed(self._stream.read(size))
        if size is None or size < 0 or (size and not data):  # all the rest was read, or nothing was left
            self._check_closed()
        return data

    def readline(self, size=-1):
        data = self._passed(self._stream.readline(size))
        if size != 0 and not data:
            self._check_closed()
        return data

    def _passed(self, data: bytes) -> bytes:
        if data and not self._closed:
            seen = self._tail + data
            self._closed = self._closing in seen
            self._tail = seen[-(len(self._closing) - 1):]
        return data

    def _check_closed(self) -> None:
        if not self._closed:
            raise IncompleteMultipart(
                f"The multipart body ends before its closing boundary “--{self._boundary}--”: it was cut off, "
                "or its parts were sent with another boundary than its Content-Type names."
            )


def _body_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def refusal_before_reading(request) -> Refusal | None:
    """Why ``request``'s body cannot be read, where its headers already say so; None when they do not."""
    unreadable = getattr(request, "unreadable_content_type", "")
    if unreadable:
        return Refusal(400, "bad_content_type", f"The Content-Type header cannot be read: {unreadable}")
    if not _body_length(request):
        return None
    charset = request.content_params.get("charset")
    if charset is not None:
        try:
            name = codecs.lookup(charset).name
        except LookupError:
            name = None
        if name not in READABLE_CHARSETS:
            return Refusal(415, "bad_charset",
                           f"Send the body in UTF-8: its Content-Type says charset={charset}, which this site does "
                           "not read.")
    if request.content_type == "multipart/form-data":
        boundary = request.content_params.get("boundary")
        if not boundary:
            return Refusal(400, "bad_multipart",
                           "The body is multipart/form-data, but its Content-Type names no boundary "
                           "(“multipart/form-data; boundary=…”) to tell its parts apart.")
        if not MultiPartParser.boundary_re.fullmatch(boundary):  # Django's own rule
            return Refusal(400, "bad_multipart",
                           "The multipart boundary in the Content-Type is not a valid one: it must be letters, "
                           "digits and punctuation (spaces only inside), at most 201 characters.")
    return None


def takes_files(most_bytes: Callable[[], int | None]):
    """Mark a view (a function, or an API view's handler method) as one that reads files in its body:
    ``most_bytes()`` is the most a body sent to it by a logged-in client may hold, None where the view counts its
    files' bytes itself (``trailers.uploads``). Any other view, and this one for a client not logged in, reads
    what DATA_UPLOAD_MAX_MEMORY_SIZE allows and no more: Django writes a form's files to disk before any view
    decides whether it wants them, and CsrfViewMiddleware reads a form before the login is checked."""

    def mark(view):
        view.takes_files = most_bytes
        return view

    return mark


def _files_limit(request, view_func) -> Callable[[], int | None] | None:
    view_class = getattr(view_func, "cls", None)
    if view_class is None:
        return getattr(view_func, "takes_files", None)
    actions = getattr(view_func, "actions", None) or {}  # a viewset's: method -> action
    method = request.method.lower()
    return getattr(getattr(view_class, actions.get(method, method), None), "takes_files", None)


def refusal_for_size(request, view_func) -> Refusal | None:
    """413 before the body is read, where its declared length is past what the view may be sent."""
    length = _body_length(request)
    files_limit = _files_limit(request, view_func)
    if files_limit is not None and _logged_in(request, view_func):
        most = files_limit()
        if most is None or length <= most + ENVELOPE_BYTES:
            return None
        return Refusal(413, "body_too_large",
                       f"The request body is too large: {filesizeformat(length)}, and this address takes files of "
                       f"at most {filesizeformat(most)}.")
    most = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if most is None or length <= most + ENVELOPE_BYTES:
        return None
    return Refusal(413, "body_too_large", _TOO_LARGE.format(limit=filesizeformat(most)) + (
        "" if files_limit is None else " Log in first to send a file here."))


def _logged_in(request, view_func) -> bool:
    """A session's user, or an API token, which DRF checks before the view reads the body (a page reads no token:
    there a header is nothing). Asked of views that take files only: it reads the session, on every request else."""
    if request.user.is_authenticated:
        return True
    return _is_api_view(view_func) and request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("token ")


_TOO_LARGE = ("The request body is too large: this site reads at most {limit} of JSON or form data (a trailer file, "
              "sent as multipart/form-data to the upload page or POST /api/trailers/, has its own limit).")


def refusal_while_reading(exception: Exception) -> Refusal | None:
    """Why the body could not be read (or what it holds kept), for an exception raised while reading it (or
    writing it down); None for any other."""
    if out_of_room(exception):
        log.error("No room to write a request's body or what it holds: %s", exception)
        return Refusal(503, "no_space", NO_ROOM)
    if isinstance(exception, RequestDataTooBig):
        return Refusal(413, "body_too_large",
                       _TOO_LARGE.format(limit=filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)))
    if isinstance(exception, TooManyFieldsSent):
        return Refusal(400, "too_many_fields",
                       f"The request sends more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields.")
    if isinstance(exception, TooManyFilesSent):
        return Refusal(400, "too_many_files",
                       f"The request sends more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files.")
    if isinstance(exception, IncompleteMultipart):
        return Refusal(400, "bad_multipart", str(exception))
    if isinstance(exception, MultiPartParserError):
        return Refusal(400, "bad_multipart", f"The multipart body cannot be read: {exception}")
    if isinstance(exception, UnreadablePostError):
        return Refusal(400, "unreadable_body",
                       "The request body could not be read: the connection broke off before all of it arrived.")
    return None


class RequestBodyMiddleware:
    """Put it before CsrfViewMiddleware, which reads forms."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        refusal = refusal_before_reading(request) or refusal_for_size(request, view_func)
        if refusal:
            return _answer(request, view_func, refusal)
        if _body_length(request) and request.content_type == "multipart/form-data":
            # HttpRequest.read() reads from _stream: the one way in before anything parses the body.
            request._stream = ClosingBoundaryCheck(request._stream, request.content_params["boundary"])
        return None

    def process_exception(self, request, exception):
        refusal = refusal_while_reading(exception)
        if refusal is None or request.resolver_match is None:
            return None
        return _answer(request, request.resolver_match.func, refusal)


def _answer(request, view, refusal: Refusal):
    if _is_api_view(view):
        return JsonResponse({"detail": refusal.reason, "code": refusal.code}, status=refusal.status)
    template = "503.html" if refusal.status == 503 else "bad_request.html"
    return render(request, template, {"reason": refusal.reason}, status=refusal.status)


def _is_api_view(view) -> bool:
    return isinstance(getattr(view, "cls", None), type) and issubclass(view.cls, APIView)


# --- requests whose Content-Type cannot be parsed ---------------------------------------------------


class _ReadableContentType:
    # Django parses the Content-Type while it builds the request, before any middleware: a parameter
    # it cannot decode (`charset*=bogus''x`, RFC 2231) raised ValueError there, a 500 on any URL. Such a
    # request is built with no content type, and RequestBodyMiddleware refuses it with the reason.
    unreadable_content_type = ""

    def _set_content_type_params(self, meta):
        try:
            super()._set_content_type_params(meta)
        except ValueError as exc:
            self.content_type, self.content_params = "", {}
            self.unreadable_content_type = str(exc)


class WSGIRequest(_ReadableContentType, wsgi.WSGIRequest):
    pass


class ASGIRequest(_ReadableContentType, asgi.ASGIRequest):
    pass


class WSGIHandler(wsgi.WSGIHandler):
    request_class = WSGIRequest


class ASGIHandler(asgi.ASGIHandler):
    request_class = ASGIRequest
