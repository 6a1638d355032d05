"""The API's error shape: ``{"detail": "...", "code": "..."}`` (a bad field: its messages under its name).

DRF answers ``{"detail": ...}``; this handler adds the error's code beside it (``throttled``,
``not_authenticated``, ``permission_denied``, ``not_found``, ...), as the API's own refusals and those of
a body no one can read (trailers/bodies.py) give it, so that a client reads every refusal the same way.
"""

from __future__ import annotations

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: DRF's answer, with the code beside the detail."""
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        code = exc.get_codes() if hasattr(exc, "get_codes") else None
        if isinstance(code, str):
            response.data.setdefault("code", code)
    return response
