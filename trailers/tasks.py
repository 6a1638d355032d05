"""Celery tasks: thin wrappers that call a service. Each is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready


@shared_task(bind=True, acks_late=True)
def preprocess_trailer_task(self, trailer_id: int) -> None:
    from trailers.services import preprocess_trailer

    preprocess_trailer(trailer_id=trailer_id)


@shared_task(bind=True, acks_late=True)
def train_run_task(self, run_id: int) -> None:
    from trailers.services import execute_training_run

    execute_training_run(run_id=run_id, worker=self.request.hostname or "")


@shared_task(bind=True, acks_late=True)
def score_trailers_task(self, model_version_id: int, trailer_ids: list[int] | None = None) -> None:
    from trailers.services import score_trailers

    score_trailers(model_version_id=model_version_id, trailer_ids=trailer_ids)


@worker_ready.connect
def sweep_on_worker_start(**kwargs) -> None:
    # A worker coming back picks up what a dead worker or a down broker left behind.
    from trailers.services import sweep

    sweep()
