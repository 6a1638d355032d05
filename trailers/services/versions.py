"""Model versions: made by successful runs; staff activate one at a time."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from trailers.models import ModelVersion


def next_version_number() -> int:
    return (ModelVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1


def activate_model_version(*, model_version: ModelVersion) -> ModelVersion:
    """Make ``model_version`` the only active one, then score every ready trailer it has not scored."""
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(is_active=True).exclude(pk=model_version.pk).update(
            is_active=False
        )
        ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True, activated_at=timezone.now())
        from .queue import enqueue_scoring

        transaction.on_commit(lambda: enqueue_scoring(model_version.pk, None))
    model_version.refresh_from_db()
    return model_version
