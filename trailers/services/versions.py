"""Model versions: made by successful runs; staff activate one at a time."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from trailers.models import ModelVersion


def next_version_number() -> int:
    return (ModelVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1


class ActivationError(Exception):
    """A model version that cannot serve; the message says why."""


def check_weights(model_version: ModelVersion) -> None:
    """Raise ActivationError unless the version's weights file is there to load."""
    if not model_version.weights or not model_version.weights.storage.exists(model_version.weights.name):
        raise ActivationError(f"{model_version} cannot be used: its weights file "
                              f"({model_version.weights.name or 'none'}) is missing.")


def activate_model_version(*, model_version: ModelVersion) -> ModelVersion:
    """Make ``model_version`` the only active one, then score every ready trailer it has not scored."""
    check_weights(model_version)
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(is_active=True).exclude(pk=model_version.pk).update(
            is_active=False
        )
        ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True, activated_at=timezone.now())
        from .queue import enqueue_scoring

        transaction.on_commit(lambda: enqueue_scoring(model_version.pk, None))
    model_version.refresh_from_db()
    return model_version
