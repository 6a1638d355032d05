"""Reelscore's data: trailers, their subclips, ratings, training runs, model versions, predictions.

The database enforces the rules (one rating per user and trailer, scores 1–10,
at most one active model version, ...), not only the forms.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.authtoken.models import TokenProxy

from ml.intervals import COVERAGE_WORDS, UNLIKE
from ml.markup import VIDEO_SUFFIXES


def trailer_upload_to(instance: Trailer, filename: str) -> str:
    # The stored name is generated: the uploader's name is kept as text only, and its suffix only where it is a
    # video's (a file is served as what its stored suffix names: trailers.store.SERVED_TYPES).
    suffix = Path(filename).suffix.lower()
    return f"trailers/{uuid.uuid4().hex}{suffix if suffix in VIDEO_SUFFIXES else ''}"


class Trailer(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    title = models.CharField(max_length=255)
    original_name = models.CharField(max_length=255)
    file = models.FileField(upload_to=trailer_upload_to, max_length=255)
    # An MP4 copy browsers play, made while preprocessing when they cannot play the file itself
    # (AVI, MPEG-TS, Matroska, ...): the player shows it; the model learns from the original.
    browser_copy = models.FileField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="trailers"
    )
    uploaded_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Probed at upload.
    duration = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    codec = models.CharField(max_length=50, blank=True)
    container = models.CharField(max_length=50, blank=True)
    has_audio = models.BooleanField(default=False)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, unique=True)

    # The seed's markup (Title, Score), where one was imported.
    reference_score = models.FloatField(null=True, blank=True)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    # When preprocessing was last handed to the broker; empty while the broker was unreachable.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # When a worker last started preprocessing it (the sweep hands over one stuck `processing`).
    processing_started_at = models.DateTimeField(null=True, blank=True)
    # Stamped by the preprocessing worker while it works: one silent for PROCESSING_STALE_AFTER_SECONDS died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Attempts at preprocessing since it was last queued by a person (upload, retry, reprocess): the sweep
    # fails a trailer whose worker died PROCESSING_MAX_ATTEMPTS times instead of queueing it again forever.
    processing_attempts = models.PositiveSmallIntegerField(default=0, help_text=(
        "attempts at preprocessing it since a person last queued it; after PROCESSING_MAX_ATTEMPTS deaths it is "
        "failed"))
    processed_at = models.DateTimeField(null=True, blank=True)

    # Its ratings' count, sum and mean, kept by trailers/services/ratings.py in the same transaction as every
    # rating written or removed (F() expressions, so concurrent raters never lose one another's): lists sort
    # and filter on them through indexes instead of aggregating every trailer's ratings per request.
    rating_count = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    mean_rating = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reference_score__isnull=True) | Q(reference_score__gte=0, reference_score__lte=10),
                name="trailer_reference_score_0_10",
            ),
            models.CheckConstraint(
                condition=Q(rating_count=0, rating_sum=0, mean_rating__isnull=True)
                | Q(rating_count__gt=0, rating_sum__gte=F("rating_count"), rating_sum__lte=F("rating_count") * 10,
                    mean_rating__isnull=False),
                name="trailer_rating_counters_agree",
            ),
        ]
        # One index per order a list offers (selectors.TRAILER_SORTS; the id breaks ties in the same direction), so
        # that a page, the first or the hundredth, is read from an index instead of sorting every trailer. Each is
        # read forwards for one direction and backwards for the other; the nullable columns also have a
        # DESC NULLS LAST index on PostgreSQL (migration 0008: SQLite cannot index NULLS LAST).
        indexes = [
            # The default order exactly (a plain DESC: the column is never null).
            models.Index(fields=["-uploaded_at", "-id"], name="trailer_uploaded_desc"),
            # "Rate next" (fewest ratings first, oldest first among equals) and the count sort.
            models.Index(fields=["rating_count", "uploaded_at", "id"], name="trailer_rating_count"),
            models.Index(fields=["title", "id"], name="trailer_title"),
            models.Index(fields=["status", "id"], name="trailer_status"),
            models.Index(fields=["duration", "id"], name="trailer_duration"),
            models.Index(fields=["mean_rating", "id"], name="trailer_mean_rating"),
            models.Index(fields=["reference_score", "id"], name="trailer_reference_score"),
            # The admin's filters list the codecs and containers there are (SELECT DISTINCT): read from these.
            models.Index(fields=["codec"], name="trailer_codec"),
            models.Index(fields=["container"], name="trailer_container"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_waiting_for_queue(self) -> bool:
        return self.status == self.Status.QUEUED and self.enqueued_at is None

    @property
    def processing_time_limit(self) -> int:
        """Seconds one attempt at preprocessing it may take: PROCESSING_TIME_LIMIT_SECONDS, plus
        PROCESSING_TIME_PER_VIDEO_SECOND for each second of its length (of 2 hours when its length is unknown), and
        at most 6 hours more than PROCESSING_TIME_LIMIT_SECONDS (a header may claim any length). A prefork worker
        kills an attempt that runs past it and fails the trailer (tasks.PreprocessTask)."""
        length = self.duration if self.duration is not None else 2 * 3600
        extra = min(settings.PROCESSING_TIME_PER_VIDEO_SECOND * length, 6 * 3600)
        return math.ceil(settings.PROCESSING_TIME_LIMIT_SECONDS + extra)


def subclip_upload_to(instance: Subclip, filename: str) -> str:
    return f"subclips/{instance.trailer_id}/{filename}"


class Subclip(models.Model):
    trailer = models.ForeignKey(Trailer, on_delete=models.CASCADE, related_name="subclips")
    index = models.PositiveSmallIntegerField()
    start = models.FloatField(help_text="seconds from the start of the trailer")
    duration = models.FloatField(help_text="seconds")
    frames = models.FileField(upload_to=subclip_upload_to, max_length=255, help_text="uint8 T×H×W×3 .npy")
    frame_count = models.PositiveIntegerField()
    timestamps = models.JSONField(default=list, help_text="seconds of each sampled frame")
    contact_sheet = models.FileField(upload_to=subclip_upload_to, max_length=255, blank=True)
    sampling = models.JSONField(default=dict, help_text="the preprocessing settings that made these frames")
    # The frozen pretrained encoder's embedding of every frame (float16 T×D .npy), made at preprocessing,
    # and the ml.embeddings.EmbeddingSpec that made it ({} while there is none).
    embeddings = models.FileField(upload_to=subclip_upload_to, max_length=255, blank=True)
    embedding = models.JSONField(default=dict, blank=True, help_text="encoder, weights checksum and size of the embeddings")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trailer", "index"]
        constraints = [models.UniqueConstraint(fields=["trailer", "index"], name="subclip_unique_index")]

    def __str__(self) -> str:
        return f"{self.trailer} #{self.index}"

    @property
    def end(self) -> float:
        return self.start + self.duration


class Rating(models.Model):
    # No index of its own: the (user, trailer) unique index serves every lookup by user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings",
                             db_index=False)
    trailer = models.ForeignKey(Trailer, on_delete=models.CASCADE, related_name="ratings")
    score = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(10)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            # The admin's list (newest change first) at millions of ratings.
            models.Index(fields=["-updated_at", "-id"], name="rating_updated_desc"),
        ]
        constraints = [
            # On PostgreSQL its index also carries the score (INCLUDE, migration 0008): "your rating" is read, joined
            # and sorted from the index alone.
            models.UniqueConstraint(fields=["user", "trailer"], name="rating_one_per_user_trailer"),
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=10), name="rating_score_1_10"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.trailer}: {self.score}"


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class LabelSource(models.TextChoices):
        USER_MEAN = "user_mean", "Mean of user ratings"
        REFERENCE = "reference", "Reference score (imported markup)"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # What the run uses: ml.config.LRCNConfig and ml.config.TrainConfig as dicts.
    model_config = models.JSONField(default=dict)
    train_config = models.JSONField(default=dict)
    label_source = models.CharField(max_length=20, choices=LabelSource.choices, default=LabelSource.USER_MEAN)
    min_ratings = models.PositiveIntegerField(default=1)
    auto_activate = models.BooleanField(default=False, help_text="activate the new version if it beats the active one")
    # The preset the start-run form began from ("default", ...), or "custom" for options no preset has.
    preset = models.CharField(max_length=50, blank=True, db_index=True)
    # Staff's note on the run ("lr too high", "the one we shipped"), shown on the run, the list and compare pages.
    note = models.TextField(blank=True)
    # Trailers asked for ("train on these"); empty means every labelled, ready trailer.
    requested_trailer_ids = models.JSONField(default=list, blank=True)
    # The number of the version the run made, kept when that version is deleted, so that no later version takes it:
    # "v3" names one model for good, in notes, comparisons and a client's records alike.
    version_number = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Frozen when the run starts: [{"trailer": id, "label": float, "split": "train"|"val"|"cv"}, ...]. Large (3 MB
    # at 50,000 trailers): lists and pages read the split's sizes below, and only what needs the rows loads it.
    dataset = models.JSONField(default=list, blank=True)
    dataset_trailers = models.PositiveIntegerField(default=0, help_text="how many trailers the dataset holds")
    dataset_train = models.PositiveIntegerField(default=0, help_text="its training split (runs without folds)")
    dataset_val = models.PositiveIntegerField(default=0, help_text="its validation split (runs without folds)")
    dataset_cross_validated = models.PositiveIntegerField(default=0, help_text="its trailers held out once each")
    sampling = models.JSONField(default=dict, blank=True, help_text="preprocessing settings of the snapshot's frames")
    frames = models.JSONField(default=dict, blank=True, help_text=(
        "the subclips its dataset's trailers had when its worker read them: how many, how long (selectors.RunFrames)"))

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    epoch = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=list, blank=True, help_text="one dict per finished epoch (and fold)")
    # The held-out estimate (ml.crossval.CrossValResult.estimate()): per-fold and summary metrics of the model
    # and its baselines, the near-duplicate groups, every trailer's held-out prediction. {} for runs without folds.
    cross_validation = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    device = models.CharField(max_length=50, blank=True)
    gpu = models.CharField(max_length=255, blank=True, help_text="which GPU the run used (name, index, UUID); "
                                                                 "empty on the CPU")
    worker = models.CharField(max_length=255, blank=True)
    cancel_requested = models.BooleanField(default=False)
    resumed_from_epoch = models.PositiveIntegerField(
        null=True, blank=True, help_text="set when a worker carried on from a checkpoint after the run lost its worker"
    )
    checkpoint = models.CharField(max_length=255, blank=True, help_text="where its checkpoints are kept in the media "
                                                                        "storage (a folder for a cross-validation)")
    # Workers that took the run since it last finished an epoch (set back to 0 by each epoch's checkpoint): the
    # sweep fails a run whose workers died RUN_MAX_ATTEMPTS times in a row without one, instead of handing it
    # over forever.
    attempts_without_epoch = models.PositiveSmallIntegerField(default=0, help_text=(
        "workers that took it since it last finished an epoch; after RUN_MAX_ATTEMPTS deaths in a row it is failed"))
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=1), name="run_progress_0_1"),
        ]

    def __str__(self) -> str:
        return f"Run #{self.pk}"

    def save(self, *args, **kwargs):
        if "dataset" not in self.get_deferred_fields():
            for name, value in self.split_sizes(self.dataset or []).items():
                setattr(self, name, value)
            if kwargs.get("update_fields") is not None and "dataset" in kwargs["update_fields"]:
                kwargs["update_fields"] = {*kwargs["update_fields"], *self.split_sizes([])}
        super().save(*args, **kwargs)

    # The fields that grow with the dataset: lists and pages that do not show them leave them unread.
    LARGE_FIELDS = ("dataset", "cross_validation")

    @staticmethod
    def split_sizes(dataset: list[dict]) -> dict[str, int]:
        """The size columns that go with ``dataset``: write them wherever the dataset is written."""
        splits = [entry.get("split") for entry in dataset]
        return {"dataset_trailers": len(splits), "dataset_train": splits.count("train"),
                "dataset_val": splits.count("val"), "dataset_cross_validated": splits.count("cv")}

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def is_stale(self) -> bool:
        """Running, but its worker has not reported for RUN_STALE_AFTER_SECONDS."""
        if self.status != self.Status.RUNNING:
            return False
        last = self.heartbeat_at or self.started_at
        limit = timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS)
        return last is None or timezone.now() - last > limit

    @property
    def display_status(self) -> str:
        return "stale" if self.is_stale else self.status


def model_version_upload_to(instance: ModelVersion, filename: str) -> str:
    return f"models/{uuid.uuid4().hex}.pt"


class ModelVersion(models.Model):
    run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="model_version")
    number = models.PositiveIntegerField(unique=True)
    weights = models.FileField(upload_to=model_version_upload_to, max_length=255)
    config = models.JSONField(default=dict, help_text="everything needed to rebuild and apply the model")
    metrics = models.JSONField(default=dict, help_text="validation metrics of the kept weights")
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    # When scoring with this version was last handed to the broker (the sweep re-sends lost scoring).
    scoring_enqueued_at = models.DateTimeField(null=True, blank=True)
    # When it last had a prediction for every ready trailer (a whole scoring pass finished, or the sweep found
    # none missing); cleared when it is activated, so the predictions page follows the scoring until then.
    scored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"),
        ]

    def __str__(self) -> str:
        return f"v{self.number}"


class Prediction(models.Model):
    # No index of its own: the (model_version, trailer) unique index serves every lookup by version.
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions",
                                      db_index=False)
    trailer = models.ForeignKey(Trailer, on_delete=models.CASCADE, related_name="predictions")
    score = models.FloatField()
    subclip_scores = models.JSONField(default=list)
    spread = models.FloatField(default=0.0, help_text="standard deviation of the subclip scores")
    uncertainty = models.FloatField(default=0.0, help_text="standard deviation over the model's ensemble members")
    # The range the rating should fall in 4 times in 5, from the version's folds' own errors (ml/intervals.py);
    # empty for a version without them (a single model, or one trained before they were kept).
    low = models.FloatField(null=True, blank=True,
                            help_text=f"lower end of the {COVERAGE_WORDS['percent']} prediction interval")
    high = models.FloatField(null=True, blank=True,
                             help_text=f"upper end of the {COVERAGE_WORDS['percent']} prediction interval")
    # How unlike the trailers the version learnt from this one looks (ml.predict.Scores.novelty); the interval
    # widens with it. Empty for a version without embeddings or made before the distances were kept.
    novelty = models.FloatField(null=True, blank=True, help_text=(
        "how unlike the trailers the version learnt from this trailer looks: its distance from them over the "
        "typical distance of a cross-validation fold's trailers from theirs (1: as unlike as those; its interval is "
        "wider the larger it is); empty for a version without embeddings or from before it was kept"))
    # What the version knew of the trailer, from its run (trailers/standing.py), kept when it scores: the
    # predictions page's figures over any filtered rows then need no more than the rows.
    trained = models.BooleanField(default=False, help_text="the version learned from this trailer")
    held_out_score = models.FloatField(null=True, blank=True, help_text=(
        "a cross-validated version's own trailer: the prediction of the fold model that never trained on it"))
    baseline = models.FloatField(null=True, blank=True, help_text=(
        "the mean-rating baseline's prediction of this trailer, as the version's estimate scored it"))
    # |score - the trailer's mean rating|, kept with every rating of the trailer (services/ratings.py) and every
    # score (services/scoring.py), so that the predictions page sorts by it from an index.
    error = models.FloatField(null=True, blank=True, help_text=(
        "how far the prediction is from the trailer's mean user rating; empty while it has no ratings"))
    created_at = models.DateTimeField(default=timezone.now)

    # Whether the trailer looks unlike the version's training trailers (ml.intervals.UNLIKE), for a query: the
    # predictions filter and the page's count (ml.intervals.looks_unlike for one row: the pages' `unlike` filter).
    LOOKS_UNLIKE = Q(novelty__gte=UNLIKE)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # On PostgreSQL its index also carries the numbers lists show (INCLUDE, migration 0008): the active
            # prediction is joined from the index alone.
            models.UniqueConstraint(fields=["model_version", "trailer"], name="prediction_one_per_version_trailer"),
        ]
        indexes = [  # the predictions page's orders within a version
            models.Index(fields=["model_version", "score", "id"], name="prediction_score"),
            models.Index(fields=["model_version", "uncertainty", "id"], name="prediction_uncertainty"),
            models.Index(fields=["model_version", "spread", "id"], name="prediction_spread"),
            models.Index(fields=["model_version", "novelty", "id"], name="prediction_novelty"),
            models.Index(fields=["model_version", "error", "id"], name="prediction_error"),
        ]

    def __str__(self) -> str:
        return f"{self.model_version} {self.trailer}: {self.score:.2f}"

    # The trailer's figures beside the prediction (select_related("trailer") reads them with the row).

    @property
    def mean_rating(self) -> float | None:
        return self.trailer.mean_rating

    @property
    def rating_count(self) -> int:
        return self.trailer.rating_count

    @property
    def abs_error(self) -> float | None:
        """How far the prediction is from the trailer's mean user rating; None while it has no ratings."""
        mean = self.trailer.mean_rating
        return None if mean is None else abs(self.score - mean)


class PredictionSummary(models.Model):
    """The predictions page's figures for one model version over every rated trailer it scored, kept so that the
    page does not aggregate every prediction on every view (trailers/services/summaries.py makes them).

    Made when the version scores; marked stale in the same transaction as any rating written or removed (and
    when trailers go), and made again by the next sweep.
    """

    model_version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, primary_key=True,
                                         related_name="summary")
    # {"all": figures, "unseen": figures, "held_out": figures or null}; figures: n, mae, rmse, spearman, baseline_mae
    figures = models.JSONField(default=dict)
    # The scatter plot's even sample: [[mean rating, predicted, title, trailer id], ...]
    points = models.JSONField(default=list)
    predictions = models.PositiveIntegerField(default=0, help_text="how many predictions the version had then")
    computed_at = models.DateTimeField(default=timezone.now)
    stale = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "prediction summaries"

    def __str__(self) -> str:
        return f"summary of {self.model_version_id}"


class PeriodicJob(models.Model):
    """When a job last ran: the sweep (Celery beat sends it; if two schedulers run by mistake, the second delivery
    within an interval finds it has just run and does nothing), and the demo's build (``demo:…``: once it is
    built whole, a later ``make demo`` builds nothing, whatever was deleted of it since)."""

    name = models.CharField(max_length=50, primary_key=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class ExcludedRater(models.Model):
    """A person whose ratings staff left out of ``user_mean`` labels (the raters page says why they might):
    their ratings stay, and still count on the pages; training runs do not learn from them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rater_exclusion")
    excluded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    excluded_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.user} (left out of user_mean labels)"


class ApiToken(TokenProxy):
    """An API token as the admin shows it: by whose it is, never by its key (DRF's own admin lists every key, and
    its string is the key, which the admin writes into its log and confirmation pages). A token is a password: who
    reads one acts as its owner."""

    class Meta:
        proxy = True
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.user}'s API token"
