"""What the API shows and accepts. Read serializers only present rows; writes go through services.

No serializer exposes another user's individual rating: a trailer carries its
rating count, mean and distribution, and the caller's own rating.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from ml.config import PRESETS, TRAIN_PRESETS, LRCNConfig, Option, TrainConfig, options
from ml.intervals import COVERAGE_WORDS
from ml.neighbours import NEIGHBOURS
from trailers import selectors
from trailers.models import ModelVersion, Prediction, Rating, Subclip, Trailer, TrainingRun
from trailers.permissions import CHANGE_TRAILER, can
from trailers.presets import DEFAULT_MIN_RATINGS, MAX_MIN_RATINGS
from trailers.services.raters import REASON_MAX
from trailers.services.ratings import parse_rating
from trailers.services.trailers import TITLE_MAX


class RefusesUnknownFields:
    # A serializer of a request body that refuses fields it does not know, naming each, rather than ignoring them:
    # a body copied from what a GET returns (``model_config`` where a run is started with ``model``) must not
    # quietly do something else. Fields it returns read-only may come back and are ignored. ``HINTS`` says what to
    # send instead of a field.

    HINTS: dict[str, str] = {}
    component_names: set[str] = set()  # their OpenAPI components, which say so (trailers/api/schema.py)
    FORM_FIELDS = {"csrfmiddlewaretoken"}  # what the browsable API's HTML forms post beside the fields

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__name__.removesuffix("Serializer")  # drf-spectacular's component name
        RefusesUnknownFields.component_names |= {name, f"Patched{name}"}

    def unknown_message(self, name: str) -> str:
        return self.HINTS.get(name, "Unknown field.")

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields) - self.FORM_FIELDS)
            if unknown:
                raise serializers.ValidationError({name: [self.unknown_message(name)] for name in unknown})
        return super().to_internal_value(data)


def refuse_unknown_body(data) -> None:
    """An operation that takes no body refuses one, naming each field, as every body is refused what it does not take
    (a body sent to it is no instruction it follows)."""
    if not data:
        return
    if not hasattr(data, "keys"):
        raise serializers.ValidationError({"non_field_errors": ["This operation takes no body."]}, code="invalid")
    unknown = sorted(set(data.keys()) - RefusesUnknownFields.FORM_FIELDS)
    if unknown:
        raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})


class RollbackRequestSerializer(RefusesUnknownFields, serializers.Serializer):
    from_version = serializers.IntegerField(required=False, min_value=1, max_value=selectors.MAX_ID, help_text=(
        "the id of the version to roll back from: when it is no longer the active one, nothing is rolled back (409 "
        "not_active), so a retried rollback does not roll back twice"))


class ActivationRequestSerializer(RefusesUnknownFields, serializers.Serializer):
    confirm = serializers.BooleanField(required=False, help_text="activate even when it is worse (as ?confirm=true)")


class TokenRequestSerializer(RefusesUnknownFields, AuthTokenSerializer):
    """A username and a password, nothing else."""

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except serializers.ValidationError as error:  # DRF's code for it is "authorization"
            raise serializers.ValidationError([str(m) for m in error.detail], code="invalid_credentials") from None


class RaterExclusionRequestSerializer(RefusesUnknownFields, serializers.Serializer):
    # The pattern says in the schema what the field refuses anyway: a NUL character (no database column keeps one).
    reason = serializers.RegexField(r"^[^\x00]*$", required=False, allow_blank=True, max_length=REASON_MAX,
                                    help_text="why the rater is left out; given again, it replaces the one kept")


# Trailers and runs both have a "status", with different choices. The list serializers carry the enums
# (named TrailerStatusEnum and TrainingRunStatusEnum by drf-spectacular); the detail serializers point at
# them, so that each choice set lives in one component and the schema generates without a naming clash.


@extend_schema_field({"$ref": "#/components/schemas/TrailerStatusEnum"})
class _TrailerStatusField(serializers.CharField):
    pass


@extend_schema_field({"$ref": "#/components/schemas/TrainingRunStatusEnum"})
class _RunStatusField(serializers.CharField):
    pass


# --- trailers ---------------------------------------------------------------------------------


UNCERTAINTY_HELP = ("the prediction's uncertainty: the standard deviation of the model version's ensemble members' "
                    "predictions (one member per cross-validation fold; 0 for a one-model version)")
SPREAD_HELP = "the standard deviation of the per-subclip scores"
LOW_HELP = (f"the lower end of the prediction's {COVERAGE_WORDS['percent']} interval: the range the rating should fall "
            f"in {COVERAGE_WORDS['odds']}, from the version's cross-validation folds' own errors (null for a version "
            "without them)")
HIGH_HELP = (f"the upper end of the prediction's {COVERAGE_WORDS['percent']} interval (null for a version without the "
             "folds' errors)")


class TrailerSerializer(serializers.ModelSerializer):
    mean_rating = serializers.FloatField(read_only=True, allow_null=True)
    rating_count = serializers.IntegerField(read_only=True)
    my_rating = serializers.IntegerField(source="my_score", read_only=True, allow_null=True)
    predicted_score = serializers.FloatField(read_only=True, allow_null=True,
                                             help_text="the active model version's prediction")
    predicted_spread = serializers.FloatField(read_only=True, allow_null=True,
                                              help_text="spread (standard deviation) of that prediction over the "
                                                        "trailer's subclips")
    predicted_uncertainty = serializers.FloatField(read_only=True, allow_null=True,
                                                   help_text="uncertainty of that prediction: the standard deviation of "
                                                             "the active version's ensemble members' predictions "
                                                             "(0 for a one-model version)")
    predicted_low = serializers.FloatField(read_only=True, allow_null=True, help_text=LOW_HELP)
    predicted_high = serializers.FloatField(read_only=True, allow_null=True, help_text=HIGH_HELP)
    predicted_novelty = serializers.FloatField(read_only=True, allow_null=True,
                                               help_text=Prediction._meta.get_field("novelty").help_text)
    waiting_for_queue = serializers.BooleanField(source="is_waiting_for_queue", read_only=True)
    processing_attempts = serializers.IntegerField(
        read_only=True, help_text="attempts at preprocessing it since it was last queued by a person; one whose "
                                  "worker died PROCESSING_MAX_ATTEMPTS times is failed")
    processing_time_limit = serializers.IntegerField(
        read_only=True, help_text="seconds one attempt at preprocessing it may take before it is stopped and the "
                                  "trailer failed")
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                               help_text="who uploaded it; null for an import or a deleted account")
    page_url = serializers.SerializerMethodField()
    video_url = serializers.SerializerMethodField()

    class Meta:
        model = Trailer
        fields = [
            "id", "title", "original_name", "status", "error", "waiting_for_queue", "processing_attempts",
            "processing_time_limit", "duration", "fps", "width",
            "height", "codec", "container", "has_audio", "size_bytes", "reference_score", "uploaded_by",
            "uploaded_at", "processed_at", "mean_rating", "rating_count", "my_rating", "predicted_score",
            "predicted_spread", "predicted_uncertainty", "predicted_low", "predicted_high", "predicted_novelty",
            "page_url", "video_url",
        ]  # fmt: skip
        read_only_fields = fields

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, trailer) -> str:
        return self._absolute(reverse("trailer_detail", args=[trailer.pk]))

    @extend_schema_field(OpenApiTypes.URI)
    def get_video_url(self, trailer) -> str:
        return self._absolute(reverse("trailer_video", args=[trailer.pk]))


class SubclipSerializer(serializers.ModelSerializer):
    end = serializers.FloatField(read_only=True)
    contact_sheet_url = serializers.SerializerMethodField()

    class Meta:
        model = Subclip
        fields = ["id", "index", "start", "duration", "end", "frame_count", "timestamps", "contact_sheet_url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_contact_sheet_url(self, subclip) -> str | None:
        if not subclip.contact_sheet:
            return None
        path = reverse("subclip_sheet", args=[subclip.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class TrailerPredictionSerializer(serializers.ModelSerializer):
    model_version_number = serializers.IntegerField(source="model_version.number", read_only=True)
    is_active = serializers.BooleanField(source="model_version.is_active", read_only=True)
    spread = serializers.FloatField(read_only=True, help_text=SPREAD_HELP)
    uncertainty = serializers.FloatField(read_only=True, help_text=UNCERTAINTY_HELP)
    low = serializers.FloatField(read_only=True, allow_null=True, help_text=LOW_HELP)
    high = serializers.FloatField(read_only=True, allow_null=True, help_text=HIGH_HELP)

    class Meta:
        model = Prediction
        fields = ["model_version", "model_version_number", "is_active", "score", "spread", "uncertainty", "low",
                  "high", "novelty", "subclip_scores", "created_at"]
        read_only_fields = fields


class TrailerDetailSerializer(TrailerSerializer):
    status = _TrailerStatusField(read_only=True)
    subclips = serializers.SerializerMethodField()
    rating_distribution = serializers.SerializerMethodField()
    predictions = serializers.SerializerMethodField()

    class Meta(TrailerSerializer.Meta):
        fields = TrailerSerializer.Meta.fields + ["subclips", "rating_distribution", "predictions"]
        read_only_fields = fields

    def _page(self, trailer) -> selectors.TrailerPage:
        cache = self.context.setdefault("_pages", {})
        if trailer.pk not in cache:
            cache[trailer.pk] = selectors.trailer_page(pk=trailer.pk, user=self.context["request"].user)
        return cache[trailer.pk]

    @extend_schema_field(SubclipSerializer(many=True))
    def get_subclips(self, trailer):
        return SubclipSerializer(self._page(trailer).subclips, many=True, context=self.context).data

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"},
                          "description": "how many ratings gave each score, keys '1' to '10'"})
    def get_rating_distribution(self, trailer) -> dict:
        return {str(score): count for score, count in self._page(trailer).distribution}

    @extend_schema_field(TrailerPredictionSerializer(many=True))
    def get_predictions(self, trailer):
        return TrailerPredictionSerializer(self._page(trailer).predictions, many=True, context=self.context).data


class TrailerUploadSerializer(RefusesUnknownFields, serializers.Serializer):
    # An empty file is the ingest service's to refuse, with its code ("empty") and words, as every other file.
    file = serializers.FileField(allow_empty_file=True, help_text="the trailer: any video file with a picture track")
    title = serializers.CharField(required=False, max_length=TITLE_MAX, help_text="defaults to the file's name")
    reference_score = serializers.FloatField(required=False, min_value=0, max_value=10,
                                             help_text="an imported reference score (needs trailers.change_trailer)")

    def validate_reference_score(self, value):
        request = self.context.get("request")
        if value is not None and not (request and can(request.user, CHANGE_TRAILER)):
            raise serializers.ValidationError("You need the permission to change trailers to set a reference score.")
        return value


class _TitleField(serializers.RegexField):
    """A new title: text only (a number is no title), not only spaces; the rename service's other rules are its own."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)


class TrailerRenameSerializer(RefusesUnknownFields, serializers.Serializer):
    # Surrounding spaces are dropped, as the rename service drops them; the schema gives the length it takes.
    title = _TitleField(r"\S", max_length=TITLE_MAX, help_text="not only spaces", error_messages={
        "required": "Send the new title as text in “title”.", "null": "Send the new title as text in “title”.",
        "not_text": "Send the new title as text in “title”.", "blank": "A title cannot be empty.",
        "invalid": "A title cannot be empty.", "max_length": "A title is at most {max_length} characters."})


# --- ratings ----------------------------------------------------------------------------------------


class RatingScoreField(serializers.IntegerField):
    """A rating as the pages take it (trailers.services.ratings.parse_rating): 1–10, nothing looser."""

    default_error_messages = {**serializers.IntegerField.default_error_messages,
                              "null": "A rating is a whole number from 1 to 10, not null."}

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=10, **kwargs)

    def to_internal_value(self, data):
        try:
            return parse_rating(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["score"]) from None


class RatingSerializer(RefusesUnknownFields, serializers.ModelSerializer):
    score = RatingScoreField()

    class Meta:
        model = Rating
        fields = ["trailer", "score", "created_at", "updated_at"]
        read_only_fields = ["trailer", "created_at", "updated_at"]


# --- runs -------------------------------------------------------------------------------------------


class DatasetSizeSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    train = serializers.IntegerField(help_text="training split of a run without folds (0 for a cross-validated run)")
    val = serializers.IntegerField(help_text="validation split of a run without folds (0 for a cross-validated run)")
    cross_validated = serializers.IntegerField(
        help_text="trailers of a cross-validated run: each held out by one fold and trained on by the others")


# The shape of TrainingRun.cross_validation (ml.crossval.CrossValResult.estimate()), for the schema.


class MeanSdSerializer(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    sd = serializers.FloatField(allow_null=True, help_text="standard deviation over folds")


class SummaryMetricsSerializer(serializers.Serializer):
    mae = MeanSdSerializer()
    rmse = MeanSdSerializer()
    spearman = MeanSdSerializer()


class CrossValidationSummarySerializer(serializers.Serializer):
    model = SummaryMetricsSerializer(help_text="the run's model, scored on each fold it never trained on (where "
                                               "it mixes the head with the neighbours, the mix)")
    head = SummaryMetricsSerializer(required=False, help_text="the learnt head alone, where the model mixes it "
                                                              "with the neighbours")
    mean_baseline = SummaryMetricsSerializer(help_text="always predicting the training folds' mean rating")
    single_frame = SummaryMetricsSerializer(required=False,
                                            help_text="the same encoder with mean pooling over frames (absent "
                                                      "when the run did not fit it)")
    neighbours = SummaryMetricsSerializer(required=False,
                                          help_text=f"the mean rating of the {NEIGHBOURS} training trailers "
                                                    "whose frames' embeddings are nearest (absent without "
                                                    "embeddings)")


class FoldMetricsSerializer(serializers.Serializer):
    mae = serializers.FloatField(allow_null=True)
    rmse = serializers.FloatField(allow_null=True)
    spearman = serializers.FloatField(allow_null=True)


class FoldSerializer(serializers.Serializer):
    fold = serializers.IntegerField(help_text="from 1")
    trailers = serializers.IntegerField(help_text="how many trailers the fold held out")
    train_trailers = serializers.IntegerField(help_text="how many trailers its model trained on")
    model = FoldMetricsSerializer()
    head = FoldMetricsSerializer(required=False)
    mean_baseline = FoldMetricsSerializer()
    single_frame = FoldMetricsSerializer(required=False)
    neighbours = FoldMetricsSerializer(required=False)
    neighbour_weight = serializers.FloatField(required=False, help_text=(
        "the neighbours' share in this fold's predictions, chosen on the other folds' held-out predictions"))


class CrossValidationSerializer(serializers.Serializer):
    folds = serializers.IntegerField()
    trailers = serializers.IntegerField(help_text="trailers scored held out (every trailer of the run, once)")
    summary = CrossValidationSummarySerializer(help_text="mean ± sd over folds of each role's held-out metrics")
    per_fold = FoldSerializer(many=True)
    groups = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()),
                                   help_text="trailer ids judged near-duplicates (same footage), each group kept "
                                             "in one fold")
    duplicate_threshold = serializers.FloatField(help_text="frame match (median best cosine similarity of one "
                                                           "trailer's frame embeddings to the other's) that joins "
                                                           "two trailers")
    duplicate_standout = serializers.FloatField(required=False, help_text=(
        "two trailers are also joined when their distance (1 − frame match) is at most this share of the run's "
        "typical distance between two trailers; absent for runs made before it was recorded"))
    duplicates_checked = serializers.BooleanField(help_text="false when there were no embeddings to compare with")
    embedded_on_demand = serializers.IntegerField(help_text="subclips without cached embeddings, embedded during "
                                                            "the run")
    neighbour_weight = serializers.FloatField(required=False, help_text=(
        "the neighbours' share in the version's predictions (0 to 1), chosen on every fold's held-out "
        "predictions; absent where the model is the head alone"))
    refit = serializers.BooleanField(required=False, help_text=(
        "true when one more model, fit on every trailer after the folds, makes the version's predictions (the fold "
        "models' figures above estimate it); absent otherwise"))
    stop_reason = serializers.CharField()


class TrainingRunSerializer(serializers.ModelSerializer):
    display_status = serializers.CharField(read_only=True, help_text="the status, or 'stale' when its worker went silent")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                              help_text="who started it; null for the demo or a deleted account")
    dataset_size = serializers.SerializerMethodField()
    duration_seconds = serializers.SerializerMethodField()
    model_version = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id", "status", "display_status", "progress", "epoch", "error", "cancel_requested", "note",
            "label_source", "min_ratings", "auto_activate", "model_config", "train_config", "requested_trailer_ids",
            "dataset_size", "sampling", "device", "gpu", "worker", "resumed_from_epoch", "attempts_without_epoch",
            "created_by", "created_at",
            "started_at", "finished_at", "duration_seconds", "model_version", "page_url",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(DatasetSizeSerializer(allow_null=True))
    def get_dataset_size(self, run):
        split = selectors.run_split(run)
        return None if split is None else {"total": split.total, "train": split.train, "val": split.val,
                                           "cross_validated": split.cross_validated}

    def get_duration_seconds(self, run) -> float | None:
        return selectors.run_duration_seconds(run)

    def get_model_version(self, run) -> int | None:
        version = getattr(run, "model_version", None)  # None when the run made no version
        return version.pk if version else None

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, run) -> str:
        path = reverse("run_detail", args=[run.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class TrainingRunDetailSerializer(TrainingRunSerializer):
    status = _RunStatusField(read_only=True)
    cross_validation = serializers.SerializerMethodField(
        help_text="the held-out estimate of a cross-validated run, once it has succeeded: per-fold and mean ± sd "
                  "metrics of the model and its baselines on the same folds, and the near-duplicate groups; null for "
                  "a run without folds (fit on a validation split, whose metrics flatter the model: its epoch was "
                  "chosen on them) and before it finishes. Each trailer's fold and held-out prediction are in the "
                  "dataset (dataset_url), a page at a time"
    )

    dataset_url = serializers.SerializerMethodField(
        help_text="the frozen dataset, one trailer per row, a page at a time (megabytes at scale: not inlined here)")

    class Meta(TrainingRunSerializer.Meta):
        # The per-epoch curves (megabytes for a long run) with the one run only: a list sends its runs' figures.
        fields = TrainingRunSerializer.Meta.fields + ["metrics", "dataset_url", "cross_validation"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_dataset_url(self, run) -> str:
        path = reverse("run-dataset", args=[run.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(CrossValidationSerializer(allow_null=True))
    def get_cross_validation(self, run):
        return selectors.run_estimate(run_id=run.pk) or None


class DatasetEntrySerializer(serializers.Serializer):
    """One trailer of a run's frozen dataset."""

    trailer = serializers.IntegerField(help_text="the trailer's id (it may have been deleted since)")
    label = serializers.FloatField(help_text="what the run learned for it: its mean rating or reference score then")
    split = serializers.ChoiceField(choices=["train", "val", "cv"],
                                    help_text="train or val for a run without folds; cv: held out by one fold")
    fold = serializers.IntegerField(allow_null=True, help_text=(
        "a cross-validated run's fold that held it out (from 1), once the run has succeeded; else null"))
    held_out_prediction = serializers.FloatField(allow_null=True, help_text=(
        "that fold's model's prediction of it (the model never trained on it), once the run has succeeded; "
        "else null"))


def _option_field(declared: Option) -> serializers.Field:
    """The API's field for one option declared in ml/config.py: its type, bounds and choices (so the schema has
    them), its help, and the start-run form's words when a value is refused."""
    refused = declared.sentence()
    common = {"required": False, "help_text": declared.help}
    if declared.choices:
        return serializers.ChoiceField(choices=sorted(declared.choices), error_messages={"invalid_choice": refused},
                                       **common)
    if declared.kind is bool:
        return serializers.BooleanField(error_messages={"invalid": refused}, **common)
    if declared.kind is tuple:
        return serializers.ListField(child=serializers.IntegerField(min_value=declared.low or 1,
                                                                    max_value=declared.high),
                                     max_length=declared.longest, error_messages={"max_length": refused}, **common)
    if declared.kind is str:
        return serializers.CharField(max_length=100, error_messages={"invalid": refused}, **common)
    field_class = serializers.IntegerField if declared.kind is int else serializers.FloatField
    return field_class(min_value=declared.low, max_value=declared.high, allow_null=declared.optional,
                       error_messages=dict.fromkeys(("invalid", "min_value", "max_value", "null", "max_string_length"),
                                                    refused), **common)


class _ConfigOptionsSerializer(RefusesUnknownFields, serializers.Serializer):
    """Some options of one of ml's configs, each as ml/config.py declares it; an unknown one is refused, and one
    renamed since (``seed``) is refused with its new name: one name per option, never one ignored."""

    config_class: type

    def get_fields(self):
        return {name: _option_field(declared) for name, declared in options(self.config_class).items()}

    def unknown_message(self, name: str) -> str:
        renamed = self.config_class.RENAMED
        return f"Renamed: send it as “{renamed[name]}”." if name in renamed else "Unknown option."


class ModelOptionsSerializer(_ConfigOptionsSerializer):
    """ml.config.LRCNConfig options, e.g. {"lstm_size": 32}; the rest are the preset's."""

    config_class = LRCNConfig


class TrainOptionsSerializer(_ConfigOptionsSerializer):
    """ml.config.TrainConfig options, e.g. {"epochs": 5}; the rest are the preset's."""

    config_class = TrainConfig


class TrainingRunCreateSerializer(RefusesUnknownFields, serializers.Serializer):
    """Start a run: a model preset, then any model or training option changed (as in the admin's form)."""

    HINTS = {
        "model_config": "Unknown field: send the model options changed from the preset's as “model” "
                        "(“model_config” is what a run reports it trained with).",
        "train_config": "Unknown field: send the training options changed from the preset's as “train” "
                        "(“train_config” is what a run reports it trained with).",
        "requested_trailer_ids": "Unknown field: send the trailers to train on as “trailer_ids”.",
    }

    preset = serializers.ChoiceField(choices=sorted(PRESETS), default="default",
                                     help_text="the model options to start from")
    label_source = serializers.ChoiceField(choices=TrainingRun.LabelSource.choices,
                                           default=TrainingRun.LabelSource.USER_MEAN)
    min_ratings = serializers.IntegerField(min_value=1, max_value=MAX_MIN_RATINGS, default=DEFAULT_MIN_RATINGS)
    auto_activate = serializers.BooleanField(default=False)
    trailer_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=selectors.MAX_ID),
                                        required=False, default=list,
                                        help_text="train on these trailers only (default: every labelled one)")
    model = ModelOptionsSerializer(required=False, help_text="model options changed from the preset's")
    train = TrainOptionsSerializer(required=False, help_text="training options changed from the preset's")

    def validate(self, data):
        """The preset's configs with the changes, every refusal (rules between options too) on its option."""
        errors: dict = {}
        for key, config_key, presets in (("model", "model_config", PRESETS), ("train", "train_config", TRAIN_PRESETS)):
            config_class = type(presets[data["preset"]])
            data[config_key], refusals = config_class.build({**presets[data["preset"]].to_dict(),
                                                             **data.get(key, {})})
            if refusals:
                errors[key] = {refusal.field: [refusal.sentence] for refusal in refusals}
        if errors:
            raise serializers.ValidationError(errors)
        return data


# --- model versions and predictions --------------------------------------------------------------------


class ComparisonSerializer(serializers.Serializer):
    active = serializers.IntegerField(allow_null=True, help_text="number of the version it was compared with "
                                                                 "(the active one); null when none was active")
    trailers = serializers.IntegerField(help_text="held-out trailers both versions predicted")
    label_source = serializers.ChoiceField(choices=TrainingRun.LabelSource.choices, required=False,
                                     help_text="what both MAEs measure against: the labels of the new version's run "
                                               "(absent where nothing was compared)")
    new_mae = serializers.FloatField(allow_null=True)
    old_mae = serializers.FloatField(allow_null=True)
    decision = serializers.ChoiceField(choices=["activate", "keep"])
    tied = serializers.BooleanField(required=False, help_text="true when both have the same MAE to 3 decimals: "
                                                              "neither is worse, and auto-activation keeps the active one")
    reason = serializers.CharField()


class ModelVersionMetricsSerializer(serializers.Serializer):
    """The keys a version's metrics have; older versions may lack some."""

    estimate = serializers.ChoiceField(choices=["cross-validated", "validation split"], required=False,
                                       help_text="what the figures are: the mean over cross-validation folds "
                                                 "(held out), or a validation split (the epoch was chosen on it; "
                                                 "flatters the model)")
    folds = serializers.IntegerField(required=False)
    ensemble = serializers.IntegerField(required=False, help_text=(
        "how many fold models the version has: their mean is its prediction, or the refit's is where refit is "
        "true; their spread is its uncertainty either way"))
    refit = serializers.BooleanField(required=False, help_text=(
        "true when one model fit on every trailer of the run makes the version's predictions"))
    trailers = serializers.IntegerField(required=False)
    val_mae = serializers.FloatField(required=False, allow_null=True,
                                     help_text="cross-validated MAE (mean over folds), or the validation split's")
    val_mae_sd = serializers.FloatField(required=False, allow_null=True, help_text="its standard deviation over folds")
    val_rmse = serializers.FloatField(required=False, allow_null=True)
    val_spearman = serializers.FloatField(required=False, allow_null=True)
    baseline_mae = serializers.FloatField(required=False, allow_null=True,
                                          help_text="the mean-rating baseline's, on the same trailers")
    baseline_rmse = serializers.FloatField(required=False, allow_null=True)
    single_frame_mae = serializers.FloatField(required=False, allow_null=True,
                                              help_text="the single-frame head's, on the same folds")
    single_frame_rmse = serializers.FloatField(required=False, allow_null=True)
    neighbours_mae = serializers.FloatField(required=False, allow_null=True,
                                            help_text="the nearest-neighbours baseline's, on the same folds")
    head_mae = serializers.FloatField(required=False, allow_null=True,
                                      help_text="the head alone's, where the model mixes it with the neighbours")
    neighbour_weight = serializers.FloatField(required=False, allow_null=True,
                                              help_text="the neighbours' share in the version's predictions (null: "
                                                        "the head alone)")
    near_duplicate_groups = serializers.IntegerField(required=False)
    comparison = ComparisonSerializer(required=False,
                                      help_text="set by auto-activation: the fair comparison with the version "
                                                "that was active, on the same held-out trailers")


@extend_schema_field(ModelVersionMetricsSerializer)
class _VersionMetricsField(serializers.JSONField):
    pass


class ModelVersionSerializer(serializers.ModelSerializer):
    prediction_count = serializers.IntegerField(read_only=True)
    metrics = _VersionMetricsField(read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "number", "run", "is_active", "metrics", "config", "created_at", "activated_at",
                  "prediction_count"]
        read_only_fields = fields


class ModelVersionActivationSerializer(ModelVersionSerializer):
    comparison = serializers.SerializerMethodField(
        help_text="the fair comparison with the version that was active before, on the same held-out trailers "
                  "(made before activating; activation does not depend on it)")

    class Meta(ModelVersionSerializer.Meta):
        fields = ModelVersionSerializer.Meta.fields + ["comparison"]
        read_only_fields = fields

    @extend_schema_field(ComparisonSerializer)
    def get_comparison(self, version) -> dict:
        return self.context["comparison"]


class PredictionSerializer(serializers.ModelSerializer):
    model_version_number = serializers.IntegerField(source="model_version.number", read_only=True)
    trailer_title = serializers.CharField(source="trailer.title", read_only=True)
    mean_rating = serializers.FloatField(read_only=True, allow_null=True,
                                         help_text="the trailer's mean user rating")
    rating_count = serializers.IntegerField(read_only=True)
    spread = serializers.FloatField(read_only=True, help_text=SPREAD_HELP)
    uncertainty = serializers.FloatField(read_only=True, help_text=UNCERTAINTY_HELP)
    low = serializers.FloatField(read_only=True, allow_null=True, help_text=LOW_HELP)
    high = serializers.FloatField(read_only=True, allow_null=True, help_text=HIGH_HELP)

    class Meta:
        model = Prediction
        fields = ["id", "model_version", "model_version_number", "trailer", "trailer_title", "score", "spread",
                  "uncertainty", "low", "high", "novelty", "subclip_scores", "mean_rating", "rating_count", "created_at"]
        read_only_fields = fields
