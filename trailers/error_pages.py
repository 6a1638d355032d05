"""The project's own 404 and 500 pages, also with DEBUG on; a page for a visit to a button's address; the
site's own page for a form sent from a page that is out of date (CSRF); and, for a request htmx sent when the
session is gone or the page is out of date, the whole page, never a login page or an error page swapped into
a part of it.

With DEBUG on (``make demo`` and ``make run`` keep it for their throwaway key), Django answers an unknown
address with its technical 404 page, which lists every URL pattern of the site, and a crash with the
technical 500 page. ``OwnErrorPagesMiddleware`` serves templates/404.html and 500.html instead, and sends
the crash's traceback to the log as Django does; ``TECHNICAL_ERROR_PAGES=1`` brings Django's pages back
for debugging. With DEBUG off it does nothing: Django serves these pages itself.
"""

from __future__ import annotations

import logging
import sys
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, JsonResponse
from django.middleware import csrf
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.shortcuts import render, resolve_url
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from django_htmx.http import HttpResponseClientRedirect

log = logging.getLogger("django.request")


def not_found(request, exception=None):
    """The site's 404 page (``handler404``); an address under /api/ that names no endpoint gets the API's JSON
    shape, as every answer of the API does (and, where the address lacks only its last slash, says so)."""
    if request.path.startswith("/api/"):
        detail = f"There is nothing at {request.path}."
        if not request.path.endswith("/") and _resolves(request.path + "/"):
            detail += f" Every address of the API ends with a slash: {request.path}/"
        return JsonResponse({"detail": detail, "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


class CommonMiddleware(DjangoCommonMiddleware):
    """Django's, but an API address without its last slash is not redirected: a client that follows the redirect
    sends a POST, PUT or DELETE again as a GET (and with DEBUG on, Django refuses such a request with a server
    error). It gets the API's 404 instead, which names the address to use."""

    def should_redirect_with_slash(self, request):
        return not request.path_info.startswith("/api/") and super().should_redirect_with_slash(request)


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
            return not_found(request, Http404(f"There is nothing at {request.path}."))
        return response

    def process_exception(self, request, exception):
        if not self.active:
            return None
        if isinstance(exception, Http404):
            return not_found(request, exception)
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


OUT_OF_DATE = ("This page was out of date (you logged in or out in another tab, or it was open a long time), so what "
               "you just sent was not saved.")
NO_COOKIE = ("Your browser sent none of this site's cookies (they are blocked, or were cleared since the page was "
             "loaded), so what you just sent was not saved.")
OTHER_ADDRESS = ("This was sent from another address than the site's own, so it was refused and nothing was saved. "
                 "Use the site at its own address; if that is the address you used, its operator must add it to "
                 "CSRF_TRUSTED_ORIGINS.")


def _csrf_words(reason: str, *, htmx: bool) -> str:
    """What a CSRF refusal's ``reason`` (django.middleware.csrf's REASON_*) means to the person, and what to do."""
    if reason == csrf.REASON_NO_CSRF_COOKIE:
        return NO_COOKIE + (" The page is fresh now: allow this site's cookies and do it again." if htmx else
                            " Allow this site's cookies, reload the page and do it again.")
    if reason.startswith(("Origin checking failed", "Referer checking failed")):
        return OTHER_ADDRESS
    return OUT_OF_DATE + (" The page is fresh now: do it again." if htmx else " Go back, reload the page and do it again.")


def _page_sent_from(request) -> str:
    """The page an htmx request was sent from (this site's own), where the whole page goes back to; else the
    dataset."""
    return request.htmx.current_url_abs_path or resolve_url(settings.LOGIN_REDIRECT_URL)


def csrf_failure(request, reason: str = ""):
    """``CSRF_FAILURE_VIEW``: a form its CSRF check refused, most often sent from a page whose token no longer
    holds. The site's own page (Django's explains the CSRF mechanism to developers; ``TECHNICAL_ERROR_PAGES`` brings
    it back with DEBUG on), which says what happened, that nothing was saved and what to do; from htmx, the page the
    request came from, loaded again with the same words, instead of a page swapped into it."""
    log.warning("Forbidden (CSRF): %s: %s", request.path, reason)
    if settings.DEBUG and settings.TECHNICAL_ERROR_PAGES:
        return django_csrf_failure(request, reason)
    htmx = bool(getattr(request, "htmx", False))
    words = _csrf_words(reason, htmx=htmx)
    if htmx:
        messages.error(request, words)
        return HttpResponseClientRedirect(_page_sent_from(request), status=403)
    return render(request, "403.html", {"exception": words}, status=403)


class HtmxWholePageMiddleware:
    """A request htmx sent (a rating button, a live part that polls) whose session has ended gets a redirect of the
    whole page to the login page, back to the page it came from afterwards: ``login_required``'s redirect, which
    the browser follows inside the request, put the login page where the rating card was, and the click was lost
    without a word."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not (getattr(request, "htmx", False) and response.status_code == 302):
            return response
        if urlsplit(response.url).path != resolve_url(settings.LOGIN_URL):
            return response
        back = _page_sent_from(request)
        # A click (a POST) was lost; a page's own polling (a GET) was not anything the person did.
        lost = "" if request.method in ("GET", "HEAD") else ", so what you just did was not saved"
        messages.info(request, f"You were logged out{lost}: log in to carry on.")
        login = redirect_to_login(back, settings.LOGIN_URL, REDIRECT_FIELD_NAME)
        return HttpResponseClientRedirect(login.url)

