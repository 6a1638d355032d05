"""Handing work to the broker, called directly: trailers queued again for preprocessing (never one a worker is
processing), a broker that is down leaving the row waiting instead of failing the caller, and the sweep sending
what is waiting or was lost: trailers whose worker stopped beating, runs never sent, runs whose worker died."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.broker import broker_messages
from trailers.models import Trailer, TrainingRun
from trailers.services import enqueue_preprocessing, request_preprocessing, sweep
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


def test_the_sweep_sends_runs_never_sent_and_runs_whose_worker_died(make_run, settings):
    never_sent = make_run(status=TrainingRun.Status.QUEUED, enqueued_at=None)
    silent = timezone.now() - timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS + 60)
    dead = make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=silent, started_at=silent, enqueued_at=None)
    make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=timezone.now(), enqueued_at=None)  # alive
    make_run(status=TrainingRun.Status.QUEUED, enqueued_at=timezone.now())  # sent a moment ago
    assert sweep()["runs"] == 2
    assert sorted(broker_messages("gpu")) == sorted([(TRAIN, [never_sent.pk]), (TRAIN, [dead.pk])])
    assert sweep()["runs"] == 0
