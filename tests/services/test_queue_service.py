"""Handing work to the broker, called directly: trailers queued again for preprocessing (never one a worker is
processing), a broker that is down leaving the row waiting instead of failing the caller, and the sweep sending
what is waiting or was lost: trailers whose worker stopped beating, runs never sent, runs whose worker died; and
the end of preprocessing attempts that ran past their time limit or whose worker kept dying."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.support.broker import broker_messages
from trailers.models import Trailer, TrainingRun
from trailers.services import enqueue_preprocessing, fail_preprocessing_past_time_limit, request_preprocessing, sweep
from trailers.services.trailers import retry_trailer
from trailers.tasks import preprocess_trailer_task

pytestmark = pytest.mark.django_db

PREPROCESS = "trailers.tasks.preprocess_trailer_task"
TRAIN = "trailers.tasks.train_run_task"


@pytest.fixture(autouse=True)
def _empty_broker():
    broker_messages("video")
    broker_messages("gpu")


def test_preprocessing_again_queues_every_trailer_but_those_being_processed(make_trailer,
                                                                           django_capture_on_commit_callbacks):
    ready, failed = make_trailer(), make_trailer(status=Trailer.Status.FAILED, error="could not decode")
    busy = make_trailer(status=Trailer.Status.PROCESSING)
    with django_capture_on_commit_callbacks(execute=True):
        assert request_preprocessing(trailer_ids=[ready.pk, failed.pk, busy.pk]) == (2, 1)
    assert dict(Trailer.objects.values_list("pk", "status")) == {
        ready.pk: Trailer.Status.QUEUED, failed.pk: Trailer.Status.QUEUED, busy.pk: Trailer.Status.PROCESSING}
    assert Trailer.objects.get(pk=failed.pk).error == ""
    assert sorted(broker_messages()) == sorted([(PREPROCESS, [ready.pk]), (PREPROCESS, [failed.pk])])
    assert not Trailer.objects.filter(status=Trailer.Status.QUEUED, enqueued_at__isnull=True).exists()


def test_a_broker_that_is_down_leaves_the_trailer_waiting_for_the_sweep(make_trailer, monkeypatch):
    trailer = make_trailer(status=Trailer.Status.QUEUED)

    def down(*args, **kwargs):
        raise ConnectionRefusedError("the broker is down")

    monkeypatch.setattr(preprocess_trailer_task, "apply_async", down)
    assert enqueue_preprocessing(trailer_id=trailer.pk) is False
    trailer.refresh_from_db()
    assert trailer.status == Trailer.Status.QUEUED and trailer.enqueued_at is None  # the sweep's to send
    monkeypatch.undo()
    assert sweep()["trailers"] == 1
    assert broker_messages() == [(PREPROCESS, [trailer.pk])]


def test_the_sweep_queues_again_a_trailer_whose_worker_stopped_beating(make_trailer, settings):
    silent = timezone.now() - timedelta(seconds=settings.PROCESSING_STALE_AFTER_SECONDS + 60)
    stuck = make_trailer(status=Trailer.Status.PROCESSING)
    Trailer.objects.filter(pk=stuck.pk).update(processing_started_at=silent, heartbeat_at=silent)
    alive = make_trailer(status=Trailer.Status.PROCESSING)
    Trailer.objects.filter(pk=alive.pk).update(processing_started_at=silent, heartbeat_at=timezone.now())
    assert sweep()["trailers"] == 1
    assert broker_messages() == [(PREPROCESS, [stuck.pk])]
    assert Trailer.objects.get(pk=stuck.pk).status == Trailer.Status.QUEUED
    assert Trailer.objects.get(pk=alive.pk).status == Trailer.Status.PROCESSING
    assert sweep()["trailers"] == 0  # sent: not again until REQUEUE_AFTER_SECONDS


def test_each_preprocessing_message_carries_its_trailers_time_limit(make_trailer, settings,
                                                                    django_capture_on_commit_callbacks):
    settings.PROCESSING_TIME_LIMIT_SECONDS, settings.PROCESSING_TIME_PER_VIDEO_SECOND = 600, 2.0
    short = make_trailer(status=Trailer.Status.QUEUED, duration=120.0)
    hour = make_trailer(status=Trailer.Status.FAILED, duration=3600.5)
    claimed = make_trailer(status=Trailer.Status.FAILED, duration=100 * 3600.0)  # what a damaged header may say
    assert enqueue_preprocessing(trailer_id=short.pk)  # one trailer: apply_async
    with django_capture_on_commit_callbacks(execute=True):
        request_preprocessing(trailer_ids=[hour.pk, claimed.pk])  # many: the batch
    # 10 min plus 2 s per second of video (at most 6 h more): a prefork worker kills an attempt still running then.
    assert sorted(broker_messages(time_limits=True)) == [
        (PREPROCESS, [short.pk], 840), (PREPROCESS, [hour.pk], 7801), (PREPROCESS, [claimed.pk], 600 + 6 * 3600)]


def _processing(make_trailer, *, started: float, beat: float, attempts: int = 1) -> Trailer:
    """A trailer a worker began preprocessing ``started`` seconds ago, which last beat ``beat`` seconds ago."""
    trailer = make_trailer(status=Trailer.Status.PROCESSING)
    now = timezone.now()
    Trailer.objects.filter(pk=trailer.pk).update(processing_started_at=now - timedelta(seconds=started),
                                                 heartbeat_at=now - timedelta(seconds=beat),
                                                 processing_attempts=attempts)
    return trailer


def test_the_sweep_fails_a_trailer_whose_worker_died_at_every_attempt_and_a_retry_counts_afresh(
        make_trailer, settings, django_capture_on_commit_callbacks):
    settings.PROCESSING_MAX_ATTEMPTS = 3
    silent = settings.PROCESSING_STALE_AFTER_SECONDS + 30
    doomed = _processing(make_trailer, started=silent + 5, beat=silent, attempts=3)
    again = _processing(make_trailer, started=silent + 5, beat=silent, attempts=2)
    assert sweep()["trailers"] == 1
    assert broker_messages() == [(PREPROCESS, [again.pk])]
    assert Trailer.objects.get(pk=again.pk).status == Trailer.Status.QUEUED
    doomed.refresh_from_db()
    assert doomed.status == Trailer.Status.FAILED and doomed.processed_at is not None
    assert doomed.error.startswith("Preprocessing was started 3 times, and each time its worker stopped before it "
                                   "finished"), doomed.error
    assert doomed.subclips.count() == 2  # what it had is kept
    with django_capture_on_commit_callbacks(execute=True):
        retry_trailer(trailer=doomed)  # a person's retry: three attempts again
    doomed.refresh_from_db()
    assert (doomed.status, doomed.error, doomed.processing_attempts) == (Trailer.Status.QUEUED, "", 0)
    assert sweep()["trailers"] == 0 and broker_messages() == [(PREPROCESS, [doomed.pk])]


PAST_LIMIT = ("Preprocessing ran past its time limit of 1 min 4 s (1 min plus 1 s for each second of the "
              "trailer) and was stopped. The decoder may hang on this file: try another encoding of it, or retry it "
              "if the workers were overloaded.")


def test_a_worker_that_killed_an_attempt_at_its_time_limit_fails_that_attempts_trailer(make_trailer, settings):
    settings.PROCESSING_TIME_LIMIT_SECONDS, settings.PROCESSING_TIME_PER_VIDEO_SECOND = 60, 1.0
    killed = _processing(make_trailer, started=64, beat=2)
    handed_over = _processing(make_trailer, started=5, beat=0)  # a later attempt, on another worker
    assert fail_preprocessing_past_time_limit(trailer_id=killed.pk, limit=64)
    assert not fail_preprocessing_past_time_limit(trailer_id=handed_over.pk, limit=64)
    killed.refresh_from_db()
    assert (killed.status, killed.error) == (Trailer.Status.FAILED, PAST_LIMIT)
    assert killed.subclips.count() == 2  # what it had is kept
    assert Trailer.objects.get(pk=handed_over.pk).status == Trailer.Status.PROCESSING


def test_a_limit_queued_by_a_process_with_other_settings_is_not_explained_by_this_ones(make_trailer, settings):
    """The web process queued it with a limit of 2 s; the worker marking it failed has the defaults: the reason said
    "2 s (10 min plus 2 s for each second of the trailer)"."""
    killed = _processing(make_trailer, started=3, beat=1)
    assert fail_preprocessing_past_time_limit(trailer_id=killed.pk, limit=2)
    killed.refresh_from_db()
    assert killed.error.startswith("Preprocessing ran past its time limit of 2 s (the limit it was queued with) and "
                                   "was stopped."), killed.error


def test_the_sweep_fails_a_trailer_past_its_time_limit_on_a_worker_that_cannot_kill_it(make_trailer, settings):
    settings.PROCESSING_TIME_LIMIT_SECONDS, settings.PROCESSING_TIME_PER_VIDEO_SECOND = 60, 1.0
    limit, stale = 64, settings.PROCESSING_STALE_AFTER_SECONDS  # 60 s + 1 s × the trailers' 4 s
    hung = _processing(make_trailer, started=limit + stale + 1, beat=0)  # a solo worker beats on, stuck
    slow = _processing(make_trailer, started=limit + 1, beat=0)  # within the grace: a prefork worker kills it
    young = _processing(make_trailer, started=limit - 10, beat=0)
    assert sweep()["trailers"] == 0
    hung.refresh_from_db()
    assert (hung.status, hung.error) == (Trailer.Status.FAILED, PAST_LIMIT)
    assert set(Trailer.objects.filter(pk__in=[slow.pk, young.pk]).values_list("status", flat=True)) == {
        Trailer.Status.PROCESSING}


def test_the_sweep_fails_a_run_whose_workers_keep_dying_before_an_epoch(make_run, settings,
                                                                        django_capture_on_commit_callbacks):
    settings.RUN_MAX_ATTEMPTS = 3
    silent = timezone.now() - timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS + 60)
    checkpoint = default_storage.save("runs/doomed/fold-1.pt", ContentFile(b"weights and optimiser"))
    doomed = make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=silent, started_at=silent, enqueued_at=None,
                      attempts_without_epoch=3, checkpoint="runs/doomed/")
    again = make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=silent, started_at=silent, enqueued_at=None,
                     attempts_without_epoch=2)
    alive = make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=timezone.now(), enqueued_at=None,
                     attempts_without_epoch=5)  # reporting: never failed for its count
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep()["runs"] == 1
    assert broker_messages("gpu") == [(TRAIN, [again.pk])]
    doomed.refresh_from_db()
    assert doomed.status == TrainingRun.Status.FAILED and doomed.finished_at is not None
    assert doomed.error.startswith("Its worker stopped 3 times in a row before finishing an epoch"), doomed.error
    assert not default_storage.exists(checkpoint)  # a failed run is never resumed
    assert TrainingRun.objects.get(pk=alive.pk).status == TrainingRun.Status.RUNNING


def test_the_sweep_sends_runs_never_sent_and_runs_whose_worker_died(make_run, settings):
    never_sent = make_run(status=TrainingRun.Status.QUEUED, enqueued_at=None)
    silent = timezone.now() - timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS + 60)
    dead = make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=silent, started_at=silent, enqueued_at=None)
    make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=timezone.now(), enqueued_at=None)  # alive
    make_run(status=TrainingRun.Status.QUEUED, enqueued_at=timezone.now())  # sent a moment ago
    assert sweep()["runs"] == 2
    assert sorted(broker_messages("gpu")) == sorted([(TRAIN, [never_sent.pk]), (TRAIN, [dead.pk])])
    assert sweep()["runs"] == 0
