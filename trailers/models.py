"""Reelscore's data: trailers, their subclips, ratings, training runs, model versions, predictions.

The database enforces the rules (one rating per user and trailer, scores 1–10,
at most one active model version, ...), not only the forms.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


def trailer_upload_to(instance: Trailer, filename: str) -> str:
    # The stored name is generated: the uploader's name is kept as text only.
    suffix = Path(filename).suffix.lower()[:10]
    return f"trailers/{uuid.uuid4().hex}{suffix}"


class Trailer(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    title = models.CharField(max_length=255, db_index=True)
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

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error = models.TextField(blank=True)
    # When preprocessing was last handed to the broker; empty while the broker was unreachable.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # When a worker last started preprocessing it (the sweep hands over one stuck `processing`).
    processing_started_at = models.DateTimeField(null=True, blank=True)
    # Stamped by the preprocessing worker while it works: one silent for PROCESSING_STALE_AFTER_SECONDS died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reference_score__isnull=True) | Q(reference_score__gte=0, reference_score__lte=10),
                name="trailer_reference_score_0_10",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_waiting_for_queue(self) -> bool:
        return self.status == self.Status.QUEUED and self.enqueued_at is None


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
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings")
    trailer = models.ForeignKey(Trailer, on_delete=models.CASCADE, related_name="ratings")
    score = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(10)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
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
    # What the run uses: ml.model.LRCNConfig and ml.train.TrainConfig as dicts.
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
    # Frozen when the run starts: [{"trailer": id, "label": float, "split": "train"|"val"}, ...]
    dataset = models.JSONField(default=list, blank=True)
    sampling = models.JSONField(default=dict, blank=True, help_text="preprocessing settings of the snapshot's frames")

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

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"),
        ]

    def __str__(self) -> str:
        return f"v{self.number}"


class Prediction(models.Model):
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    trailer = models.ForeignKey(Trailer, on_delete=models.CASCADE, related_name="predictions")
    score = models.FloatField()
    subclip_scores = models.JSONField(default=list)
    spread = models.FloatField(default=0.0, help_text="standard deviation of the subclip scores")
    uncertainty = models.FloatField(default=0.0, help_text="standard deviation over the model's ensemble members")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["model_version", "trailer"], name="prediction_one_per_version_trailer"),
        ]

    def __str__(self) -> str:
        return f"{self.model_version} {self.trailer}: {self.score:.2f}"


class PeriodicJob(models.Model):
    """When a periodic job (the sweep) last ran. Celery beat sends it; if two schedulers run by mistake, the
    second delivery within an interval finds it has just run and does nothing."""

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
