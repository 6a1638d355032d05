from django.contrib import admin
from django.urls import include, path

# Stored files are never public: trailers and contact sheets are served by the pages' own
# login-required views (with range requests), and MEDIA_URL by a staff-only view (for the admin).
urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("trailers.api.urls")),
    path("", include("trailers.urls")),
]
