"""Preprocessing, training and scoring with media in a real S3 server, called in this process as a worker
calls them: outputs go up before rows name them, reads come from the worker's cache, checkpoints live in
the store, and a store that is down makes work wait instead of failing it."""

from __future__ import annotations

import logging

import pytest

from ml.synth import generate_trailer
from trailers import store
from trailers.models import ModelVersion, Prediction, Subclip, Trailer, TrainingRun
from trailers.services import (
    activate_model_version,
    execute_training_run,
    ingest_trailer,
    preprocess_trailer,
    request_preprocessing,
    score_trailers,
    start_training_run,
)
from trailers.store import StoreUnavailable

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def trailers_made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("s3-services")
    return [generate_trailer(folder / f"t{i}.mp4", seed=300 + i, duration=4.0, fps=12, width=64, height=48)
            for i in range(4)]


def stored_keys(trailer: Trailer) -> set[str]:
    """Every stored name a trailer's rows point at."""
    names = {trailer.file.name, trailer.browser_copy.name or ""}
    for subclip in Subclip.objects.filter(trailer=trailer):
        names |= {subclip.frames.name, subclip.contact_sheet.name, subclip.embeddings.name or ""}
    return {n for n in names if n}


def assert_rows_point_at_objects(server, prefix):
    keys = {k.removeprefix(f"{prefix}/") for k in server.keys(prefix)}
    for trailer in Trailer.objects.all():
        missing = stored_keys(trailer) - keys
        assert not missing, f"trailer {trailer.pk}'s rows point at objects the store lacks: {missing}"
    return keys


def test_preprocessing_reads_through_the_cache_and_stores_outputs_before_rows(s3_settings, s3_server, s3_prefix,
                                                                              trailers_made, caplog):
    made = trailers_made[0]
    trailer = ingest_trailer(source=made.path, original_name=made.path.name)
    caplog.set_level(logging.INFO, logger="trailers.storage_cache")
    done = preprocess_trailer(trailer_id=trailer.pk)
    assert done.status == Trailer.Status.READY, done.error
    assert done.subclips.count() == 2 and all(s.embeddings for s in done.subclips.all())
    keys = assert_rows_point_at_objects(s3_server, s3_prefix)
    assert keys == stored_keys(done)  # nothing else: no half-written attempt, no work files
    assert "cache miss: " + trailer.file.name in caplog.text
    assert not list((s3_settings.WORKER_CACHE_DIR / "work").glob("*"))  # the work folder went

    # Preprocessed again on the same machine: the trailer is a hit, nothing is downloaded.
    caplog.clear()
    store.worker_cache().reset_stats()
    request_preprocessing(trailer_ids=[trailer.pk])
    again = preprocess_trailer(trailer_id=trailer.pk)
    assert again.status == Trailer.Status.READY
    assert "cache hit: " + trailer.file.name in caplog.text and "cache miss" not in caplog.text
    assert store.worker_cache().stats.downloaded_bytes == 0


def test_a_store_that_is_down_makes_preprocessing_wait_then_it_ends_ready(s3_settings, s3_server, s3_prefix,
                                                                          trailers_made):
    made = trailers_made[1]
    trailer = ingest_trailer(source=made.path, original_name=made.path.name)
    s3_server.stop()
    try:
        with pytest.raises(StoreUnavailable):
            preprocess_trailer(trailer_id=trailer.pk)
        trailer.refresh_from_db()
        assert trailer.status == Trailer.Status.QUEUED and not trailer.subclips.exists()
        assert trailer.error.startswith("Waiting for the object store")
        assert trailer.processing_attempts == 0  # the store's outage is not the trailer's failing
    finally:
        s3_server.start()
    done = preprocess_trailer(trailer_id=trailer.pk)
    assert done.status == Trailer.Status.READY and done.error == "" and done.processing_attempts == 1
    assert_rows_point_at_objects(s3_server, s3_prefix)


@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes beside the test
def test_training_keeps_checkpoints_in_the_store_and_scoring_reads_the_model_through_the_cache(
        s3_settings, s3_server, s3_prefix, trailers_made, caplog):
    from tests.support.run_options import tiny_configs

    for made in trailers_made:
        preprocess_trailer(trailer_id=ingest_trailer(source=made.path, original_name=made.path.name,
                                                     reference_score=made.rating).pk)
    model_config, train_config = tiny_configs(epochs=2, folds=1)
    run = start_training_run(user=None, model_config=model_config, train_config=train_config,
                             label_source=TrainingRun.LabelSource.REFERENCE)
    pushed = []
    real_push = store.Mirror.push

    def watching_push(mirror):
        moved = real_push(mirror)
        pushed.append(set(s3_server.keys(f"{s3_prefix}/runs/{run.pk}/")))
        return moved

    store.Mirror.push = watching_push
    try:
        run = execute_training_run(run_id=run.pk, worker="test")
    finally:
        store.Mirror.push = real_push
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    # Every epoch's checkpoint was in the store while the run went on; it goes once the run is done.
    assert pushed and all(keys == {f"{s3_prefix}/runs/{run.pk}/checkpoint.pt"} for keys in pushed)
    assert s3_server.keys(f"{s3_prefix}/runs/") == []
    version = ModelVersion.objects.get(run=run)
    assert f"{s3_prefix}/{version.weights.name}" in s3_server.keys(s3_prefix)

    activate_model_version(model_version=version)
    caplog.set_level(logging.INFO, logger="trailers.storage_cache")
    caplog.clear()
    assert score_trailers(model_version_id=version.pk) == 4
    assert Prediction.objects.filter(model_version=version).count() == 4
    # This machine made the model file: scoring finds it in the cache, as it does the frames it cut.
    assert "cache hit: " + version.weights.name in caplog.text
    assert "cache miss" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_run_resumes_from_the_checkpoint_in_the_store_on_a_machine_with_an_empty_cache(
        s3_settings, s3_server, s3_prefix, trailers_made, tmp_path, monkeypatch):
    import shutil

    from tests.support.run_options import tiny_configs
    from trailers.services import training

    monkeypatch.setattr(training, "EPOCH_SAVE_SECONDS", 0.0)  # a checkpoint every epoch: the worker dies between two

    for made in trailers_made[:3]:
        preprocess_trailer(trailer_id=ingest_trailer(source=made.path, original_name=made.path.name,
                                                     reference_score=made.rating).pk)
    model_config, train_config = tiny_configs(epochs=3, folds=1)
    run = start_training_run(user=None, model_config=model_config, train_config=train_config,
                             label_source=TrainingRun.LabelSource.REFERENCE)
    real_push = store.Mirror.push

    def die_after_the_second_epoch(mirror):
        moved = real_push(mirror)
        if len(TrainingRun.objects.get(pk=run.pk).metrics) >= 2:
            raise KeyboardInterrupt  # the worker dies here: nothing of it runs any more
        return moved

    store.Mirror.push = die_after_the_second_epoch
    try:
        with pytest.raises(KeyboardInterrupt):
            execute_training_run(run_id=run.pk, worker="first")
    finally:
        store.Mirror.push = real_push
    assert s3_server.keys(f"{s3_prefix}/runs/{run.pk}/") == [f"{s3_prefix}/runs/{run.pk}/checkpoint.pt"]

    # Another machine: its own cache, nothing of the first's.
    shutil.rmtree(s3_settings.WORKER_CACHE_DIR)
    s3_settings.WORKER_CACHE_DIR = tmp_path / "other-machine-cache"
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=None, started_at=None)  # stale: its worker died
    run = execute_training_run(run_id=run.pk, worker="second")
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.resumed_from_epoch == 2
    assert [m["epoch"] for m in run.metrics] == [1, 2, 3]
