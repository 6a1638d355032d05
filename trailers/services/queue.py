"""Handing work to the broker, and the sweep that hands over what could not be handed over.

Enqueueing never fails the caller: if the broker is unreachable the row stays
waiting (its ``enqueued_at`` empty) and `sweep` (sent every SWEEP_INTERVAL_SECONDS
by the one scheduler, Celery beat, and run by `manage.py sweep`) enqueues it once
the broker is back.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from importlib import import_module

from celery.utils import uuid
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from ml.embeddings import EncoderError
from trailers import selectors
from trailers.models import ModelVersion, PeriodicJob, Trailer, TrainingRun
from trailers.tasks import embed_subclips_task, preprocess_trailer_task, score_trailers_task, train_run_task
from trailers.words import duration

from .embeddings import embedded_otherwise, embedding_spec, stale_subclips
from .summaries import refresh_prediction_summaries

log = logging.getLogger(__name__)


SEND_BATCH = 500  # messages sent over one broker connection, then marked sent with one UPDATE


def _send(task, *args, **options) -> bool:
    try:
        task.apply_async(args=args, retry=True, retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY, **options)
    except Exception as exc:  # the broker is down or unreachable: the sweep tries again later
        log.warning("could not enqueue %s%r: %s", task.name, args, exc)
        return False
    return True


def _send_many(task, arg_lists: list[tuple], producer, time_limits: list[int | None]) -> int:
    """Send one message per ``arg_lists`` entry (with its entry of ``time_limits``) over ``producer``'s
    connection, as ``task.apply_async`` would (the same message protocol and route), as one batch: the route is
    looked up once, the queue declared once, and the messages go out together (kombu's publish batch: one Redis
    pipeline; transports without batches send each at once). Returns how many were sent: all, or none when the
    broker refused the batch."""
    amqp = task.app.amqp
    queue = amqp.router.route({}, task.name, None, None)["queue"]
    try:
        with producer.batch(max_size=len(arg_lists) + 1):
            for index, (args, time_limit) in enumerate(zip(arg_lists, time_limits, strict=True)):
                message = amqp.create_task_message(uuid(), task.name, args, {}, ignore_result=task.ignore_result,
                                                   argsrepr=repr(args), kwargsrepr="{}", time_limit=time_limit)
                # exchange="": straight to the queue (the anonymous exchange, which the direct exchange of the
                # same name amounts to), without looking its binding up for every message.
                amqp.send_task_message(producer, task.name, message, queue=queue, exchange="",
                                       declare=None if index == 0 else [], retry=index == 0,
                                       retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY)
    except Exception as exc:  # the broker is down or went away: the batch waits for the next sweep
        log.warning("could not enqueue %s for %d trailers: %s", task.name, len(arg_lists), exc)
        return 0
    return len(arg_lists)


def enqueue_preprocessing_many(*, trailer_ids: list[int]) -> int:
    """Hand many queued trailers to the broker: batches of SEND_BATCH messages over one connection, each batch
    sent together and marked sent with one UPDATE. Stops at the first batch the broker refuses (it is down: the
    rest wait for the next sweep, instead of each waiting out its own retries). Returns how many were sent."""
    sent = 0
    with preprocess_trailer_task.app.producer_or_acquire() as producer:
        for start in range(0, len(trailer_ids), SEND_BATCH):
            batch = trailer_ids[start:start + SEND_BATCH]
            limits = _time_limits(batch)
            done = batch[:_send_many(preprocess_trailer_task, [(pk,) for pk in batch], producer,
                                     [limits.get(pk) for pk in batch])]
            # Only trailers still queued: a worker may already have started one.
            Trailer.objects.filter(pk__in=done, status=Trailer.Status.QUEUED).update(enqueued_at=timezone.now())
            sent += len(done)
            if len(done) < len(batch):
                Trailer.objects.filter(pk=batch[len(done)], status=Trailer.Status.QUEUED).update(enqueued_at=None)
                break
    return sent


def enqueue_preprocessing(*, trailer_id: int) -> bool:
    """Hand a queued trailer to the broker; on failure it stays waiting for the sweep."""
    sent = _send(preprocess_trailer_task, trailer_id, time_limit=_time_limits([trailer_id]).get(trailer_id))
    # Only a trailer still queued: a worker may already have started it.
    Trailer.objects.filter(pk=trailer_id, status=Trailer.Status.QUEUED).update(
        enqueued_at=timezone.now() if sent else None
    )
    return sent


def _time_limits(trailer_ids: list[int]) -> dict[int, int]:
    """Each trailer's time limit for one attempt at preprocessing (``Trailer.processing_time_limit``): sent with
    its message, so that a prefork worker kills an attempt that runs past it."""
    return {t.pk: t.processing_time_limit for t in Trailer.objects.filter(pk__in=trailer_ids).only("pk", "duration")}


def request_preprocessing(*, trailer_ids) -> tuple[int, int]:
    """Queue trailers to be preprocessed again (after commit). Returns (queued, skipped while processing)."""
    with transaction.atomic():
        rows = Trailer.objects.filter(pk__in=list(trailer_ids))
        busy = rows.filter(status=Trailer.Status.PROCESSING).count()
        ids = list(rows.exclude(status=Trailer.Status.PROCESSING).values_list("pk", flat=True))
        Trailer.objects.filter(pk__in=ids).update(status=Trailer.Status.QUEUED, error="", enqueued_at=None,
                                                  processing_attempts=0)
        transaction.on_commit(lambda: enqueue_preprocessing_many(trailer_ids=ids))
    return len(ids), busy


def enqueue_training(*, run_id: int) -> bool:
    sent = _send(train_run_task, run_id)
    if sent:
        TrainingRun.objects.filter(pk=run_id).update(enqueued_at=timezone.now())
    return sent


def enqueue_scoring(*, model_version_id: int, trailer_ids: list[int] | None = None) -> bool:
    sent = _send(score_trailers_task, model_version_id, trailer_ids)
    if sent:
        ModelVersion.objects.filter(pk=model_version_id).update(scoring_enqueued_at=timezone.now())
    return sent


def claim_periodic_job(*, name: str, interval: float | None = None) -> bool:
    """Whether this delivery of the periodic job ``name`` should run: True for the first in each interval
    (SWEEP_INTERVAL_SECONDS), False for a second one sent meanwhile (a second scheduler). One conditional
    UPDATE decides it, so two deliveries at the same moment cannot both win."""
    interval = settings.SWEEP_INTERVAL_SECONDS if interval is None else interval
    now = timezone.now()
    PeriodicJob.objects.get_or_create(name=name)
    # 0.9: a scheduler's own ticks, a little late or early, still each run; another's, in between, do not.
    due = Q(last_run_at__isnull=True) | Q(last_run_at__lte=now - timedelta(seconds=0.9 * interval))
    return PeriodicJob.objects.filter(due, name=name).update(last_run_at=now) == 1


def sweep() -> dict[str, int]:
    """Hand over what is waiting or was lost; returns how many trailers, runs, scoring tasks and embedding tasks
    were sent, how many kept summaries were made again, how many trailers and runs it failed and how many expired
    login sessions it deleted (keys trailers, runs, scoring, embedding, summaries, failed_trailers, failed_runs,
    sessions).

    - trailers and runs never handed to the broker (it was down);
    - trailers and runs handed over REQUEUE_AFTER_SECONDS ago and still not started: the
      message went with a killed worker (the filesystem broker drops a message once taken);
    - trailers `processing` whose worker stopped beating for PROCESSING_STALE_AFTER_SECONDS (it died) or that ran
      past their time limit on a worker that cannot kill them: queued again, or failed with the reason
      (``_end_lost_preprocessing``);
    - runs whose heartbeat stopped (stale), unless handed over since they last reported, or failed once their
      workers died RUN_MAX_ATTEMPTS times in a row without finishing an epoch;
    - scoring with the active version, when ready trailers still lack its prediction;
    - embedding, when subclips of ready trailers have no embeddings (preprocessed before embeddings existed); at
      most once per REQUEUE_AFTER_SECONDS. Embeddings made with other settings are left to the command (a
      warning says how many, at most once per REQUEUE_AFTER_SECONDS per process);
    - and it makes again the predictions page's kept figures that ratings have made stale (in this process);
    - and deletes expired login sessions (``clear_expired_sessions``).

    Sending twice is harmless: a preprocessing task only starts a trailer that is queued,
    a training task only a run that is queued or stale, and scoring overwrites its prediction.
    """
    now = timezone.now()
    requeue_before = now - timedelta(seconds=settings.REQUEUE_AFTER_SECONDS)
    failed_trailers = _end_lost_preprocessing(now, requeue_before)
    not_sent = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=requeue_before)
    trailer_ids = Trailer.objects.filter(not_sent, status=Trailer.Status.QUEUED).order_by("pk")
    trailers = enqueue_preprocessing_many(trailer_ids=list(trailer_ids.values_list("pk", flat=True)))

    from .training import fail_runs_whose_workers_keep_dying  # here: the training service imports this module

    failed_runs = fail_runs_whose_workers_keep_dying()
    stale_before = now - timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS)
    stale = Q(status=TrainingRun.Status.RUNNING, heartbeat_at__lt=stale_before) & (
        not_sent | Q(enqueued_at__lt=F("heartbeat_at"))
    )
    run_ids = TrainingRun.objects.filter((Q(status=TrainingRun.Status.QUEUED) & not_sent) | stale)
    runs = sum(enqueue_training(run_id=pk) for pk in list(run_ids.values_list("pk", flat=True)))
    return {"trailers": trailers, "runs": runs, "scoring": _sweep_scoring(requeue_before),
            "embedding": _sweep_embeddings(), "summaries": refresh_prediction_summaries(),
            "failed_trailers": failed_trailers, "failed_runs": failed_runs, "sessions": clear_expired_sessions()}


def clear_expired_sessions() -> int:
    """Delete the login sessions that have expired (Django keeps them until told: ``clearsessions``); returns how
    many, where the session engine can say (the database's)."""
    if settings.SESSION_ENGINE in ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db"):
        from django.contrib.sessions.models import Session

        return Session.objects.filter(expire_date__lt=timezone.now()).delete()[0]
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    return 0


def _end_lost_preprocessing(now, requeue_before) -> int:
    """Trailers `processing` whose attempt is over without an end.

    - Its worker stopped beating: it died. Queued again (the next attempt removes what the dead one wrote), or
      failed with the reason once that happened PROCESSING_MAX_ATTEMPTS times.
    - It still beats, PROCESSING_STALE_AFTER_SECONDS past its time limit: its pool cannot kill it (solo,
      threads; that worker stays busy until it is restarted). Failed with the reason. (A prefork worker kills
      the attempt at its limit and fails the trailer itself: ``fail_preprocessing_past_time_limit``.)

    Each change holds only if the attempt is still the one seen here. Returns how many trailers it failed."""
    stale = settings.PROCESSING_STALE_AFTER_SECONDS
    failed = 0
    silent_since = now - timedelta(seconds=stale)
    for trailer in Trailer.objects.filter(status=Trailer.Status.PROCESSING).only(
            "pk", "duration", "processing_started_at", "heartbeat_at", "processing_attempts"):
        started, limit = trailer.processing_started_at, trailer.processing_time_limit
        beat = trailer.heartbeat_at
        silent = (started is None or (beat is None and started < requeue_before)  # begun before heartbeats
                  or (beat is not None and beat < silent_since))
        attempt = Trailer.objects.filter(pk=trailer.pk, status=Trailer.Status.PROCESSING, processing_started_at=started)
        if silent:
            attempt = attempt.filter(heartbeat_at=beat)  # not one that beat again since it was read
        if not silent and (now - started).total_seconds() >= limit + stale:
            log.error("trailer %s: its preprocessing ran past its time limit of %s and its worker cannot stop it; "
                      "failing the trailer (restart that worker)", trailer.pk, duration(limit))
            failed += attempt.update(status=Trailer.Status.FAILED, processed_at=now,
                                     error=_past_time_limit_error(limit, trailer))
        elif silent and trailer.processing_attempts >= settings.PROCESSING_MAX_ATTEMPTS:
            log.error("trailer %s: its preprocessing worker died %s times; failing it", trailer.pk,
                      trailer.processing_attempts)
            failed += attempt.update(status=Trailer.Status.FAILED, processed_at=now, error=(
                f"Preprocessing was started {trailer.processing_attempts} times, and each time its worker stopped "
                "before it finished (killed, perhaps for want of memory). The file may be one the decoder cannot "
                "handle: try another encoding of it, or retry it once the workers are sound."))
        elif silent:
            log.warning("trailer %s: its preprocessing worker stopped beating; queueing it again", trailer.pk)
            attempt.update(status=Trailer.Status.QUEUED, enqueued_at=None)
    return failed


def fail_preprocessing_past_time_limit(*, trailer_id: int, limit: float) -> bool:
    """Mark failed a trailer whose preprocessing attempt its prefork worker killed at its time limit of ``limit``
    seconds (run in the worker's main process: ``tasks.PreprocessTask.on_failure``). Only the killed attempt:
    one begun about ``limit`` ago, not a later one the sweep may have handed to another worker meanwhile.
    Returns whether it was marked."""
    now = timezone.now()
    # A later attempt began at least PROCESSING_STALE_AFTER_SECONDS after this one last beat.
    began_by = now - timedelta(seconds=max(limit - settings.PROCESSING_STALE_AFTER_SECONDS / 2, limit / 2))
    with transaction.atomic():
        # The worker's main loop waits for this: never for long behind a row lock (the killed attempt, frozen
        # in its last transaction, holds one until it is killed, which comes after this returns).
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
                cursor.execute("SET LOCAL statement_timeout = '5s'")
        killed = Trailer.objects.filter(pk=trailer_id, status=Trailer.Status.PROCESSING,
                                        processing_started_at__lte=began_by)
        trailer = killed.only("pk", "duration").first()
        marked = trailer is not None and killed.update(
            status=Trailer.Status.FAILED, processed_at=now, error=_past_time_limit_error(limit, trailer))
    if marked:
        log.error("trailer %s: its preprocessing ran past its time limit of %s and was killed", trailer_id,
                  duration(limit))
    return bool(marked)


def _past_time_limit_error(limit: float, trailer: Trailer) -> str:
    """Why the attempt was stopped. The limit came with the task, from the settings of the process that queued it:
    how it is made up is said only where this process's settings make the same (they may differ)."""
    how = "the limit it was queued with"
    if abs(trailer.processing_time_limit - limit) < 1:
        how = (f"{duration(settings.PROCESSING_TIME_LIMIT_SECONDS)} plus {settings.PROCESSING_TIME_PER_VIDEO_SECOND:g} s "
               "for each second of the trailer")
    return (f"Preprocessing ran past its time limit of {duration(limit)} ({how}) and was stopped. The decoder may "
            "hang on this file: try another encoding of it, or retry it if the workers were overloaded.")


def enqueue_embedding(*, subclip_ids: list[int] | None = None) -> bool:
    return _send(embed_subclips_task, subclip_ids)


def _sweep_embeddings() -> int:
    if not settings.EMBEDDINGS:
        return 0
    try:
        spec = embedding_spec()
    except EncoderError as exc:  # a broken install: say so every sweep, send nothing
        log.error("embeddings cannot be made here: %s", exc)
        return 0
    # Counted at most once per REQUEUE_AFTER_SECONDS (a scan of every subclip), and said then.
    if (cache.add("reelscore:embedded-otherwise", 1, timeout=settings.REQUEUE_AFTER_SECONDS)
            and (otherwise := embedded_otherwise().count())):
        log.warning("%d subclips have embeddings made otherwise than this worker makes them (%s): where the encoder "
                    "settings changed, run `manage.py embed_subclips` with the new ones; otherwise this worker's "
                    "settings differ from the site's. The sweep leaves them as they are.", otherwise,
                    spec.describe())
    if not stale_subclips(missing_only=True).exists():
        return 0
    if not cache.add("reelscore:embedding-sweep", 1, timeout=settings.REQUEUE_AFTER_SECONDS):
        return 0
    return int(enqueue_embedding())


def _sweep_scoring(requeue_before) -> int:
    """Re-send scoring with the active version when ready trailers still lack its prediction
    (the message went with a killed worker); at most once per REQUEUE_AFTER_SECONDS."""
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is not None and active.scored_at is None and not selectors.unscored_trailers(
            model_version=active).exists():
        # Every scorable trailer has its prediction (a version from before scored_at was kept): the pages can
        # stop following its scoring.
        ModelVersion.objects.filter(pk=active.pk, scored_at__isnull=True).update(scored_at=timezone.now())
    if active is None or (active.scoring_enqueued_at and active.scoring_enqueued_at >= requeue_before):
        return 0
    # The trailers scoring scores (a ready one without subclips it skips: counting it sent scoring forever).
    unscored = selectors.unscored_trailers(model_version=active).filter(processed_at__lt=requeue_before)
    return int(unscored.exists() and enqueue_scoring(model_version_id=active.pk))
