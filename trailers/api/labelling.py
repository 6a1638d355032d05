"""The API's labelling operations: what to rate next (and why), the raters and their agreement, ratings as CSV
out and in, and one's own uploads (rename, delete, retry). The pages' rules, through the same selectors and
services (trailers/views_labelling.py, trailers/views_trailers.py)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotAcceptable, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from trailers import selectors, selectors_labelling
from trailers.bodies import takes_files
from trailers.downloads import csv_download
from trailers.permissions import (
    CHANGE_TRAILER,
    DELETE_TRAILER,
    IMPORT_RATINGS,
    MANAGE_RATERS,
    VIEW_RATERS,
)
from trailers.services.raters import IMPORT_MAX_BYTES, import_ratings, refuse_too_large, set_rater_excluded
from trailers.services.trailers import delete_trailer, rename_trailer, retry_trailer

from .permissions import needs
from .serializers import (
    RaterExclusionRequestSerializer,
    RefusesUnknownFields,
    TrailerRenameSerializer,
    TrailerSerializer,
    refuse_unknown_body,
)

ORDERS = list(selectors_labelling.RATE_ORDERS)


class RateNextSerializer(serializers.Serializer):
    trailer = TrailerSerializer(allow_null=True, help_text="the trailer to rate next; null when none is left")
    order = serializers.ChoiceField(choices=ORDERS, help_text="the order that chose it")
    asked = serializers.CharField(help_text="the order asked for: uncertain, fewest or random")
    reason = serializers.CharField(help_text="why this trailer, in words")
    fallback = serializers.CharField(help_text="why the order asked for was not used; empty when it was")
    remaining = serializers.IntegerField(help_text="ready trailers you have not rated")


class RateNextView(APIView):
    @extend_schema(summary="The trailer to rate next, and why", parameters=[
        OpenApiParameter("order", str, enum=ORDERS, description="fewest (the default), uncertain (the active version's "
                         "ensemble uncertainty, falling back to fewest where it has none) or random"),
        OpenApiParameter("skip", str, pattern=r"^([0-9]{1,18}(,[0-9]{1,18})*)?$",
                         description="trailer ids to leave out, separated by commas (or the parameter repeated)"),
    ], responses={200: RateNextSerializer})
    def get(self, request):
        order = request.query_params.get("order") or selectors_labelling.DEFAULT_RATE_ORDER
        if order not in selectors_labelling.RATE_ORDERS:
            raise ValidationError({"order": [f"Choose one of {', '.join(ORDERS)}."]})
        parts = [x for value in request.query_params.getlist("skip") for x in value.split(",") if x]
        if not all(x.isascii() and x.isdecimal() and len(x) <= 18 for x in parts):
            raise ValidationError({"skip": ["Give trailer ids separated by commas."]})
        skip = [pk for pk in map(selectors.parse_id, parts[:500]) if pk is not None]  # 0 names no trailer
        choice = selectors_labelling.next_to_rate(user=request.user, skip=skip, order=order)
        trailer = None
        if choice.trailer is not None:
            trailer = selectors.trailer_list(user=request.user).get(pk=choice.trailer.pk)
        body = {"trailer": trailer, "order": choice.order, "asked": choice.asked, "reason": choice.reason,
                "fallback": choice.fallback, "remaining": selectors_labelling.unrated_count(user=request.user)}
        return Response(RateNextSerializer(body, context={"request": request}).data)


# --- raters ---------------------------------------------------------------------------------------------


class RaterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    ratings = serializers.IntegerField()
    mean = serializers.FloatField(allow_null=True)
    bias = serializers.FloatField(allow_null=True, help_text="their score minus the others' mean, averaged over "
                                  "the trailers they share with others")
    shared = serializers.IntegerField(help_text="trailers they rated that someone else rated too")
    correlation = serializers.FloatField(allow_null=True, help_text="Pearson's r with the others' mean")
    alpha_without = serializers.FloatField(allow_null=True, help_text="Krippendorff's alpha of everyone else")
    excluded = serializers.BooleanField(help_text="left out of user_mean labels")


class RatersSerializer(serializers.Serializer):
    alpha = serializers.FloatField(allow_null=True, help_text="Krippendorff's alpha (interval) of every rater")
    alpha_kept = serializers.FloatField(allow_null=True, help_text="the same without the raters left out")
    ratings = serializers.IntegerField()
    trailers = serializers.IntegerField()
    multiply_rated = serializers.IntegerField(help_text="trailers rated by two people or more")
    raters = RaterSerializer(many=True)


class RatersView(APIView):
    def get_permissions(self):
        return [IsAuthenticated(), needs(VIEW_RATERS)]

    @extend_schema(summary="The raters: count, mean, bias, agreement (needs trailers.view_rating)",
                   responses={200: RatersSerializer})
    def get(self, request):
        stats = selectors_labelling.rater_stats()
        raters = [{"id": row.user.pk, "username": row.user.username, "ratings": row.agreement.count,
                   "mean": row.agreement.mean, "bias": row.agreement.bias, "shared": row.agreement.shared,
                   "correlation": row.agreement.correlation, "alpha_without": row.agreement.alpha_without,
                   "excluded": row.excluded is not None} for row in stats.rows]
        return Response(RatersSerializer({"alpha": stats.alpha, "alpha_kept": stats.alpha_kept,
                                          "ratings": stats.ratings, "trailers": stats.trailers,
                                          "multiply_rated": stats.multiply_rated, "raters": raters}).data)


EXCLUSION = inline_serializer("RaterExclusion", fields={
    "username": serializers.CharField(), "excluded": serializers.BooleanField(),
    "changed": serializers.BooleanField(help_text="false when it was so already"),
})


class RaterExclusionView(APIView):
    def get_permissions(self):
        return [IsAuthenticated(), needs(MANAGE_RATERS)]

    def _set(self, request, pk, excluded: bool, reason: str | None = None):
        user = selectors_labelling.get_rater(pk=pk)
        changed = set_rater_excluded(user=user, excluded=excluded, by=request.user, reason=reason)
        return Response({"username": user.username, "excluded": excluded, "changed": changed})

    @extend_schema(summary="Leave a rater out of user_mean labels (needs trailers.change_rating)",
                   description="A rater already left out keeps the reason kept, or gets the one given (changed: true).",
                   request=RaterExclusionRequestSerializer, responses={200: EXCLUSION})
    def put(self, request, pk):
        body = RaterExclusionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._set(request, pk, True, reason=body.validated_data.get("reason"))

    @extend_schema(summary="Count a rater in user_mean labels again (needs trailers.change_rating)", request=None,
                   responses={200: EXCLUSION})
    def delete(self, request, pk):
        refuse_unknown_body(request.data)
        return self._set(request, pk, False)


class AnyAccepted(DefaultContentNegotiation):
    """The answer is CSV whatever the client says it accepts (``Accept: text/csv`` included), never 406; a refusal
    is the API's JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type


class RatingsExportView(APIView):
    content_negotiation_class = AnyAccepted

    def get_permissions(self):
        return [IsAuthenticated(), needs(VIEW_RATERS)]

    @extend_schema(summary="Every rating as CSV (needs trailers.view_rating)",
                   responses={(200, "text/csv"): OpenApiResponse(
                       OpenApiTypes.STR, description=", ".join(selectors_labelling.RATING_CSV_COLUMNS))})
    def get(self, request):
        return csv_download(columns=selectors_labelling.RATING_CSV_COLUMNS,
                            rows=selectors_labelling.rating_csv_rows(), filename="reelscore-ratings.csv")


IMPORT_REPORT = inline_serializer("RatingsImportReport", fields={
    "created": serializers.IntegerField(), "changed": serializers.IntegerField(),
    "unchanged": serializers.IntegerField(),
    "refused": serializers.ListField(child=inline_serializer("RefusedRow", fields={
        "line": serializers.IntegerField(), "reason": serializers.CharField()})),
})


class RatingsImportView(APIView):
    parser_classes = [MultiPartParser]

    def get_permissions(self):
        return [IsAuthenticated(), needs(IMPORT_RATINGS)]

    @extend_schema(summary="Import ratings from CSV, with a report of the rows refused (needs trailers.add_rating)",
                   request={"multipart/form-data": inline_serializer("RatingsImport", fields={
                       "file": serializers.FileField(help_text="username, score, and sha256 or trailer_id")})},
                   responses={200: IMPORT_REPORT})
    @takes_files(lambda: IMPORT_MAX_BYTES)
    def post(self, request):
        unknown = sorted(set(request.data.keys()) - {"file"} - RefusesUnknownFields.FORM_FIELDS)
        if unknown:  # a field it does not take is refused, naming it, as every body is
            raise ValidationError({name: ["Unknown field."] for name in unknown})
        files = request.FILES.getlist("file")
        if len(files) != 1:
            raise ValidationError({"file": ["Send the CSV in “file”." if not files else
                                            f"Send one CSV in “file”, not {len(files)}."]})
        refuse_too_large(size=files[0].size)
        report = import_ratings(data=files[0].read())
        return Response({"created": report.created, "changed": report.changed, "unchanged": report.unchanged,
                         "refused": [{"line": line, "reason": reason} for line, reason in report.refused]})


# --- one's own uploads (actions of TrailerViewSet) ---------------------------------------------------------------


def rename(request, pk):
    trailer = selectors.own_trailer(pk=pk, user=request.user, permission=CHANGE_TRAILER)
    body = TrailerRenameSerializer(data=request.data)
    body.is_valid(raise_exception=True)  # unknown fields refused, naming each
    try:
        rename_trailer(trailer=trailer, title=body.validated_data["title"])
    except DjangoValidationError as error:
        raise ValidationError(error.message_dict) from None
    return trailer


def delete(request, pk):
    trailer = selectors.own_trailer(pk=pk, user=request.user, permission=DELETE_TRAILER)
    delete_trailer(trailer=trailer)  # being processed: TrailerBusy, 409
    return Response(status=status.HTTP_204_NO_CONTENT)


def retry(request, pk):
    trailer = selectors.own_trailer(pk=pk, user=request.user, permission=CHANGE_TRAILER)
    retry_trailer(trailer=trailer)  # not failed: a ServiceError, 409 not_failed
    return trailer
