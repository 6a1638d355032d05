"""One scheduler: Celery beat sends the sweep and a video worker runs it. Two schedulers started by mistake
send it twice as often, and still only one sweep runs per interval, the work handed over once."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from tests.support.pipeline import ingest, wait_until_processed
from tests.support.processes import SchedulerProcess, WorkerProcess
from trailers.models import Trailer

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def purge_broker() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in ("video", "gpu"):
            conn.default_channel.queue_purge(queue)


def test_two_schedulers_by_mistake_still_sweep_once_per_interval(worker_env, tmp_path, synthetic_trailers):
    # A trailer whose message never reached the broker: only a sweep hands it over.
    [trailer] = ingest(synthetic_trailers[:1])
    purge_broker()
    Trailer.objects.filter(pk=trailer.pk).update(enqueued_at=None)

    processes = [SchedulerProcess(worker_env, tmp_path, f"scheduler-{i}") for i in range(2)]
    worker = WorkerProcess(worker_env, tmp_path, "sweeper", queues="video")
    processes.append(worker)
    try:
        for process in processes:
            process.wait_ready()
        started = time.monotonic()
        [done] = wait_until_processed([trailer], timeout=90)
        assert done.status == Trailer.Status.READY
        time.sleep(6 * settings.SWEEP_INTERVAL_SECONDS)
        elapsed = time.monotonic() - started
        log = worker.log()
    finally:
        for process in processes:
            process.stop()
    sent = [p.sweeps_sent() for p in processes[:2]]
    ran, skipped = log.count("sweep handed over"), log.count("sweep skipped")
    assert all(n >= 3 for n in sent), sent  # both schedulers were sending
    assert skipped >= 1  # the second scheduler's sweeps were seen and turned down
    assert 1 <= ran <= elapsed / (0.9 * settings.SWEEP_INTERVAL_SECONDS) + 1, (ran, skipped, sent, elapsed)
    assert log.count("Task trailers.tasks.preprocess_trailer_task[") >= 1
    assert "sweep handed over 1 trailer(s)" in log  # handed over once, by one sweep
    assert log.count("sweep handed over 1 trailer(s)") == 1
