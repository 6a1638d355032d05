"""Per-user limits on uploads and ratings (rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]).

The API applies them through DRF (the page's script uploads through the API); the upload page's plain
form asks ``upload_refusal`` before each file, so a user has one upload budget whichever way the files
come in, and is told the limit in the same words.
"""

import math

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

_PERIODS = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


class _RateFromSettings:
    def get_rate(self):
        # Read at request time (DRF's class attribute is frozen at import), so a changed setting applies.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class _ScopedUserThrottle(_RateFromSettings, UserRateThrottle):
    pass


class UploadRateThrottle(_ScopedUserThrottle):
    scope = "uploads"


class RatingRateThrottle(_ScopedUserThrottle):
    scope = "ratings"


class TokenRateThrottle(_RateFromSettings, SimpleRateThrottle):
    """Token requests (a username and a password) per client address, logged in or not: password guessing."""

    scope = "token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def upload_refusal(request) -> str | None:
    """None when the user may upload one more file now (and counts it); else why not, in plain words."""
    throttle = UploadRateThrottle()
    if throttle.allow_request(request, None):
        return None
    return upload_limit_words(throttle.wait())


def upload_limit_words(wait: float | None) -> str:
    """Why an upload is refused when the user has reached the upload limit, and when to try again."""
    throttle = UploadRateThrottle()
    throttle.num_requests, throttle.duration = throttle.parse_rate(throttle.get_rate())
    seconds = max(1, round(wait or 1))
    later = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return (f"You have reached the upload limit of {throttle.num_requests} files per "
            f"{_PERIODS.get(throttle.duration, f'{throttle.duration} seconds')}; try again in {later}. Files that "
            "were refused count too (each was read and checked).")
