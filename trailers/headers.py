"""Response headers that say what a page may load and use: a Content-Security-Policy with no inline
script (the site's behaviour lives in static/js/), and a Permissions-Policy that turns off the
browser features Reelscore never uses. Both are read from settings, set on every response that has
none of its own.

And pages are never kept: an HTML answer that says nothing of caching gets ``Cache-Control: no-store``, so the
browser's Back asks for the page again instead of showing it as it was (a rating given since shown as not given,
a deleted trailer with its buttons); static/js/reelscore.js loads again a page the browser froze whole and
brought back (its back-forward cache)."""

from __future__ import annotations

from django.conf import settings


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.headers = {
            "Content-Security-Policy": settings.CONTENT_SECURITY_POLICY,
            "Permissions-Policy": settings.PERMISSIONS_POLICY,
        }

    def __call__(self, request):
        response = self.get_response(request)
        for name, value in self.headers.items():
            if value and name not in response:
                response[name] = value
        if "Cache-Control" not in response and response.get("Content-Type", "").startswith("text/html"):
            response["Cache-Control"] = "no-store"
        return response
