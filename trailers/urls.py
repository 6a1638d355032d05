from django.conf import settings
from django.urls import path

from . import views, views_labelling, views_runs, views_trailers

urlpatterns = [
    path("", views.dataset, name="dataset"),
    path("accounts/signup/", views.signup, name="signup"),
    path("upload/", views.upload, name="upload"),
    path("trailers/<int:pk>/", views.trailer_detail, name="trailer_detail"),
    path("trailers/<int:pk>/live/", views.trailer_live, name="trailer_live"),
    path("trailers/<int:pk>/rating/", views.trailer_rating, name="trailer_rating"),
    path("trailers/<int:pk>/rename/", views_trailers.trailer_rename, name="trailer_rename"),
    path("trailers/<int:pk>/delete/", views_trailers.trailer_delete, name="trailer_delete"),
    path("trailers/<int:pk>/retry/", views_trailers.trailer_retry, name="trailer_retry"),
    path("trailers/<int:pk>/video/", views.trailer_video, name="trailer_video"),
    path("trailers/<int:pk>/original/", views.trailer_original, name="trailer_original"),
    path("trailers/<int:pk>/thumbnail.jpg", views.trailer_thumbnail, name="trailer_thumbnail"),
    path("subclips/<int:pk>/sheet.jpg", views.subclip_sheet, name="subclip_sheet"),
    path("rate/", views_labelling.rate_next, name="rate_next"),
    path("rate/undo/", views_labelling.rate_undo, name="rate_undo"),
    path("raters/", views_labelling.raters, name="raters"),
    path("raters/<int:pk>/exclusion/", views_labelling.rater_exclusion, name="rater_exclusion"),
    path("raters/ratings.csv", views_labelling.ratings_csv, name="ratings_csv"),
    path("raters/import/", views_labelling.ratings_import, name="ratings_import"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/note/", views_runs.run_note, name="run_note"),
    path("runs/compare/", views_runs.runs_compare, name="runs_compare"),
    path("versions/", views_runs.versions, name="versions"),
    path("versions/<int:pk>/", views_runs.version_detail, name="version_detail"),
    path("versions/<int:pk>/activate/", views_runs.version_activate, name="version_activate"),
    path("versions/rollback/", views_runs.version_rollback, name="version_rollback"),
    path("versions/compare/", views_runs.versions_compare, name="versions_compare"),
    path("predictions/", views.predictions, name="predictions"),
    path("predictions.csv", views.predictions_csv, name="predictions_csv"),
]

if not settings.MEDIA_URL.startswith(("http://", "https://", "//")):  # media on this site (not a CDN)
    urlpatterns.append(path(f"{settings.MEDIA_URL.strip('/')}/<path:name>", views.media_file, name="media_file"))
