"""The sweep: work whose message went with a killed worker, or whose worker died, is handed over again.

The tests here start their own workers, in order: the first two run with no worker at all,
the later ones with the worker the third starts.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests.support.pipeline import clear_leftovers, ingest, wait_until_processed
from trailers.models import ModelVersion, Prediction, Subclip, Trailer, TrainingRun
from trailers.services import preprocess_trailer, sweep

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

LONG_AGO = timedelta(hours=2)


def purge_broker() -> None:
    """Drop every waiting message, as a worker killed with the messages it had taken would."""
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in ("video", "gpu"):
            conn.default_channel.queue_purge(queue)


def test_a_failure_while_storing_frames_marks_the_trailer_failed_and_keeps_nothing(synthetic_trailers,
                                                                                   monkeypatch):
    [trailer] = ingest(synthetic_trailers[:1])  # no worker yet: it waits, queued
    purge_broker()
    clear_leftovers(trailer)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("trailers.services.preprocess.write_contact_sheet", disk_full)
    preprocess_trailer(trailer_id=trailer.pk)
    trailer.refresh_from_db()
    assert trailer.status == Trailer.Status.FAILED
    assert trailer.error.startswith(f"{trailer.original_name}: the worker ran out of disk space while writing its "
                                    "frames, and nothing was kept.")
    assert not (settings.MEDIA_ROOT / "subclips" / str(trailer.pk)).exists()  # no half-written folder
    assert not trailer.subclips.exists()


def test_the_sweep_leaves_live_and_finished_runs_alone_and_sends_a_stale_run_once():
    now = timezone.now()
    stale_by = timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS + 30)
    live = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING, heartbeat_at=now, enqueued_at=now - LONG_AGO)
    done = TrainingRun.objects.create(status=TrainingRun.Status.SUCCEEDED, enqueued_at=None)
    stale = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING, heartbeat_at=now - stale_by,
                                       enqueued_at=now - LONG_AGO)
    purge_broker()
    assert sweep()["runs"] == 1
    stale.refresh_from_db()
    assert stale.enqueued_at > stale.heartbeat_at
    assert sweep()["runs"] == 0  # handed over since it last reported: not sent again on every sweep
    for run in (live, done):
        run.refresh_from_db()
        assert run.status in (TrainingRun.Status.RUNNING, TrainingRun.Status.SUCCEEDED)
    TrainingRun.objects.all().delete()
    purge_broker()


def test_lost_scoring_is_sent_again_at_most_once_per_requeue_period():
    long_ago = timezone.now() - LONG_AGO
    version = ModelVersion.objects.create(run=TrainingRun.objects.create(status=TrainingRun.Status.SUCCEEDED),
                                          number=1, weights="models/v1.pt", is_active=True, activated_at=long_ago)
    # A ready trailer without subclips (deleted in the admin) is none scoring can score: never sent for it.
    Trailer.objects.create(title="no subclips", original_name="b.mp4", file="trailers/b.mp4", sha256="b" * 64,
                           status=Trailer.Status.READY, processed_at=long_ago)
    purge_broker()
    assert sweep()["scoring"] == 0
    trailer = Trailer.objects.create(title="never scored", original_name="a.mp4", file="trailers/a.mp4",
                                     sha256="a" * 64, status=Trailer.Status.READY, processed_at=long_ago)
    Subclip.objects.create(trailer=trailer, index=0, start=0.0, duration=1.0, frames="subclips/0.npy", frame_count=1)
    assert sweep()["scoring"] == 1  # a ready trailer the active version never scored: its message was lost
    assert sweep()["scoring"] == 0  # just sent: not again on every sweep
    ModelVersion.objects.filter(pk=version.pk).update(scoring_enqueued_at=long_ago)
    assert sweep()["scoring"] == 1
    Prediction.objects.create(model_version=version, trailer=trailer, score=5.0)
    ModelVersion.objects.filter(pk=version.pk).update(scoring_enqueued_at=long_ago)
    assert sweep()["scoring"] == 0  # everything scored: nothing to send
    purge_broker()


def test_messages_lost_with_a_killed_worker_are_sent_again_by_the_workers_sweep(start_worker, synthetic_trailers):
    # Three trailers handed to the broker, whose messages are then lost (a killed worker had taken them).
    sent_long_ago, stuck_processing, sent_just_now = ingest(synthetic_trailers[1:4])
    purge_broker()
    Trailer.objects.filter(pk=sent_long_ago.pk).update(enqueued_at=timezone.now() - LONG_AGO)
    # One was being processed by the worker that died.
    Trailer.objects.filter(pk=stuck_processing.pk).update(status=Trailer.Status.PROCESSING,
                                                          processing_started_at=timezone.now() - LONG_AGO)

    start_worker("sweeper")  # it sweeps as it starts
    wait_until_processed([sent_long_ago, stuck_processing])
    for trailer in (sent_long_ago, stuck_processing):
        trailer.refresh_from_db()
        assert trailer.status == Trailer.Status.READY and trailer.subclips.count() == 2

    # A trailer handed over only just now is not sent twice at once: its message may still be on its way.
    time.sleep(settings.SWEEP_INTERVAL_SECONDS * 2)
    sent_just_now.refresh_from_db()
    assert sent_just_now.status == Trailer.Status.QUEUED
    # Once it has waited too long, the worker's next periodic sweep hands it over again.
    Trailer.objects.filter(pk=sent_just_now.pk).update(enqueued_at=timezone.now() - LONG_AGO)
    [trailer] = wait_until_processed([sent_just_now], timeout=30)
    assert trailer.status == Trailer.Status.READY


def test_a_second_copy_of_a_message_is_harmless(synthetic_trailers):
    """Two deliveries of one trailer's task at the same moment: one does the work, the other nothing."""
    [trailer] = wait_until_processed(ingest(synthetic_trailers[4:5]))  # the sweeper worker is still running
    Trailer.objects.filter(pk=trailer.pk).update(status=Trailer.Status.QUEUED)
    results = []

    def deliver():
        try:
            results.append(preprocess_trailer(trailer_id=trailer.pk))
        finally:
            connection.close()  # this thread's own database connection

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result is not None for result in results) == 1  # one of the two did the work
    trailer.refresh_from_db()
    assert trailer.subclips.count() == 2
