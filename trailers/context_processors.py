from django.conf import settings

from .demo_status import current


def reelscore(request):
    # The demo being built in the background (manage.py serve --demo): every page says how far it got.
    return {"SIGNUP_ENABLED": settings.SIGNUP_ENABLED, "DEMO_BUILD": current()}
