"""A worker killed while it preprocesses: the trailer is handed over within the heartbeat bound, ends
ready, and the dead attempt's partial output goes. In a module of its own: no other worker may be
running, or it would take the trailer first."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ml.synth import generate_trailer
from tests.support.pipeline import clear_leftovers, ingest, wait_until_processed
from tests.support.processes import wait_for
from trailers.models import Trailer

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_while_preprocessing_is_replaced_and_its_trailer_ends_ready(start_worker, tmp_path,
                                                                                     settings):
    # An AVI: browsers cannot play it, so preprocessing also transcodes a copy, which gives time to kill it.
    video = generate_trailer(tmp_path / "long.avi", seed=5, duration=60.0, fps=24, width=320, height=240)
    folder = Path(settings.MEDIA_ROOT) / "subclips"
    work = Path(settings.MEDIA_ROOT) / "incoming" / "work"  # where an attempt writes before it publishes
    [trailer] = ingest([video])  # queued: no worker yet
    clear_leftovers(trailer)
    first = start_worker("doomed-preprocessor")

    def writing():
        row = Trailer.objects.get(pk=trailer.pk)
        return row.status == Trailer.Status.PROCESSING and any(work.glob(f"trailer-{trailer.pk}.*/*.npy"))
    wait_for(writing, timeout=90, interval=0.02, message="preprocessing to have written frames")
    first.kill()
    killed = time.monotonic()
    assert Trailer.objects.get(pk=trailer.pk).status == Trailer.Status.PROCESSING
    [left] = list(work.glob(f"trailer-{trailer.pk}.*"))  # the dead attempt's partial output
    assert not (folder / str(trailer.pk)).exists()  # nothing of it was published

    start_worker("rescuer")
    [done] = wait_until_processed([trailer], timeout=120)
    waited = time.monotonic() - killed
    assert done.status == Trailer.Status.READY, done.error
    # Handed over once its heartbeat is PROCESSING_STALE_AFTER_SECONDS old, at the next sweep.
    assert waited < settings.PROCESSING_STALE_AFTER_SECONDS + 2 * settings.SWEEP_INTERVAL_SECONDS + 60, waited
    assert not left.exists()  # removed by the attempt that finished
    kept = {Path(s.frames.name).parent.name for s in done.subclips.all()}
    assert len(kept) == 1 and {p.name for p in (folder / str(trailer.pk)).iterdir()} == kept
