"""Logging filters for settings.LOGGING."""

from __future__ import annotations

import logging


class ClientErrorsInOneLine(logging.Filter):
    """django.request logs a refusal the client caused (a 403 for a missing permission, a 404) with the exception's
    traceback, which says nothing an operator needs and buries the errors that matter: keep the line, drop the
    traceback. A server error (5xx) keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
