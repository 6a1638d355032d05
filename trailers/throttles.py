"""Per-user limits on uploads and ratings, and per client address on attempts with a password (rates in
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]).

The API applies them through DRF (the page's script uploads through the API); the upload page's plain
form asks ``upload_refusal`` before each file, and the rating pages ask ``rating_refusal`` before each rating
given or cleared, so a user has one budget of each whichever way they come in, and is told the limit in the
same words. Sign-ups count per client address (``signup_refusal``): a budget per user means nothing where
anyone may make accounts. Likewise the login page and the admin's login ask
``password_refusal`` before checking a password and count each wrong one, and ``POST /api/token/`` counts against
the same budget: guessing passwords is as slow whichever door it knocks on.
"""

import math
from collections.abc import Callable

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


class _PerAddressThrottle(_RateFromSettings, SimpleRateThrottle):
    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SignupRateThrottle(_PerAddressThrottle):
    scope = "signups"


class PasswordRateThrottle(_PerAddressThrottle):
    """Attempts with a username and a password per client address, logged in or not (password guessing): the
    login page, the admin's login and token requests share one budget. The pages count only wrong passwords (a
    class or an office behind one address logs in together); token requests count every one."""

    scope = "passwords"

    def spent(self, request) -> bool:
        """Whether the address has used up its attempts: checked, not counted (``allow_request`` counts)."""
        if self.rate is None:
            return False
        self.key = self.get_cache_key(request, None)
        self.history, self.now = self.cache.get(self.key, []), self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) >= self.num_requests


def _counted(throttle: SimpleRateThrottle, request, words: Callable[[float | None], str]) -> str | None:
    """None when ``throttle`` lets one more through now (and counts it); else ``words`` of how long to wait."""
    return None if throttle.allow_request(request, None) else words(throttle.wait())


def upload_refusal(request) -> str | None:
    """None when the user may upload one more file now (and counts it); else why not, in plain words."""
    return _counted(UploadRateThrottle(), request, upload_limit_words)


def rating_refusal(request) -> str | None:
    """None when the user may give or clear one more rating now (and counts it); else why not, in plain words."""
    return _counted(RatingRateThrottle(), request, rating_limit_words)


def rating_limit_words(wait: float | None) -> str:
    return (f"You have reached the rating limit of {_limit(RatingRateThrottle(), 'ratings')}; try again in "
            f"{_later(wait)}. Nothing was saved.")


def signup_refusal(request) -> str | None:
    """None when one more account may be made from the request's address now (and counts it); else why not."""
    return _counted(SignupRateThrottle(), request, signup_limit_words)


def signup_limit_words(wait: float | None) -> str:
    return (f"Too many accounts were made from your address ({_limit(SignupRateThrottle(), 'accounts')}); try again in "
            f"{_later(wait)}. No account was made.")


def password_refusal(request) -> str | None:
    """None when a password may be checked for the request's address now; else why not, in plain words."""
    throttle = PasswordRateThrottle()
    if not throttle.spent(request):
        return None
    return (f"Too many wrong passwords from your address ({_limit(throttle)}); try again in "
            f"{_later(throttle.wait())}. Nothing was checked.")


def count_wrong_password(request) -> None:
    """One more wrong password from the request's address."""
    PasswordRateThrottle().allow_request(request, None)


def upload_limit_words(wait: float | None) -> str:
    """Why an upload is refused when the user has reached the upload limit, and when to try again."""
    return (f"You have reached the upload limit of {_limit(UploadRateThrottle(), 'files')}; try again in "
            f"{_later(wait)}. Files that were refused count too (each was read and checked).")


def _limit(throttle: SimpleRateThrottle, what: str = "") -> str:
    """The throttle's rate in words: "60 files per hour", "20 per minute"."""
    number, duration = throttle.parse_rate(throttle.get_rate())
    return f"{number}{' ' + what if what else ''} per {_PERIODS.get(duration, f'{duration} seconds')}"


def _later(wait: float | None) -> str:
    seconds = max(1, round(wait or 1))
    return f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
