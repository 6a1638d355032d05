"""Training from the admin, through its own URLs, on a real worker: runs, versions, activation, scoring, cancel."""

from __future__ import annotations

import os
import threading
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests.support.pipeline import ingest, rate_by_hidden_rating, wait_until_processed
from tests.support.processes import wait_for
from tests.support.run_options import TINY_RUN, run_form_data, tiny_configs
from trailers.models import ModelVersion, Prediction, Rating, Trailer, TrainingRun
from trailers.services import rate_trailer

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rated_trailers(worker, synthetic_trailers, user, other_user):
    trailers = wait_until_processed(ingest(synthetic_trailers[:6]))
    assert all(t.status == Trailer.Status.READY for t in trailers)
    rate_by_hidden_rating(trailers, synthetic_trailers, [user, other_user])
    return trailers


def start_run_from_admin(staff_client, **fields) -> TrainingRun:
    response = staff_client.post("/admin/trailers/trainingrun/add/", run_form_data(**{**TINY_RUN, **fields}))
    assert response.status_code == 302, response.content.decode()[:3000]
    run = TrainingRun.objects.latest("pk")
    assert response["Location"] == f"/runs/{run.pk}/"  # staff land on the run's page, which follows it
    return run


def wait_finished(run: TrainingRun, timeout: float = 120) -> TrainingRun:
    def finished():
        run.refresh_from_db()
        return run if run.is_finished else None

    return wait_for(finished, timeout=timeout, message=f"run {run.pk} to finish")


def test_run_started_in_admin_succeeds_and_makes_a_version(staff_client, rated_trailers, user):
    assert "Start a training run" in staff_client.get("/admin/trailers/trainingrun/add/").content.decode()
    run = wait_finished(start_run_from_admin(staff_client, train__folds=3))
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    # Cross-validated (the admin's default): every fold's epochs, each scored on its held-out fold.
    assert [(m["fold"], m["epoch"]) for m in run.metrics] == [(f, e) for f in (1, 2, 3) for e in (1, 2, 3)]
    for epoch in run.metrics:
        assert {"train_loss", "val_loss", "val_mae", "val_rmse", "baseline_mae"} <= set(epoch)
    assert run.progress == 1.0 and run.device == "cpu" and run.worker
    # The frozen dataset: every rated trailer once, split by trailer, labels = mean of the users' ratings.
    assert sorted(d["trailer"] for d in run.dataset) == sorted(t.pk for t in rated_trailers)
    assert {d["split"] for d in run.dataset} == {"cv"}
    # What the run page says of its frames, kept by the worker when it read them: 2 subclips per trailer.
    assert {k: run.frames[k] for k in ("trailers", "subclips", "fewest", "most")} == {
        "trailers": len(rated_trailers), "subclips": 2 * len(rated_trailers), "fewest": 2, "most": 2}
    folds = run.cross_validation["per_fold"]
    assert len(folds) == 3 and sorted(pk for f in folds for pk in f["test"]) == sorted(t.pk for t in rated_trailers)
    label = {d["trailer"]: d["label"] for d in run.dataset}
    first = rated_trailers[0]
    scores = list(Rating.objects.filter(trailer=first).values_list("score", flat=True))
    assert label[first.pk] == pytest.approx(sum(scores) / len(scores))
    version = run.model_version
    assert version.number == 1 and not version.is_active
    assert version.config["model"]["frame_size"] == 32 and version.config["sampling"]["size"] == 32
    assert version.metrics["val_mae"] is not None and version.metrics["ensemble"] == 3
    # Later ratings do not change a finished run's snapshot.
    Rating.objects.filter(trailer=first).update(score=1)
    run.refresh_from_db()
    assert {d["trailer"]: d["label"] for d in run.dataset} == label
    # The version keeps the weights; the run's resume checkpoint is gone with the run's end (deleted once its end
    # is committed: a busy machine may show the end a moment before the files are gone).
    assert os.path.exists(version.weights.path)
    assert run.checkpoint
    wait_for(lambda: not (settings.MEDIA_ROOT / "runs" / str(run.pk)).exists(), timeout=30,
             message=f"run {run.pk}'s checkpoint to be deleted after its end")


def test_activation_scores_every_ready_trailer(staff_client, rated_trailers):
    run = wait_finished(start_run_from_admin(staff_client))
    version = run.model_version
    response = staff_client.post("/admin/trailers/modelversion/",
                                 {"action": "activate", "_selected_action": [version.pk]}, follow=True)
    assert "is now active" in response.content.decode()
    version.refresh_from_db()
    assert version.is_active
    ready = Trailer.objects.filter(status=Trailer.Status.READY).count()
    wait_for(lambda: Prediction.objects.filter(model_version=version).count() == ready, timeout=60,
             message="a prediction for every ready trailer")
    held_out = {int(pk): score for pk, score in run.cross_validation["predictions"].items()}
    for prediction in Prediction.objects.filter(model_version=version):
        assert len(prediction.subclip_scores) == prediction.trailer.subclips.count() == 2
        assert prediction.score == pytest.approx(sum(prediction.subclip_scores) / 2)
        assert prediction.spread >= 0
        # What the version knew of the trailer, kept beside the score: its run's held-out prediction of it.
        assert prediction.trained == (prediction.trailer_id in held_out)
        assert prediction.held_out_score == held_out.get(prediction.trailer_id)
        # How unlike the version's training trailers it looks, from its frames' embeddings: kept with the score.
        assert prediction.novelty is not None and prediction.novelty > 0


def test_new_trailer_is_scored_by_the_active_version(staff_client, rated_trailers, synthetic_trailers):
    run = wait_finished(start_run_from_admin(staff_client))
    staff_client.post("/admin/trailers/modelversion/", {"action": "activate", "_selected_action": [run.model_version.pk]})
    [new] = ingest(synthetic_trailers[6:7])
    prediction = wait_for(lambda: Prediction.objects.filter(trailer=new, model_version=run.model_version).first(),
                          timeout=60, message="the new trailer's prediction")
    assert 0 < prediction.score < 20


def test_cancel_from_the_admin_stops_the_run(staff_client, rated_trailers):
    run = start_run_from_admin(staff_client, train__epochs=500)
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).status == TrainingRun.Status.RUNNING, timeout=60,
             message="the run to start")
    page = staff_client.get(f"/admin/trailers/trainingrun/{run.pk}/change/").content.decode()
    assert "Cancel this run" in page and 'name="_save"' not in page  # read-only, but the button works
    staff_client.post(f"/admin/trailers/trainingrun/{run.pk}/cancel/")
    run = wait_finished(run, timeout=30)
    assert run.status == TrainingRun.Status.CANCELLED
    assert len(run.metrics) < 500
    assert not ModelVersion.objects.filter(run=run).exists()
    # Its checkpoint goes with it, once the end has committed: the status can be seen a moment before.
    checkpoint = settings.MEDIA_ROOT / "runs" / str(run.pk)
    wait_for(lambda: not checkpoint.exists(), timeout=30, message="the cancelled run's checkpoint to go")


def test_run_with_too_few_labelled_trailers_fails_at_once(staff_client, worker, synthetic_trailers, user):
    [trailer] = wait_until_processed(ingest(synthetic_trailers[:1]))
    rate_trailer(user=user, trailer=trailer, score=6)
    run = start_run_from_admin(staff_client)
    assert run.status == TrainingRun.Status.FAILED
    assert run.error == ("Not enough labelled trailers: this run has 1 ready trailer with at least 1 rating, "
                         "and needs at least 3.")
    run = start_run_from_admin(staff_client, label_source="reference")
    assert "has 1 ready trailer with a reference score" in run.error


def test_invalid_options_are_refused_on_the_field(staff_client):
    response = staff_client.post("/admin/trailers/trainingrun/add/",
                                 run_form_data(**{**TINY_RUN, "train__lr": -1, "model__activation": "tanh"}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["train__lr"] == ["Learning rate must be a number greater than 0."]
    assert "model__activation" in errors
    assert not TrainingRun.objects.exists()


def test_train_on_these_preselects_trailers(staff_client, rated_trailers):
    chosen = [t.pk for t in rated_trailers[:4]]
    response = staff_client.post("/admin/trailers/trailer/", {"action": "train_on_these", "_selected_action": chosen})
    assert response.status_code == 302 and "trailers=" in response["Location"]
    form_page = staff_client.get(response["Location"]).content.decode()
    assert "only on the selected trailers" in form_page
    run = wait_finished(start_run_from_admin(staff_client, trailer_ids=",".join(map(str, chosen))))
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert sorted(d["trailer"] for d in run.dataset) == sorted(chosen)


def test_auto_activate_when_better(staff_client, rated_trailers):
    run = wait_finished(start_run_from_admin(staff_client, auto_activate=True))
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    version = run.model_version
    assert version.is_active  # nothing was active, so it wins
    # And it scores every ready trailer, as an activation by hand does (the test ends when the worker has done so,
    # not while it still writes).
    wait_for(lambda: ModelVersion.objects.filter(pk=version.pk, scored_at__isnull=False).exists(), timeout=60,
             message="the auto-activated version to score every ready trailer")
    ready = Trailer.objects.filter(status=Trailer.Status.READY).count()
    assert Prediction.objects.filter(model_version=version).count() == ready


def test_a_run_busy_with_no_progress_to_report_is_not_taken_for_dead(rated_trailers, monkeypatch, settings):
    """Validation (or saving a large model) reports no steps; the run must still not show as stale."""
    import ml.train
    from trailers.services import execute_training_run

    settings.RUN_STALE_AFTER_SECONDS = 2  # the heartbeat beats every 0.5 s: four chances before it would show
    model_config, train_config = tiny_configs(epochs=1, val_fraction=0.34)
    run = TrainingRun.objects.create(model_config=model_config.to_dict(), train_config=train_config.to_dict(),
                                     enqueued_at=timezone.now())  # handed over already: no sweep sends it
    real_evaluate = ml.train.evaluate
    silent = []

    def slow_evaluate(*args, **kwargs):
        if not silent:  # one silent phase is the case; the run's other evaluations go at their own pace
            silent.append(True)
            time.sleep(5)  # two and a half times the stale limit without a word
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(ml.train, "evaluate", slow_evaluate)
    seen, stop = [], threading.Event()

    def watch():  # what the run page would show, ten times a second
        try:
            while not stop.is_set():
                seen.append(TrainingRun.objects.get(pk=run.pk).display_status)
                time.sleep(0.1)
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        finished = execute_training_run(run_id=run.pk, worker="patient")
    finally:
        stop.set()
        watcher.join()
    assert finished.status == TrainingRun.Status.SUCCEEDED, finished.error
    assert len(seen) > 40 and "stale" not in seen  # watched through the whole silent phase
