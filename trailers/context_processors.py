from django.conf import settings


def reelscore(request):
    from .demo_status import current

    # The demo being built in the background (manage.py serve --demo): every page says how far it got.
    return {"SIGNUP_ENABLED": settings.SIGNUP_ENABLED, "DEMO_BUILD": current()}
