"""The API's error shape: ``{"detail": "...", "code": "..."}`` (a bad field: its messages under its name).

A service's refusal (trailers.errors.ServiceError: a refused upload, a version that cannot be activated, a
trailer being processed, ...) is answered here, once, with its message, code and status; no view translates
one by hand. DRF answers its own errors ``{"detail": ...}``: this handler adds the error's code beside it
(``throttled``, ``not_authenticated``, ``permission_denied``, ``not_found``, ...), as a body no one can
read is refused too (trailers/bodies.py), so that a client reads every refusal the same way.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from trailers.errors import ServiceError


def exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: a service's refusal, or DRF's answer with the code beside the detail."""
    if isinstance(exc, ServiceError):
        on_field = {exc.field: [exc.message]} if exc.field else {}
        return Response({"detail": exc.message, "code": exc.code, **on_field, **exc.details()}, status=exc.status)
    # As DRF's handler does, so that the code is known here too.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and set(response.data) == {"non_field_errors"}:
        # A refusal of the body as a whole (a wrong password for a token, a body that is no JSON object) is no bad
        # field's: it gets the detail and code every other refusal has, its messages kept where DRF put them.
        codes = exc.get_codes().get("non_field_errors", []) if isinstance(exc.get_codes(), dict) else []
        response.data = {"detail": " ".join(str(m) for m in response.data["non_field_errors"]),
                         "code": codes[0] if codes and isinstance(codes[0], str) else "invalid", **response.data}
    elif response is not None and isinstance(response.data, dict) and "detail" in response.data:
        code = exc.get_codes() if hasattr(exc, "get_codes") else None
        if isinstance(code, str):
            response.data.setdefault("code", code)
    return response
