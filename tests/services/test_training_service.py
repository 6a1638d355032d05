"""Training runs through the training service, called directly: a run starts queued with its options and is sent
to the gpu queue once committed, or fails at once with too few labelled trailers; cancel stops a queued or stale run
now and asks a running one to stop; a worker that cannot freeze the run's dataset fails it with the reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.broker import broker_messages
from tests.support.run_options import tiny_configs
from trailers.errors import ServiceError
from trailers.models import ModelVersion, TrainingRun
from trailers.services import (
    TrainingSetupError,
    cancel_run,
    delete_rating,
    execute_training_run,
    rate_trailer,
    start_training_run,
)
from trailers.services.training import request_cancel

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(user, make_trailer):
    """Three ready trailers rated 3, 4 and 5 by ``user``, the first with a reference score."""
    trailers = [make_trailer(reference_score=7.0 if i == 0 else None) for i in range(3)]
    for i, trailer in enumerate(trailers):
        rate_trailer(user=user, trailer=trailer, score=3 + i)
    return trailers


def start(user, **options) -> TrainingRun:
    model, train = tiny_configs()
    return start_training_run(user=user, model_config=model, train_config=train, **options)


def test_a_run_starts_queued_with_its_options_and_is_sent_to_the_gpu_queue_once_committed(
        staff_user, rated, django_capture_on_commit_callbacks):
    broker_messages("gpu")
    model, train = tiny_configs()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = start_training_run(user=staff_user, model_config=model, train_config=train, min_ratings=1,
                                 trailer_ids=[rated[2].pk, rated[0].pk, rated[1].pk], auto_activate=True)
    assert len(callbacks) == 1
    run.refresh_from_db()
    assert (run.status, run.created_by, run.label_source, run.auto_activate) == (
        TrainingRun.Status.QUEUED, staff_user, TrainingRun.LabelSource.USER_MEAN, True)
    assert run.model_config == model.to_dict() and run.train_config == train.to_dict()
    assert run.requested_trailer_ids == sorted(t.pk for t in rated)
    assert run.dataset == []  # frozen by the worker that first picks it up
    assert broker_messages("gpu") == [("trailers.tasks.train_run_task", [run.pk])]
    assert run.enqueued_at is not None


@pytest.mark.parametrize(("options", "words"), [
    ({}, "this run has 2 ready trailers with at least 1 rating, and needs at least 3."),
    ({"min_ratings": 2}, "this run has 0 ready trailers with at least 2 ratings, and needs at least 3."),
    ({"label_source": TrainingRun.LabelSource.REFERENCE},
     "this run has 1 ready trailer with a reference score, and needs at least 3."),
])
def test_a_run_with_too_few_labelled_trailers_fails_at_once_and_is_not_sent(
        staff_user, user, rated, options, words, django_capture_on_commit_callbacks):
    delete_rating(user=user, trailer=rated[2])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = start(staff_user, **options)
    assert not callbacks
    assert run.status == TrainingRun.Status.FAILED and run.finished_at is not None
    assert run.error == f"Not enough labelled trailers: {words}"


def test_cancel_stops_a_queued_or_stale_run_now_and_asks_a_running_one_to_stop(make_run):
    queued = make_run(status=TrainingRun.Status.QUEUED)
    assert cancel_run(run=queued).status == TrainingRun.Status.CANCELLED
    queued.refresh_from_db()
    assert queued.cancel_requested and queued.finished_at is not None

    running = make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=timezone.now())
    running = cancel_run(run=running)
    assert running.status == TrainingRun.Status.RUNNING and running.cancel_requested  # stops after this step

    silent = timezone.now() - timedelta(hours=1)  # its worker died: nobody would read the request
    stale = make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=silent, started_at=silent)
    assert cancel_run(run=stale).status == TrainingRun.Status.CANCELLED

    finished = make_run(status=TrainingRun.Status.SUCCEEDED)
    assert cancel_run(run=finished).status == TrainingRun.Status.SUCCEEDED  # nothing to stop


def test_asking_a_run_to_stop_says_what_came_of_it(make_run):
    queued = make_run(status=TrainingRun.Status.QUEUED)
    assert request_cancel(run=queued).message == f"Run #{queued.pk} was cancelled."
    running = make_run(status=TrainingRun.Status.RUNNING, heartbeat_at=timezone.now())
    assert request_cancel(run=running).message == (f"Cancel requested for Run #{running.pk}: it stops after its "
                                                   "current step.")
    finished = make_run(status=TrainingRun.Status.SUCCEEDED)
    said = request_cancel(run=finished)
    assert said.already_finished and said.message == f"Run #{finished.pk} has already finished (succeeded)."
    finished.refresh_from_db()
    assert finished.status == TrainingRun.Status.SUCCEEDED and not finished.cancel_requested


def test_a_worker_that_cannot_freeze_the_dataset_fails_the_run_with_the_reason(staff_user, user, rated, client):
    run = start(staff_user)
    assert run.status == TrainingRun.Status.QUEUED
    for trailer in rated:  # the labels went before a worker picked it up
        delete_rating(user=user, trailer=trailer)
    failed = execute_training_run(run_id=run.pk, worker="test")
    assert failed.status == TrainingRun.Status.FAILED
    assert failed.error == ("Not enough labelled trailers: this run has 0 ready trailers with at least 1 rating, "
                            "and needs at least 3.")
    assert execute_training_run(run_id=run.pk, worker="test") is None  # finished: nobody takes it again
    client.force_login(staff_user)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert "never frozen (the run ended before its trailers were)" in page and "not frozen yet" not in page
    assert issubclass(TrainingSetupError, ServiceError) and TrainingSetupError("x").code == "cannot_start"


@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes beside the test
def test_a_run_reads_motion_within_the_snippets_its_trailers_were_sampled_in(staff_user, rated):
    from ml.predict import load_model
    from trailers.models import Subclip

    Subclip.objects.filter(trailer__in=rated).update(sampling={"size": 32, "frames_per_subclip": 4,
                                                               "snippet_frames": 2})
    run = start(staff_user)
    assert run.model_config["snippet_frames"] == 1  # what the form said
    finished = execute_training_run(run_id=run.pk, worker="test")
    assert finished.status == TrainingRun.Status.SUCCEEDED, finished.error
    finished.refresh_from_db()
    assert finished.sampling["snippet_frames"] == 2 and finished.model_config["snippet_frames"] == 2
    with finished.model_version.weights.open("rb") as handle:
        assert load_model(handle).model_config.snippet_frames == 2  # and so does the version's file


def test_a_run_whose_trailers_were_cut_in_snippets_of_different_lengths_fails_naming_those_to_cut_again(
        staff_user, rated, settings):
    from trailers.models import Subclip

    settings.REELSCORE_SAMPLING = {**settings.REELSCORE_SAMPLING, "snippet_frames": 2}  # the installation now
    Subclip.objects.filter(trailer=rated[0]).update(sampling={"size": 32, "frames_per_subclip": 4,
                                                              "snippet_frames": 2})
    # rated[1] and rated[2] were cut before: single frames (no snippet_frames in their sampling).
    failed = start(staff_user)  # at once, sent to no worker
    assert failed.status == TrainingRun.Status.FAILED and not failed.dataset
    assert failed.error == (
        "This run's trailers were cut in snippets of different lengths (2 in single frames, 1 in snippets of 2 "
        "frames), and a model reads motion within one: preprocess again (the trailers admin's “Preprocess again”) "
        f"the trailers cut otherwise than in snippets of 2 frames, as this installation cuts them now "
        f"(SAMPLING_SNIPPET_FRAMES): {rated[1].pk}, {rated[2].pk}.")
    assert not ModelVersion.objects.filter(run=failed).exists()
    # Cut alike when the run starts, and one cut again otherwise before a worker takes it: the worker refuses it.
    Subclip.objects.filter(trailer__in=rated).update(sampling={"size": 32, "frames_per_subclip": 4})
    run = start(staff_user)
    assert run.status == TrainingRun.Status.QUEUED
    Subclip.objects.filter(trailer=rated[2]).update(sampling={"size": 32, "frames_per_subclip": 4, "snippet_frames": 2})
    failed = execute_training_run(run_id=run.pk, worker="test")
    assert failed.status == TrainingRun.Status.FAILED and "(2 in single frames, 1 in snippets of 2 frames)" in failed.error


@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes beside the test
def test_auto_activation_beats_an_active_version_on_the_run_s_own_held_out_trailers(staff_user, rated, make_run,
                                                                                   make_version, make_prediction):
    """The comparison read the new run's held-out predictions before the run had saved them: with a version active,
    it found no trailer in common and kept the old one, whatever the new one scored."""
    active = make_version(number=1, active=True, run=make_run(dataset=[]))
    for trailer in rated:
        make_prediction(active, trailer, 10.0)  # far from every rating (3, 4, 5)
    model, _ = tiny_configs()
    _, train = tiny_configs(epochs=1, folds=3)
    run = start_training_run(user=staff_user, model_config=model, train_config=train, auto_activate=True)
    finished = execute_training_run(run_id=run.pk, worker="test")
    assert finished.status == TrainingRun.Status.SUCCEEDED, finished.error
    version = ModelVersion.objects.get(run=run)
    comparison = version.metrics["comparison"]
    assert (comparison["trailers"], comparison["decision"]) == (3, "activate"), comparison
    assert comparison["new_mae"] < comparison["old_mae"]
    assert list(ModelVersion.objects.filter(is_active=True)) == [version]


@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes beside the test
def test_a_run_with_a_refit_makes_a_version_whose_scores_are_the_refit_s(staff_user, rated):
    from ml.predict import load_model, score_frame_files
    from trailers.models import Prediction
    from trailers.services.scoring import score_trailers

    model, train = tiny_configs(epochs=1, folds=3, refit=True, restore_best=False, single_frame_baseline=False)
    run = start_training_run(user=staff_user, model_config=model, train_config=train)
    finished = execute_training_run(run_id=run.pk, worker="test")
    assert finished.status == TrainingRun.Status.SUCCEEDED, finished.error
    version = ModelVersion.objects.get(run=run)
    assert finished.cross_validation["refit"] is True and version.metrics["refit"] is True
    loaded = load_model(version.weights.path)
    assert loaded.refit is not None and len(loaded.members) == 3
    assert score_trailers(model_version_id=version.pk) == 3
    for trailer in rated:
        prediction = Prediction.objects.get(model_version=version, trailer=trailer)
        frames = [s.frames.path for s in trailer.subclips.all()]
        assert prediction.score == pytest.approx(score_frame_files(loaded, frames).mean, abs=1e-5)
        loaded_without = load_model(version.weights.path)
        loaded_without.refit = None  # what the fold models' mean would have said
        assert prediction.score != pytest.approx(score_frame_files(loaded_without, frames).mean, abs=1e-5)


@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes beside the test
@pytest.mark.parametrize("folds", [1, 3])
def test_subclips_without_cached_embeddings_are_embedded_for_the_run_and_its_page_says_how_many(
        staff_user, rated, folds, client):
    import numpy as np
    from django.core.files.storage import default_storage

    from ml.config import PRESETS
    from trailers.models import Subclip
    from trailers.services.embeddings import embedding_spec

    # The trailers were cut before embeddings (frames only, two subclips each): the run embeds all six itself.
    rng = np.random.default_rng(folds)
    for subclip in Subclip.objects.filter(trailer__in=rated):  # pictures of their own, not copies of one another
        with default_storage.open(subclip.frames.name, "wb") as handle:
            np.save(handle, rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    model = PRESETS["default"].replace(frame_size=embedding_spec().size, embedding_size=4, lstm_size=8,
                                       snippet_frames=1)
    _, train = tiny_configs(epochs=1, folds=folds)
    run = start_training_run(user=staff_user, model_config=model, train_config=train)
    finished = execute_training_run(run_id=run.pk, worker="test")
    assert finished.status == TrainingRun.Status.SUCCEEDED, finished.error
    version = ModelVersion.objects.get(run=run)
    kept = finished.cross_validation if folds > 1 else version.metrics
    assert kept["embedded_on_demand"] == 6
    client.force_login(staff_user)
    html = client.get(f"/runs/{run.pk}/").content.decode()
    assert '<p class="muted" id="embedded-on-demand">6 subclips had no cached embeddings and were embedded during ' \
           'the run.</p>' in html


@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes beside the test
def test_a_store_away_after_the_epochs_puts_the_run_back_in_the_queue_and_counts_no_death(staff_user, rated,
                                                                                          monkeypatch):
    from trailers.services import training
    from trailers.store import StoreUnavailable

    run = start(staff_user)

    def store_away(*args, **kwargs):
        raise StoreUnavailable("the object store cannot be reached")

    monkeypatch.setattr(training, "_succeed", store_away)  # trained, then the model file cannot be stored
    with pytest.raises(StoreUnavailable):
        execute_training_run(run_id=run.pk, worker="test")
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.QUEUED and run.error.startswith("Waiting for the object store")
    assert run.attempts_without_epoch == 0  # its epochs set it to 0, and the store's outage is not its doing


def test_a_versions_figures_carry_the_head_alone_and_the_neighbours_share_where_it_mixes_them():
    from trailers.services.training import version_metrics

    def figures(mae):
        return {"mae": {"mean": mae, "sd": 0.1}, "rmse": {"mean": mae + 0.2, "sd": 0.1}, "spearman": {"mean": 0.5, "sd": 0}}

    estimate = {"folds": 5, "trailers": 60, "groups": [[1, 2]], "neighbour_weight": 0.5,
                "summary": {"model": figures(1.1), "head": figures(1.3), "mean_baseline": figures(2.4),
                            "single_frame": figures(1.6), "neighbours": figures(1.2)}}
    metrics = version_metrics(estimate)
    assert (metrics["val_mae"], metrics["head_mae"], metrics["neighbours_mae"], metrics["neighbour_weight"]) == (
        1.1, 1.3, 1.2, 0.5)
    # A model that is its head alone: no share, no separate head figure.
    del estimate["neighbour_weight"], estimate["summary"]["head"]
    metrics = version_metrics(estimate)
    assert metrics["head_mae"] is None and metrics["neighbour_weight"] is None and metrics["neighbours_mae"] == 1.2


@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes beside the test
def test_a_database_connection_ended_under_a_run_hands_it_over_rather_than_failing_it(staff_user, rated,
                                                                                       monkeypatch, caplog):
    """The server ended the worker's connection (a restart, an operator's pg_terminate_backend) as the run finished:
    the worker logged "training run N failed" with the traceback, and would have marked it failed where that
    write got through. The run stays running, goes stale, and the next worker goes on from its checkpoint."""
    from django.db import connection, connections

    from trailers.services import training

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (CI's): a server that ends a connection")
    run = start(staff_user)
    succeed = training._succeed

    def connection_ended(*args, **kwargs):
        pid = connection.cursor().connection.info.backend_pid
        ender = connections["default"].__class__(connection.settings_dict, alias="ender")
        try:
            with ender.cursor() as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            ender.close()
        return succeed(*args, **kwargs)

    monkeypatch.setattr(training, "_succeed", connection_ended)
    assert execute_training_run(run_id=run.pk, worker="test") is None
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING and not run.error, (run.status, run.error)
    assert f"run {run.pk} lost its database connection" in caplog.text
    assert f"training run {run.pk} failed" not in caplog.text


def test_only_a_connection_that_ended_hands_a_run_over_any_other_database_error_fails_it():
    import sqlite3

    import psycopg
    from django.db import InterfaceError, OperationalError

    from trailers.services.training import _connection_lost

    def wrapped(cause):
        error = OperationalError(str(cause))
        error.__cause__ = cause
        return error

    assert _connection_lost(wrapped(psycopg.errors.AdminShutdown("terminating connection")))  # 57P01
    assert _connection_lost(wrapped(psycopg.OperationalError("the connection is closed")))  # no code
    assert _connection_lost(InterfaceError("connection already closed"))
    assert not _connection_lost(wrapped(sqlite3.OperationalError("database is locked")))
    assert not _connection_lost(wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")))
    assert not _connection_lost(wrapped(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert not _connection_lost(ValueError("not the database"))


@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes beside the test
def test_a_cancel_accepted_as_the_last_step_ends_is_honoured_and_makes_no_version(staff_user, rated, monkeypatch):
    """The cancel said "it stops after its current step", and the run then succeeded and auto-activated its version;
    and a cancel read a run as running that had finished meanwhile, and said it was asked to stop."""
    from django.core.files.storage import default_storage

    from trailers.models import ModelVersion
    from trailers.services import training
    from trailers.services.training import request_cancel

    run = start(staff_user, auto_activate=True)
    publish = training._publish_patiently
    stored = []

    def cancel_meanwhile(local, name, heartbeat):
        publish(local, name, heartbeat)
        stored.append(name)
        assert request_cancel(run=TrainingRun.objects.get(pk=run.pk)).message.startswith("Cancel requested")

    monkeypatch.setattr(training, "_publish_patiently", cancel_meanwhile)
    execute_training_run(run_id=run.pk, worker="test")
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED and not ModelVersion.objects.exists()
    assert stored and not default_storage.exists(stored[0])  # the model file no version holds is gone
    # Asked again with the run as a page read it before it finished: it is finished, and said so.
    before = TrainingRun.objects.get(pk=run.pk)
    before.status = TrainingRun.Status.RUNNING
    with pytest.raises(ServiceError) as refused:
        request_cancel(run=before, refuse_finished=True)
    assert refused.value.code == "already_finished"


@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes beside the test
def test_a_run_saves_its_curves_and_checkpoint_at_most_every_few_seconds_and_keeps_every_epoch(
        staff_user, rated, monkeypatch):
    import trailers.services.training as training
    from trailers import store

    pushed = []
    real_push = store.Mirror.push
    monkeypatch.setattr(store.Mirror, "push", lambda self: pushed.append(1) or real_push(self))
    monkeypatch.setattr(training, "EPOCH_SAVE_SECONDS", 3600.0)  # each fit's first epoch and its last only
    model, train = tiny_configs(epochs=12, folds=3, early_stopping_patience=None, single_frame_baseline=False)
    run = start_training_run(user=staff_user, model_config=model, train_config=train)
    finished = execute_training_run(run_id=run.pk, worker="test")
    assert finished.status == TrainingRun.Status.SUCCEEDED, finished.error
    assert len(pushed) == 2 * 3  # 36 epochs, 6 saves: each fold's first and last
    finished.refresh_from_db()
    assert sorted((m["fold"], m["epoch"]) for m in finished.metrics) == [
        (fold, epoch) for fold in (1, 2, 3) for epoch in range(1, 13)]  # the curves whole all the same

    # Cancelled in fold 2's 7th epoch, between two saves: it keeps every epoch it reported, not only those saved.
    reported = []
    real_call = training._Reporter.__call__

    def cancelled_at(self, progress):
        if progress.kind == "epoch":
            reported.append((progress.fold, progress.epoch))
        return real_call(self, progress) or reported[-1:] == [(2, 7)]

    monkeypatch.setattr(training._Reporter, "__call__", cancelled_at)
    run = start_training_run(user=staff_user, model_config=model, train_config=train)
    stopped = execute_training_run(run_id=run.pk, worker="test")
    assert stopped.status == TrainingRun.Status.CANCELLED
    stopped.refresh_from_db()
    assert sorted((m["fold"], m["epoch"]) for m in stopped.metrics) == sorted(reported)


@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes beside the test
def test_a_model_file_an_earlier_attempt_of_the_run_left_goes_when_the_run_makes_its_version(staff_user, rated):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    run = start(staff_user)
    stray = default_storage.save(f"models/run-{run.pk}-deadbeef.pt", ContentFile(b"half a model"))  # killed mid-way
    other = default_storage.save(f"models/run-{run.pk + 1000}-cafecafe.pt", ContentFile(b"another run's"))
    finished = execute_training_run(run_id=run.pk, worker="test")
    assert finished.status == TrainingRun.Status.SUCCEEDED, finished.error
    assert not default_storage.exists(stray) and default_storage.exists(other)
    assert default_storage.exists(finished.model_version.weights.name)
    default_storage.delete(other)
