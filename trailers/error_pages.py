"""The project's own 404 and 500 pages, also with DEBUG on; and a page for a visit to a button's address.

With DEBUG on (``make demo`` and ``make run`` keep it for their throwaway key), Django answers an unknown
address with its technical 404 page, which lists every URL pattern of the site, and a crash with the
technical 500 page. ``OwnErrorPagesMiddleware`` serves templates/404.html and 500.html instead, and sends
the crash's traceback to the log as Django does; ``TECHNICAL_ERROR_PAGES=1`` brings Django's pages back
for debugging. With DEBUG off it does nothing: Django serves these pages itself.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.shortcuts import render
from django.views import defaults

log = logging.getLogger("django.request")


class OwnErrorPagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    @property
    def active(self) -> bool:
        return settings.DEBUG and not settings.TECHNICAL_ERROR_PAGES

    def __call__(self, request):
        response = self.get_response(request)
        if self.active and response.status_code == 404 and request.resolver_match is None:
            # No URL pattern matched: the technical page would list them all.
            return defaults.page_not_found(request, Http404(f"There is nothing at {request.path}."))
        return response

    def process_exception(self, request, exception):
        if not self.active:
            return None
        if isinstance(exception, Http404):
            return defaults.page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return None  # Django serves its 403 handler whatever DEBUG says
        if isinstance(exception, SuspiciousOperation | BadRequest):
            log.warning("Bad request: %s: %s", request.path, exception)
            return defaults.bad_request(request, exception)
        log.error("Internal Server Error: %s", request.path, exc_info=sys.exc_info())
        return defaults.server_error(request)


class MethodNotAllowedPageMiddleware:
    """A page, not a blank screen, for an address visited with a method it does not take (a bookmarked or typed
    address of a form's button: ``GET /trailers/3/delete/``). Django's answer has an empty body; the API's own
    405s (JSON, with the reason) are left as they are. The status and the Allow header stay."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.content or request.path.startswith("/api/"):
            return response
        page = render(request, "405.html", {"allowed": response.get("Allow", "")}, status=405)
        if response.has_header("Allow"):
            page["Allow"] = response["Allow"]
        return page
