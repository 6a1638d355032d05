from django.conf import settings

from ml.intervals import COVERAGE_WORDS, UNLIKE

from .demo_status import current
from .services.notes import NOTE_MAX
from .services.raters import REASON_MAX
from .services.trailers import TITLE_MAX


def reelscore(request):
    # The demo being built in the background (manage.py serve --demo): every page says how far it got.
    # INTERVAL names the predictions' interval ({"percent": "80%", "odds": "4 times in 5"}, from ml.intervals);
    # UNLIKE is the novelty from which a trailer reads as unlike the version's training trailers.
    return {"SIGNUP_ENABLED": settings.SIGNUP_ENABLED, "DEMO_BUILD": current(), "INTERVAL": COVERAGE_WORDS,
            "UNLIKE": UNLIKE,
            "PROCESSING_MAX_ATTEMPTS": settings.PROCESSING_MAX_ATTEMPTS,
            # The longest text each field takes, from the service that keeps it: the inputs' maxlength.
            "LONGEST": {"note": NOTE_MAX, "title": TITLE_MAX, "reason": REASON_MAX}}
