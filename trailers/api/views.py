"""The REST API: trailers (and my rating of one), training runs, model versions, predictions.

Reads go through selectors and writes through services, as in the pages. Every
list is paginated; anonymous requests get 401; bad input gets 400 with the
field that was wrong.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, Throttled, UnsupportedMediaType, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings

from trailers import selectors, selectors_runs, services, throttles, uploads
from trailers.bodies import takes_files
from trailers.errors import ServiceError
from trailers.filters import ListFilters, PredictionListFilterSet, RunFilterSet, TrailerFilterSet
from trailers.models import ModelVersion, Prediction, Trailer, TrainingRun
from trailers.permissions import (
    ACTIVATE_VERSION,
    CANCEL_RUN,
    CHANGE_TRAILER,
    DELETE_RUN,
    REFUSALS,
    START_RUN,
    can_change_trailer,
)
from trailers.services.ingest import too_large_message
from trailers.services.notes import set_run_note
from trailers.services.training import request_cancel
from trailers.services.versions import rollback

from . import labelling
from . import runs as runs_api
from .parsers import SafeJSONParser
from .permissions import needs
from .serializers import (
    ActivationRequestSerializer,
    ComparisonSerializer,
    DatasetEntrySerializer,
    ModelVersionActivationSerializer,
    ModelVersionSerializer,
    PredictionSerializer,
    RatingSerializer,
    RollbackRequestSerializer,
    TokenRequestSerializer,
    TrailerDetailSerializer,
    TrailerRenameSerializer,
    TrailerSerializer,
    TrailerUploadSerializer,
    TrainingRunCreateSerializer,
    TrainingRunDetailSerializer,
    TrainingRunSerializer,
    refuse_unknown_body,
)


def _id_parameter(name: str) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "integer", "minimum": 1, "maximum": selectors.MAX_ID}, required=True,
                            description="a model version's id")


REFUSAL = inline_serializer("UploadRefusal", fields={
    "detail": serializers.CharField(required=False, help_text="why the file was refused, in plain words"),
    "code": serializers.CharField(required=False, help_text="why the file was refused: too_large, empty, "
                                  "not_a_video, too_short, several_files, duplicate, ... (absent for a missing field)"),
    "file": serializers.ListField(child=serializers.CharField(), required=False, help_text="the same reason"),
    "duplicate_of": serializers.IntegerField(required=False, help_text="the trailer this file duplicates"),
})


class ById:
    # A viewset whose row is read by the id its URL names as every page reads one (selectors.get_by_id): an id that
    # is none ("0.5", a full-width "１") or no row's is a 404 saying so, in every endpoint's words.

    def get_object(self):
        row = selectors.get_by_id(self.get_queryset(), self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        self.check_object_permissions(self.request, row)
        return row


class FilteredList:
    # A viewset whose list (and only its list: one row is read by its id whatever the query says) is filtered by
    # its ``filterset_class`` (trailers/filters.py), which the schema documents as the list's query parameters.

    @property
    def filter_backends(self):
        return [ListFilters] if getattr(self, "action", None) == "list" else []


def _validated(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer


# --- trailers --------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List trailers", description="Trailers with their numbers: mean rating and count, "
                                                             "your rating, the active model's prediction."),
    retrieve=extend_schema(summary="One trailer, with its subclips, rating distribution and predictions"),
)
class TrailerViewSet(ById, FilteredList, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    # Trailers with their numbers: mean rating and count, your rating, the active model's prediction.

    queryset = Trailer.objects.none()  # for the schema; get_queryset reads through selectors
    filterset_class = TrailerFilterSet
    parser_classes = [SafeJSONParser, MultiPartParser, FormParser]
    request_serializers = {"create": TrailerUploadSerializer, "partial_update": TrailerRenameSerializer,
                           "rating": RatingSerializer}  # what OPTIONS describes (trailers/api/metadata.py)

    def get_queryset(self):
        return selectors.trailer_list(user=self.request.user)

    def check_object_permissions(self, request, obj):
        # What OPTIONS offers for one trailer (trailers/api/metadata.py): a rename only to who may rename it, as
        # the rename itself decides (labelling.rename: its uploader, or trailers.change_trailer).
        super().check_object_permissions(request, obj)
        if self.action == "partial_update" and not can_change_trailer(request.user, obj):
            raise PermissionDenied(REFUSALS[CHANGE_TRAILER])

    def get_serializer_class(self):
        return TrailerDetailSerializer if self.action == "retrieve" else TrailerSerializer

    def get_throttles(self):
        if self.action == "create":
            return [throttles.UploadRateThrottle()]
        if self.action == "rating" and self.request.method in ("PUT", "DELETE"):
            return [throttles.RatingRateThrottle()]
        return super().get_throttles()

    def throttled(self, request, wait):
        if self.action not in ("create", "rating"):
            super().throttled(request, wait)
        words = throttles.upload_limit_words if self.action == "create" else throttles.rating_limit_words
        refusal = Throttled(detail=words(wait))  # the words the pages use
        refusal.wait = wait  # the Retry-After header
        raise refusal

    def initial(self, request, *args, **kwargs):
        if self.action == "create":
            # Before anything reads the body: stop reading a too-large upload at the limit.
            uploads.install(request._request, single_file=True)
        super().initial(request, *args, **kwargs)

    @takes_files(lambda: None)  # TrailerSizeLimit refuses a body past TRAILER_MAX_BYTES, reading none of it
    @extend_schema(
        summary="Upload a trailer",
        request={"multipart/form-data": TrailerUploadSerializer},
        responses={201: TrailerSerializer, 400: OpenApiResponse(REFUSAL, description="the file was refused"),
                   415: OpenApiResponse(description="not a multipart/form-data request")},
    )
    def create(self, request, *args, **kwargs):
        if not (request.content_type or "").startswith("multipart/form-data"):
            raise UnsupportedMediaType(request.content_type, code="not_multipart",
                                       detail="Send the trailer as multipart/form-data, with the file in “file” (this "
                                              f"request is {request.content_type or 'untyped'}).")
        body = request.data  # parses the body, through the size limit
        too_large = uploads.too_large_uploads(request._request)
        if too_large:
            raise services.IngestError(too_large_message(too_large[0][1]), code="too_large")
        several = uploads.more_than_one_file(request.FILES)
        if several:
            raise services.IngestError(several, code="several_files")
        data = _validated(TrailerUploadSerializer, body, context={"request": request}).validated_data
        upload = data["file"]
        trailer = services.ingest_trailer(source=upload, original_name=upload.name, user=request.user,
                                          title=data.get("title"), reference_score=data.get("reference_score"),
                                          size=upload.size)  # a refusal is an IngestError: trailers/api/errors.py
        trailer = selectors.trailer_list(user=request.user).get(pk=trailer.pk)
        return Response(TrailerSerializer(trailer, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(summary="Rename a trailer (its uploader, or trailers.change_trailer)",
                   description="A title another trailer already has gets the file's kind after it, then a number "
                               "(\"Title (mp4)\", \"Title (mp4 2)\"): the answer's title is the one it got.",
                   request=TrailerRenameSerializer,
                   responses={200: TrailerSerializer})
    def partial_update(self, request, pk=None):
        trailer = labelling.rename(request, pk)
        return Response(TrailerSerializer(selectors.trailer_list(user=request.user).get(pk=trailer.pk),
                                          context=self.get_serializer_context()).data)

    @extend_schema(summary="Delete a trailer with its files, ratings and predictions (its uploader, or "
                           "trailers.delete_trailer)", request=None,
                   responses={204: None, 409: OpenApiResponse(description="it is being processed right now")})
    def destroy(self, request, pk=None):
        refuse_unknown_body(request.data)
        return labelling.delete(request, pk)

    @extend_schema(summary="Process a failed trailer again (its uploader, or trailers.change_trailer)", request=None,
                   responses={200: TrailerSerializer, 409: OpenApiResponse(description="it has not failed")})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        refuse_unknown_body(request.data)
        trailer = labelling.retry(request, pk)
        if isinstance(trailer, Response):
            return trailer
        return Response(TrailerSerializer(selectors.trailer_list(user=request.user).get(pk=trailer.pk),
                                          context=self.get_serializer_context()).data)

    @extend_schema(methods=["GET"], summary="My rating of this trailer", request=None,
                   responses={200: RatingSerializer, 404: OpenApiResponse(description="not rated by you")})
    @extend_schema(methods=["PUT"], summary="Rate this trailer (1–10), or change my rating", request=RatingSerializer,
                   responses={200: RatingSerializer})
    @extend_schema(methods=["DELETE"], summary="Remove my rating of this trailer", request=None,
                   responses={204: None})
    @action(detail=True, methods=["get", "put", "delete"], url_path="rating", serializer_class=RatingSerializer)
    def rating(self, request, pk=None):
        trailer = selectors.get_trailer(pk=pk)
        if request.method == "GET":
            rating = selectors.my_rating(user=request.user, trailer=trailer)
            if rating is None:
                raise NotFound("You have not rated this trailer.")
            return Response(RatingSerializer(rating).data)
        if request.method == "DELETE":
            refuse_unknown_body(request.data)
            services.delete_rating(user=request.user, trailer=trailer)
            return Response(status=status.HTTP_204_NO_CONTENT)
        score = _validated(RatingSerializer, request.data).validated_data["score"]
        try:
            rating = services.rate_trailer(user=request.user, trailer=trailer, score=score)
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(RatingSerializer(rating).data)


# --- runs -------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List training runs"),
    retrieve=extend_schema(summary="One training run, with its per-epoch metrics, a link to its dataset snapshot "
                                   "and, once a cross-validated run has succeeded, its held-out estimate"),
)
class TrainingRunViewSet(ById, FilteredList, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.DestroyModelMixin, viewsets.GenericViewSet):
    queryset = TrainingRun.objects.none()  # for the schema; get_queryset reads through selectors
    filterset_class = RunFilterSet
    request_serializers = {"create": TrainingRunCreateSerializer, "partial_update": runs_api.RunNoteSerializer}

    def get_queryset(self):
        if self.action == "list":
            return selectors_runs.runs().defer("metrics")  # each run's curves are its own page's (retrieve)
        return selectors.run_list()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return TrainingRunDetailSerializer
        if self.action == "dataset":
            return DatasetEntrySerializer
        if self.action == "create":
            return TrainingRunCreateSerializer
        return TrainingRunSerializer

    def get_permissions(self):
        if self.action in ("create", "cancel", "partial_update", "destroy"):
            needed = {"create": START_RUN, "destroy": DELETE_RUN}.get(self.action, CANCEL_RUN)
            return [IsAuthenticated(), needs(needed)]
        return super().get_permissions()

    @extend_schema(summary="Delete a finished run that made no model version, with all it kept (needs "
                           "trailers.delete_trainingrun)", request=None,
                   responses={204: None, 409: OpenApiResponse(description="it has not finished (not_finished), or it "
                                                                           "made a version (made_version)")})
    def destroy(self, request, pk=None):
        refuse_unknown_body(request.data)
        services.delete_runs(run_ids=[selectors.get_run(pk=pk).pk])  # a refusal is a ServiceError: 409
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Note a run (needs trailers.change_trainingrun)", request=runs_api.RunNoteSerializer,
                   responses={200: TrainingRunSerializer})
    def partial_update(self, request, pk=None):
        data = _validated(runs_api.RunNoteSerializer, request.data).validated_data
        run = selectors.get_run(pk=pk)
        if "note" in data:
            run = set_run_note(run=run, note=data["note"])
        return Response(TrainingRunSerializer(selectors.get_run(pk=run.pk), context=self.get_serializer_context()).data)

    @extend_schema(summary="Compare runs: figures side by side, the options that differ, the curves",
                   parameters=[OpenApiParameter("runs", str, required=True, pattern=r"^[0-9]{1,18}(,[0-9]{1,18}){1,7}$",
                                                description="two to eight run ids, separated by commas")],
                   responses={200: runs_api.RunComparisonSerializer})
    @action(detail=False, methods=["get"])
    def compare(self, request):
        parts = [part for value in request.query_params.getlist("runs") for part in value.split(",")]
        ids = selectors_runs.parse_ids(parts)
        if not 2 <= len(parts) <= 8 or not all(re.fullmatch(r"[0-9]{1,18}", part) for part in parts):
            raise ValidationError({"runs": ["Give two to eight run ids, separated by commas."]})
        comparison = selectors_runs.compare_runs(ids)
        if len(comparison.runs) < 2:
            raise NotFound("Fewer than two different runs of these exist.")
        return Response(runs_api.comparison_json(comparison))

    @extend_schema(summary="Start a training run (needs trailers.add_trainingrun)", request=TrainingRunCreateSerializer,
                   description="Options that cannot be read are refused (400) and make no run. A run whose trailers "
                               "cannot be trained on (fewer labelled trailers than it needs, snippets of different "
                               "lengths) is made all the same, as the admin makes it, so that the runs list keeps "
                               "the attempt: it comes back with status \"failed\" and the reason in error.",
                   responses={201: TrainingRunDetailSerializer})
    def create(self, request, *args, **kwargs):
        data = _validated(TrainingRunCreateSerializer, request.data).validated_data
        run = services.start_training_run(
            user=request.user, model_config=data["model_config"], train_config=data["train_config"],
            label_source=data["label_source"], min_ratings=data["min_ratings"],
            trailer_ids=data["trailer_ids"] or None, auto_activate=data["auto_activate"],
        )  # fmt: skip
        run = selectors.get_run(pk=run.pk)
        return Response(TrainingRunDetailSerializer(run, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(summary="A training run's frozen dataset, one trailer per row (empty until a worker starts it)",
                   responses={200: DatasetEntrySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def dataset(self, request, pk=None):
        run = selectors.get_run_sizes(pk=pk)
        page = self.paginate_queryset(selectors.run_dataset(run=run))
        return self.get_paginated_response(DatasetEntrySerializer(page, many=True).data)

    @extend_schema(summary="Cancel a training run (needs trailers.change_trainingrun)", request=None,
                   description="A queued run is cancelled at once, a running one stops after its current step; a run "
                               "that has finished answers 409 (code already_finished) and stays as it was.",
                   responses={200: TrainingRunSerializer,
                              409: OpenApiResponse(description="the run has already finished (already_finished)")})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        refuse_unknown_body(request.data)
        cancellation = request_cancel(run=selectors.get_run(pk=pk), refuse_finished=True)
        return Response(TrainingRunSerializer(selectors.get_run(pk=cancellation.run.pk),
                                              context=self.get_serializer_context()).data)


# --- model versions -----------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="List model versions"),
                    retrieve=extend_schema(summary="One model version"))
class ModelVersionViewSet(ById, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = ModelVersion.objects.none()  # for the schema
    serializer_class = ModelVersionSerializer
    request_serializers = {"rollback": RollbackRequestSerializer, "activate": ActivationRequestSerializer}

    def get_queryset(self):
        return selectors.model_versions()

    def get_permissions(self):
        if self.action in ("activate", "rollback"):
            return [IsAuthenticated(), needs(ACTIVATE_VERSION)]
        return super().get_permissions()

    @extend_schema(summary="Activate the version that was active before the active one (needs "
                           "trailers.change_modelversion)", request=RollbackRequestSerializer,
                   description="Each rollback goes back one step, so a second one returns to the version the first "
                               "left: name the version you roll back from (from_version) to make a retry safe.",
                   responses={200: ModelVersionSerializer,
                              409: OpenApiResponse(description="no version was active before this one "
                                                               "(nothing_to_roll_back), or from_version is not the "
                                                               "active one (not_active)")})
    @action(detail=False, methods=["post"])
    def rollback(self, request):
        body = _validated(RollbackRequestSerializer, request.data or {}).validated_data
        version = rollback(from_version=body.get("from_version"))  # nothing to roll back to: ActivationError, 409
        return Response(ModelVersionSerializer(get_object_or_404(self.get_queryset(), pk=version.pk),
                                               context=self.get_serializer_context()).data)

    @extend_schema(summary="Two versions trailer by trailer: biggest changes, worst predicted, the fair comparison",
                   parameters=[_id_parameter("a"), _id_parameter("b")],
                   responses={200: runs_api.VersionComparisonSerializer})
    @action(detail=False, methods=["get"])
    def compare(self, request):
        ids = [selectors.parse_id(request.query_params.get(name, "")) for name in ("a", "b")]
        if None in ids:
            raise ServiceError("Give two version ids, a and b.", code="versions_missing")
        a, b = (selectors_runs.get_version(pk=pk) for pk in ids)
        return Response(runs_api.version_comparison_json(selectors_runs.compare_versions_by_trailer(a, b)))

    @extend_schema(summary="Make this the active version and score every ready trailer with it (needs trailers.change_modelversion)",
                   description="The answer carries the fair comparison with the version that was active, on the "
                               "same held-out trailers (made before activating). When this version is worse than the "
                               "active one on them, nothing is activated: the answer is 409 with the comparison, and "
                               "?confirm=true activates it all the same. The version that is already active stays "
                               "as it is (its comparison's reason says so; nothing is scored again).",
                   parameters=[OpenApiParameter("confirm", bool, description="activate even when it is worse")],
                   request=ActivationRequestSerializer, responses={200: ModelVersionActivationSerializer,
                                            409: OpenApiResponse(inline_serializer("ActivationRefused", fields={
                                                "detail": serializers.CharField(),
                                                "code": serializers.CharField(help_text="worse_than_active"),
                                                "comparison": ComparisonSerializer()}),
                                                description="worse than the active version: ask again")})
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        version = selectors.get_model_version(pk=pk)
        body = _validated(ActivationRequestSerializer, request.data or {}).validated_data
        confirmed = body.get("confirm", False) or str(request.query_params.get("confirm", "")).lower() in ("1", "true")
        done = services.activate_chosen(model_version=version, confirm=confirmed)  # WorseThanActive: the 409
        context = {**self.get_serializer_context(), "comparison": done.comparison}
        return Response(ModelVersionActivationSerializer(get_object_or_404(self.get_queryset(), pk=version.pk),
                                                         context=context).data)


# --- predictions -----------------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="List predictions"))
class PredictionViewSet(FilteredList, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = Prediction.objects.none()  # for the schema; get_queryset reads through selectors
    serializer_class = PredictionSerializer
    filterset_class = PredictionListFilterSet

    def get_queryset(self):
        return selectors.predictions()


class TokenView(ObtainAuthToken):
    # POST a username and password (JSON or form), get your API token; DRF's view with the API's parsers. DELETE
    # it (with the token, or logged in) to revoke it: the next POST makes a new one.

    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]
    serializer_class = TokenRequestSerializer

    def initialize_request(self, request, *args, **kwargs):
        # POST reads no credentials but the body's: a client that still sends a token a password change revoked, or
        # a logged-in browser session without its CSRF token, must still be able to log in again.
        self.authentication_classes = [] if request.method == "POST" else api_settings.DEFAULT_AUTHENTICATION_CLASSES
        return super().initialize_request(request, *args, **kwargs)

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "DELETE" else super().get_permissions()

    def get_throttles(self):
        return [throttles.PasswordRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(summary="Your API token, for a username and password (no token or login needed)", auth=[{}],
                   request=TokenRequestSerializer, responses={200: inline_serializer("Token", fields={
                       "token": serializers.CharField()})})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    @extend_schema(summary="Revoke your API token (a leaked one stops working at once; POST makes a new one)",
                   request=None, responses={204: None})
    def delete(self, request):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
