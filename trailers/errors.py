"""One error type for what a service refuses: ``ServiceError``, with a ``code`` for programs and a ``message``
for people (and the HTTP status that says what kind of refusal it is).

Every refusal a service raises is one (IngestError, ActivationError, TrainingSetupError, TrailerBusy,
RatingsImportError). The API answers it through its exception handler (trailers/api/errors.py) as
``{"detail": message, "code": code}`` with its status; pages and the admin show its message with
:func:`show`. Nothing translates one by hand.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages

NO_ROOM = ("The server has no room to store this just now (its disk is full): nothing was saved. Try again later; "
           "the site's staff can see why in its log.")


class ServiceError(Exception):
    """A request a service refuses. ``field``: the request field it is about, where there is one (the API puts
    the message there too, as for any bad field)."""

    code = "refused"
    status = 400
    field: str | None = None

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message

    def details(self) -> dict[str, Any]:
        """What the API's answer carries beside the detail and the code."""
        return {}


def show(request, error: ServiceError, prefix: str = "") -> None:
    """A page's or the admin's notice of a refusal: its message, as an error."""
    messages.error(request, f"{prefix}{error.message}")
