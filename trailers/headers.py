"""Response headers that say what a page may load and use: a Content-Security-Policy with no inline
script (the site's behaviour lives in static/js/), and a Permissions-Policy that turns off the
browser features Reelscore never uses. Both are read from settings, set on every response that has
none of its own."""

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
        return response
