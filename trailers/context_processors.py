from django.conf import settings


def reelscore(request):
    return {"SIGNUP_ENABLED": settings.SIGNUP_ENABLED}
