"""Faults: a worker killed mid-run, and a broker that is down when a trailer is uploaded.

These tests start and kill their own workers, so no other worker may be running.
"""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from tests.support.pipeline import ingest, rate_by_hidden_rating, wait_until_processed
from tests.support.processes import wait_for
from tests.support.run_options import tiny_configs
from trailers.models import Trailer, TrainingRun
from trailers.services import start_training_run

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def test_worker_killed_mid_run_is_resumed_by_the_next_worker(start_worker, synthetic_trailers, user, other_user,
                                                             settings):
    first = start_worker("doomed")
    trailers = wait_until_processed(ingest(synthetic_trailers[:5]))
    rate_by_hidden_rating(trailers, synthetic_trailers, [user, other_user])
    epochs, folds = 25, 2
    model_config, train_config = tiny_configs(epochs=epochs, folds=folds)
    run = start_training_run(user=None, model_config=model_config, train_config=train_config)

    # Kill the worker (its main process and its pool process, SIGKILL: no clean-up) once a checkpoint exists.
    def checkpointed():
        run.refresh_from_db()
        return run.status == TrainingRun.Status.RUNNING and len(run.metrics) >= 2
    wait_for(checkpointed, timeout=90, interval=0.02, message="two finished epochs")
    first.kill()
    run.refresh_from_db()
    killed_at = len(run.metrics)
    assert run.status == TrainingRun.Status.RUNNING and killed_at < epochs * folds
    assert run.attempts_without_epoch == 0  # the dead worker finished epochs: its death does not count against it

    # Nobody reports for it any more: it shows as stale, not running forever.
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).is_stale, timeout=settings.RUN_STALE_AFTER_SECONDS + 10,
             message="the run to show as stale")
    assert TrainingRun.objects.get(pk=run.pk).display_status == "stale"

    # A new worker picks it up and carries on from the last checkpoint.
    start_worker("rescuer")
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).is_finished, timeout=120, message="the resumed run to end")
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.resumed_from_epoch is not None and 1 <= run.resumed_from_epoch <= killed_at
    # Each fold's epochs once, in order: the resumed fit carried on where the checkpoint left it.
    assert [(m["fold"], m["epoch"]) for m in run.metrics] == [(f, e) for f in range(1, folds + 1)
                                                               for e in range(1, epochs + 1)]
    assert "rescuer@" in run.worker and run.attempts_without_epoch == 0
    assert run.model_version.number == 1


def test_upload_while_the_broker_is_down_waits_then_is_processed(start_worker, synthetic_trailers, monkeypatch):
    from config.celery import app

    good_url = app.conf.broker_url
    _point_broker_at(app, monkeypatch, "redis://127.0.0.1:1/0")  # nothing listens there
    started = time.monotonic()
    [trailer] = ingest(synthetic_trailers[:1])  # the upload itself succeeds
    assert time.monotonic() - started < 30
    trailer.refresh_from_db()
    assert trailer.status == Trailer.Status.QUEUED and trailer.is_waiting_for_queue

    _point_broker_at(app, monkeypatch, good_url)  # the broker is back
    start_worker("after-outage")
    call_command("sweep")
    [trailer] = wait_until_processed([trailer])
    assert trailer.status == Trailer.Status.READY and trailer.subclips.count() == 2


def _point_broker_at(app, monkeypatch, url: str) -> None:
    """Make this process publish to ``url``: drop every cached connection and producer pool."""
    from kombu import pools

    monkeypatch.setattr(app.conf, "broker_url", url)
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads this variable before its own setting
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None

