"""Routing: preprocessing goes to the `video` queue, training to `gpu`; a worker takes only its queues."""

from __future__ import annotations

import time

import pytest

from tests.support.pipeline import ingest, rate_by_hidden_rating, wait_until_processed
from tests.support.processes import wait_for
from tests.support.run_options import tiny_configs
from trailers.models import Trailer, TrainingRun
from trailers.services import start_training_run

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def test_each_queue_is_consumed_by_its_own_workers(start_worker, synthetic_trailers, user, other_user):
    video_worker = start_worker("cpu-box", queues="video")
    trailers = wait_until_processed(ingest(synthetic_trailers[:4]))
    assert all(t.status == Trailer.Status.READY for t in trailers)
    rate_by_hidden_rating(trailers, synthetic_trailers, [user, other_user])

    model_config, train_config = tiny_configs()
    run = start_training_run(user=None, model_config=model_config, train_config=train_config)
    time.sleep(3)  # the video-only worker must leave the gpu queue alone
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.QUEUED and run.enqueued_at is not None

    start_worker("gpu-box", queues="gpu")
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).is_finished, timeout=120, message="the run on the gpu worker")
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.worker.startswith("gpu-box@")
    video_worker.stop()
