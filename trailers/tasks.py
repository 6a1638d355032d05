"""Celery tasks: thin wrappers that call a service. Each is safe to run twice.

An object store that cannot be reached (``StoreUnavailable``) retries the task with a growing delay: the
service has put its work back in the queue first, so a retry lost with its worker is sent again by the sweep.
The sweep itself is sent by one scheduler, Celery beat (config/celery.py), never by the workers.

Each task imports its service in its body: the services import this module to enqueue (services/queue.py).
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from celery.signals import task_postrun

from trailers.store import StoreUnavailable, log_cache_summary

log = logging.getLogger(__name__)

# Waiting for the object store: 5 s, 10 s, 20 s... at most a minute apart, for as long as it takes.
WAIT_FOR_STORE = {"autoretry_for": (StoreUnavailable,), "retry_backoff": 5, "retry_backoff_max": 60,
                  "retry_jitter": False, "max_retries": None}


class PreprocessTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """A prefork worker killed the attempt at its trailer's time limit (``queue._time_limits``): here, in the
        worker's main process, the trailer is marked failed with the reason at once."""
        if not isinstance(exc, TimeLimitExceeded):
            return
        from django.db import connection

        from trailers.services import fail_preprocessing_past_time_limit

        try:
            fail_preprocessing_past_time_limit(trailer_id=args[0], limit=exc.args[0])
        except Exception:  # the database is away: the sweep finds the attempt silent and ends it
            log.exception("could not mark trailer %s failed after its time limit", args[0])
        finally:
            connection.close()  # the main process forks pool processes: it keeps no connection open


@shared_task(bind=True, acks_late=True, base=PreprocessTask, **WAIT_FOR_STORE)
def preprocess_trailer_task(self, trailer_id: int) -> None:
    from trailers.services import preprocess_trailer

    preprocess_trailer(trailer_id=trailer_id)


@shared_task(bind=True, acks_late=True, **WAIT_FOR_STORE)
def embed_subclips_task(self, subclip_ids: list[int] | None = None) -> None:
    from trailers.services import embed_subclips

    embed_subclips(subclip_ids=subclip_ids, missing_only=True)  # the sweep's: see trailers.services.embeddings


@shared_task(bind=True, acks_late=True, **WAIT_FOR_STORE)
def train_run_task(self, run_id: int) -> None:
    from trailers.services import execute_training_run

    execute_training_run(run_id=run_id, worker=self.request.hostname or "")


@shared_task(bind=True, acks_late=True, **WAIT_FOR_STORE)
def score_trailers_task(self, model_version_id: int, trailer_ids: list[int] | None = None) -> None:
    from trailers.services import score_trailers

    score_trailers(model_version_id=model_version_id, trailer_ids=trailer_ids)


@shared_task(bind=True, ignore_result=True)
def sweep_task(self) -> None:
    """The periodic sweep, sent by Celery beat every SWEEP_INTERVAL_SECONDS. Two schedulers started by mistake
    send it twice as often; only the first delivery in each interval sweeps (``claim_periodic_job``)."""
    from trailers.services import claim_periodic_job, sweep

    if not claim_periodic_job(name="sweep"):
        log.info("sweep skipped: one ran less than an interval ago (a second scheduler is running?)")
        return
    sent = sweep()
    log.info("sweep handed over %(trailers)s trailer(s), %(runs)s run(s), %(scoring)s scoring task(s) and "
             "%(embedding)s embedding task(s); failed %(failed_trailers)s trailer(s) and %(failed_runs)s run(s); "
             "%(summaries)s prediction summaries made again; %(sessions)s expired login session(s) deleted", sent)


@task_postrun.connect
def log_cache_use(task=None, **kwargs) -> None:
    # One line per task: how many of the files it read were already on this machine.
    log_cache_summary(task.name.rsplit(".", 1)[-1] if task else "a task")
