"""Per-user limits on uploads and ratings (rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])."""

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class _ScopedUserThrottle(UserRateThrottle):
    def get_rate(self):
        # Read at request time (DRF's class attribute is frozen at import), so a changed setting applies.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UploadRateThrottle(_ScopedUserThrottle):
    scope = "uploads"


class RatingRateThrottle(_ScopedUserThrottle):
    scope = "ratings"
