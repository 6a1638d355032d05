"""Handing work to the broker, and the sweep that hands over what could not be handed over.

Enqueueing never fails the caller: if the broker is unreachable the row stays
waiting (its ``enqueued_at`` empty) and `sweep` (run by every worker as it
starts, and by `manage.py sweep`) enqueues it once the broker is back.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from trailers.models import Trailer, TrainingRun

log = logging.getLogger(__name__)

# A trailer still `processing` this long after it was handed over lost its worker.
PREPROCESS_STALE_AFTER = timedelta(minutes=30)


def _send(task, *args) -> bool:
    try:
        task.apply_async(args=args, retry=True, retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY)
    except Exception as exc:  # the broker is down or unreachable: the sweep tries again later
        log.warning("could not enqueue %s%r: %s", task.name, args, exc)
        return False
    return True


def enqueue_preprocessing(trailer_id: int) -> bool:
    from trailers.tasks import preprocess_trailer_task

    sent = _send(preprocess_trailer_task, trailer_id)
    Trailer.objects.filter(pk=trailer_id).update(enqueued_at=timezone.now() if sent else None)
    return sent


def enqueue_training(run_id: int) -> bool:
    from trailers.tasks import train_run_task

    sent = _send(train_run_task, run_id)
    if sent:
        TrainingRun.objects.filter(pk=run_id).update(enqueued_at=timezone.now())
    return sent


def enqueue_scoring(model_version_id: int, trailer_ids: list[int] | None = None) -> bool:
    from trailers.tasks import score_trailers_task

    return _send(score_trailers_task, model_version_id, trailer_ids)


def sweep() -> dict[str, int]:
    """Enqueue work that is waiting: trailers never handed over (or whose worker died
    while processing), runs never handed over, and runs whose worker went silent."""
    now = timezone.now()
    waiting = Trailer.objects.filter(status=Trailer.Status.QUEUED, enqueued_at__isnull=True)
    lost = Trailer.objects.filter(status=Trailer.Status.PROCESSING, enqueued_at__lt=now - PREPROCESS_STALE_AFTER)
    trailer_ids = list(waiting.values_list("pk", flat=True)) + list(lost.values_list("pk", flat=True))
    trailers = sum(enqueue_preprocessing(pk) for pk in trailer_ids)

    stale_before = now - timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS)
    run_ids = list(TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED, enqueued_at__isnull=True)
                   .values_list("pk", flat=True))
    run_ids += list(TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, heartbeat_at__lt=stale_before)
                    .values_list("pk", flat=True))
    runs = sum(enqueue_training(pk) for pk in run_ids)
    return {"trailers": trailers, "runs": runs}
