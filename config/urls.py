from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from trailers.forms import LoginForm
from trailers.views import password_reset


def favicon(request):
    # Resolved per request: with DEBUG off the name carries the collected file's hash.
    return HttpResponseRedirect(static("img/favicon.ico"))


# Stored files are never public: trailers and contact sheets are served by the pages' own
# login-required views (with range requests), and MEDIA_URL by a staff-only view (for the admin).
urlpatterns = [
    # Browsers ask for /favicon.ico on pages that name no icon (the API's docs, a file opened directly).
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    # Before Django's own account pages: the login refusal said once, and a reset only where email can be sent.
    path("accounts/login/", LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("accounts/password_reset/", password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("trailers.api.urls")),
    path("", include("trailers.urls")),
]

handler404 = "trailers.error_pages.not_found"  # the API's JSON under /api/, the site's page elsewhere
