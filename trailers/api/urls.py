from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from . import labelling, views

router = DefaultRouter()
router.register("trailers", views.TrailerViewSet, basename="trailer")
router.register("runs", views.TrainingRunViewSet, basename="run")
router.register("model-versions", views.ModelVersionViewSet, basename="model-version")
router.register("predictions", views.PredictionViewSet, basename="prediction")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("token/", views.TokenView.as_view(), name="api-token"),
    path("rate-next/", labelling.RateNextView.as_view(), name="api-rate-next"),
    path("raters/", labelling.RatersView.as_view(), name="api-raters"),
    # Any text as the id: one that is no id gets the API's JSON 404, not the site's page.
    path("raters/<str:pk>/exclusion/", labelling.RaterExclusionView.as_view(), name="api-rater-exclusion"),
    path("ratings/export/", labelling.RatingsExportView.as_view(), name="api-ratings-export"),
    path("ratings/import/", labelling.RatingsImportView.as_view(), name="api-ratings-import"),
    *router.urls,
]
