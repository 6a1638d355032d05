"""A preprocessing attempt that stops making progress (its process frozen with SIGSTOP once it has begun, as a
decoder stuck on a file, or a share that stopped answering, would leave it): the prefork worker kills it at the
trailer's time limit and marks the trailer failed with the reason, and goes on with the next trailer. In a module of its own: its worker and scheduler run with a time limit of a few seconds, and no other
worker may take the trailer first."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from ml.synth import generate_trailer
from tests.support.pipeline import clear_leftovers, ingest, wait_until_processed
from tests.support.processes import SchedulerProcess, WorkerProcess, wait_for
from trailers.models import Trailer

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

LIMIT = {"PROCESSING_TIME_LIMIT_SECONDS": "3", "PROCESSING_TIME_PER_VIDEO_SECOND": "0"}


def test_a_hung_preprocessing_is_killed_at_its_time_limit_and_its_trailer_fails_with_the_reason(
        worker_env, tmp_path, settings):
    settings.PROCESSING_TIME_LIMIT_SECONDS, settings.PROCESSING_TIME_PER_VIDEO_SECOND = 3, 0.0  # for the upload
    # An AVI: browsers cannot play it, so preprocessing also transcodes a copy, which gives time to freeze it.
    hung = generate_trailer(tmp_path / "hung.avi", seed=5, duration=60.0, fps=24, width=320, height=240)
    fine = generate_trailer(tmp_path / "fine.mp4", seed=2, duration=4.0, fps=12, width=64, height=48)
    [trailer] = ingest([hung])
    clear_leftovers(trailer)

    env = {**worker_env, **LIMIT}
    scheduler = SchedulerProcess(env, tmp_path).wait_ready()
    worker = WorkerProcess(env, tmp_path, "hung-preprocessor").wait_ready()
    try:
        def begun():  # failed too: a machine slow enough may have killed it before this test looked
            status = Trailer.objects.get(pk=trailer.pk).status
            return status if status in (Trailer.Status.PROCESSING, Trailer.Status.FAILED) else None

        status = wait_for(begun, timeout=60, interval=0.02, message="preprocessing to begin")
        seen = time.monotonic()
        pool_process = None
        if status == Trailer.Status.PROCESSING:  # frozen, it cannot finish before its limit on a fast machine
            [pool_process] = children(worker.process.pid)
            os.kill(pool_process, signal.SIGSTOP)

        [failed] = wait_until_processed([trailer], timeout=60)
        waited = time.monotonic() - seen
        assert failed.status == Trailer.Status.FAILED
        assert failed.error.startswith("Preprocessing ran past its time limit of 3 s (3 s plus 0 s for each second "
                                       "of the trailer) and was stopped."), failed.error
        assert failed.processing_attempts == 1  # failed at once: a second attempt would only take as long
        assert not failed.subclips.exists()
        # Marked by the worker as it killed the attempt at 3 s (the sweep would have queued it again: silent).
        assert "Hard time limit (3s) exceeded" in worker.log()
        assert waited < 15, waited
        if pool_process is not None:
            wait_for(lambda: pool_process not in children(worker.process.pid), timeout=10,
                     message="the frozen pool process to be killed")

        settings.PROCESSING_TIME_LIMIT_SECONDS = 600  # the next upload's limit: a fresh pool process loads the encoder
        [done] = wait_until_processed(ingest([fine]), timeout=90)  # a new pool process takes the next trailer
        assert done.status == Trailer.Status.READY, done.error
    finally:
        worker.stop()
        scheduler.stop()


def children(pid: int) -> list[int]:
    """The ids of the processes whose parent is ``pid`` (a prefork worker's pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # it ended meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found
