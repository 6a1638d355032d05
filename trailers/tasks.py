"""Celery tasks: thin wrappers that call a service. Each is safe to run twice."""

from __future__ import annotations

import logging
import threading
import time

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True)
def preprocess_trailer_task(self, trailer_id: int) -> None:
    from trailers.services import preprocess_trailer

    preprocess_trailer(trailer_id=trailer_id)


@shared_task(bind=True, acks_late=True)
def embed_subclips_task(self, subclip_ids: list[int] | None = None) -> None:
    from trailers.services import embed_subclips

    embed_subclips(subclip_ids=subclip_ids)


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
    # A worker picks up what a dead worker or a down broker left behind: as it starts,
    # and every SWEEP_INTERVAL_SECONDS while it runs.
    _sweep()
    threading.Thread(target=_sweep_forever, args=(settings.SWEEP_INTERVAL_SECONDS,), daemon=True,
                     name="reelscore-sweep").start()


def _sweep_forever(interval: float) -> None:
    while True:
        time.sleep(interval)
        _sweep()


def _sweep() -> None:
    from django.db import connection

    from trailers.services import sweep

    try:
        sent = sweep()
        if any(sent.values()):
            log.info("sweep handed over %(trailers)s trailer(s), %(runs)s run(s), %(scoring)s scoring task(s) and "
                     "%(embedding)s embedding task(s); %(summaries)s prediction summaries made again", sent)
    except Exception:  # the database or the broker is away: the next sweep tries again
        log.exception("sweep failed")
    finally:
        connection.close()  # this thread's own connection; a fresh one next time
