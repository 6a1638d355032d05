"""API: training runs (list, retrieve; create and cancel for staff), model versions (activate for staff), predictions."""

from __future__ import annotations

import pytest

from trailers.models import ModelVersion, Prediction, TrainingRun
from trailers.services import score_trailers

pytestmark = pytest.mark.django_db

TINY = {"model": {"frame_size": 32, "channels1": 4, "channels2": 8, "embedding_size": 8, "lstm_size": 8},
        "train": {"epochs": 2, "batch_size": 4, "num_workers": 0, "frames_per_sample": 4, "device": "cpu"}}


def test_list_and_retrieve(api, make_run, make_version):
    run = make_run()
    version = make_version(number=1, run=run)
    listed = api.get("/api/runs/").json()
    assert listed["count"] == 1
    row = listed["results"][0]
    assert row["id"] == run.pk and row["status"] == "succeeded" and row["display_status"] == "succeeded"
    assert row["dataset_size"] == {"total": 3, "train": 2, "val": 1, "cross_validated": 0} and row["model_version"] == version.pk
    assert row["duration_seconds"] == pytest.approx(65, abs=1)
    assert row["page_url"].endswith(f"/runs/{run.pk}/") and "dataset" not in row
    assert "metrics" not in row  # each run's per-epoch curves (megabytes for a long run) are in its own answer
    detail = api.get(f"/api/runs/{run.pk}/").json()
    assert len(detail["metrics"]) == 3
    # The dataset (megabytes at scale) has its own paginated endpoint, linked from the run.
    assert "dataset" not in detail and detail["dataset_url"].endswith(f"/api/runs/{run.pk}/dataset/")
    dataset = api.get(detail["dataset_url"]).json()
    assert dataset["count"] == 3
    assert dataset["results"][0] == {"trailer": 1, "label": 5.0, "split": "train", "fold": None,
                                     "held_out_prediction": None}  # no folds
    assert api.get("/api/runs/99999/").status_code == 404


def test_a_run_says_how_many_workers_took_it_since_its_last_epoch(api, make_run):
    run = make_run(status=TrainingRun.Status.RUNNING, attempts_without_epoch=2)
    row = api.get(f"/api/runs/{run.pk}/").json()
    assert (row["status"], row["attempts_without_epoch"]) == ("running", 2)


def test_a_runs_dataset_comes_a_page_at_a_time(api, make_run):
    dataset = [{"trailer": pk, "label": 5.0 + pk % 3, "split": "cv"} for pk in range(1, 121)]
    # Its estimate: five folds dealt in order, each trailer's held-out prediction a tenth of its id.
    estimate = {"folds": 5, "per_fold": [{"fold": f + 1, "test": list(range(f + 1, 121, 5))} for f in range(5)],
                "predictions": {str(pk): pk / 10 for pk in range(1, 121)}}
    run = make_run(dataset=dataset, cross_validation=estimate)
    assert api.get("/api/runs/").json()["results"][0]["dataset_size"]["cross_validated"] == 120
    entries = [{**d, "fold": 1 + (d["trailer"] - 1) % 5, "held_out_prediction": d["trailer"] / 10} for d in dataset]
    first = api.get(f"/api/runs/{run.pk}/dataset/").json()
    assert first["count"] == 120 and first["results"] == entries[:50] and first["next"].endswith("page=2")
    assert api.get(f"/api/runs/{run.pk}/dataset/?page=3").json()["results"] == entries[100:]
    unfinished = make_run(dataset=dataset[:3])  # folds, but no estimate yet
    assert [(d["fold"], d["held_out_prediction"]) for d in api.get(f"/api/runs/{unfinished.pk}/dataset/").json()[
        "results"]] == [(None, None)] * 3
    assert api.get(f"/api/runs/{run.pk}/dataset/?page=4").status_code == 404
    assert api.get("/api/runs/99999/dataset/").status_code == 404
    queued = make_run(status=TrainingRun.Status.QUEUED, dataset=[], metrics=[])
    assert api.get(f"/api/runs/{queued.pk}/dataset/").json()["count"] == 0  # not frozen yet


def test_staff_start_a_run(staff_api, staff_user, labelled):
    response = staff_api.post("/api/runs/", {**TINY, "label_source": "user_mean", "auto_activate": True},
                              format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    run = TrainingRun.objects.get(pk=body["id"])
    assert body["status"] == "queued" and run.created_by == staff_user and run.auto_activate
    assert run.model_config["lstm_size"] == 8 and run.train_config["epochs"] == 2
    assert run.model_config["head"] == "pool"  # the rest comes from the preset


def test_the_random_seed_is_sent_as_random_seed_and_the_old_name_is_refused_with_the_new_one(staff_api, labelled):
    train = {**TINY["train"], "random_seed": 42}
    response = staff_api.post("/api/runs/", {**TINY, "train": train}, format="json")
    assert response.status_code == 201, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.train_config["random_seed"] == 42 and "seed" not in run.train_config
    assert response.json()["train_config"]["random_seed"] == 42
    old = {**TINY["train"], "seed": 42}
    response = staff_api.post("/api/runs/", {**TINY, "train": old}, format="json")
    assert response.status_code == 400
    assert response.json()["train"] == {"seed": ["Renamed: send it as “random_seed”."]}
    assert TrainingRun.objects.count() == 1


def test_a_body_with_fields_it_does_not_take_is_refused_naming_them_and_starts_nothing(staff_api, labelled):
    # What a run's GET returns, sent back to start one like it: the options would otherwise be quietly dropped.
    response = staff_api.post("/api/runs/", {"model_config": TINY["model"], "train_config": {"epochs": 0},
                                             "requested_trailer_ids": "abc", "colour": "blue"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["model_config"] == ["Unknown field: send the model options changed from the preset's as “model” "
                                    "(“model_config” is what a run reports it trained with)."]
    assert body["train_config"][0].startswith("Unknown field: send the training options changed from the preset's "
                                              "as “train”")
    assert body["requested_trailer_ids"] == ["Unknown field: send the trailers to train on as “trailer_ids”."]
    assert body["colour"] == ["Unknown field."]
    assert not TrainingRun.objects.exists()
    # The browsable API's form posts its CSRF token beside the fields: not the client's, so not refused.
    staff_api.post("/api/runs/", {"train": {"epochs": 2}, "csrfmiddlewaretoken": "abc"}, format="json")
    assert TrainingRun.objects.count() == 1


def test_trailer_ids_that_name_no_trailer_are_refused_and_start_nothing(staff_api, labelled):
    response = staff_api.post("/api/runs/", {"trailer_ids": [labelled[0].pk, 999999, 999998], **TINY}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_trailers" and body["trailer_ids"] == [
        "No trailer has the ids 999998, 999999 (deleted since?)."]
    assert not TrainingRun.objects.exists()


def test_start_with_a_preset_and_chosen_trailers(staff_api, labelled):
    ids = [t.pk for t in labelled]
    body = staff_api.post("/api/runs/", {"preset": "single_frame", "trailer_ids": ids, **TINY},
                          format="json").json()
    run = TrainingRun.objects.get(pk=body["id"])
    assert run.model_config["temporal"] == "mean" and run.requested_trailer_ids == sorted(ids)


def test_a_run_with_too_few_trailers_fails_at_once_and_says_why(staff_api):
    response = staff_api.post("/api/runs/", TINY, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "failed" and "Not enough labelled trailers" in response.json()["error"]


@pytest.mark.parametrize(("payload", "errors"), [
    ({"model": {"lstm_size": 0}}, {"model": ["lstm_size"]}),
    ({"model": {"activation": "sigmoid"}}, {"model": ["activation"]}),
    ({"model": {"nonsense": 1}}, {"model": ["nonsense"]}),
    ({"train": {"epochs": "many"}}, {"train": ["epochs"]}),
    ({"train": {"lr": -1}}, {"train": ["lr"]}),
    ({"label_source": "oracle"}, {"label_source": None}),
    ({"min_ratings": 0}, {"min_ratings": None}),
    ({"preset": "huge"}, {"preset": None}),
    ({"trailer_ids": ["x"]}, {"trailer_ids": None}),
    ({"model": "not an object"}, {"model": None}),
])
def test_bad_run_options_are_400_with_the_field(staff_api, payload, errors):
    response = staff_api.post("/api/runs/", payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    for key, inner in errors.items():
        assert key in body, body
        for name in inner or []:
            assert name in body[key], body
    assert not TrainingRun.objects.exists()


def test_staff_cancel(staff_api, make_run):
    queued = make_run(status=TrainingRun.Status.QUEUED, metrics=[], started_at=None)
    body = staff_api.post(f"/api/runs/{queued.pk}/cancel/").json()
    assert body["status"] == "cancelled" and body["cancel_requested"]
    running = make_run(status=TrainingRun.Status.RUNNING)
    body = staff_api.post(f"/api/runs/{running.pk}/cancel/").json()
    assert body["status"] == "running" and body["cancel_requested"]
    assert staff_api.post("/api/runs/99999/cancel/").status_code == 404
    finished = make_run()  # succeeded: nothing to cancel, and the answer says so
    refused = staff_api.post(f"/api/runs/{finished.pk}/cancel/")
    assert refused.status_code == 409 and refused.json() == {
        "detail": f"{finished} has already finished (succeeded).", "code": "already_finished"}
    finished.refresh_from_db()
    assert finished.status == TrainingRun.Status.SUCCEEDED and not finished.cancel_requested


# --- model versions -------------------------------------------------------------------------------------


def test_versions_list_retrieve_activate(staff_api, api, make_version, make_prediction, make_trailer):
    v1, v2 = make_version(number=1, active=True), make_version(number=2)
    make_prediction(v1, make_trailer(), 5.0)
    listed = api.get("/api/model-versions/").json()
    assert [v["number"] for v in listed["results"]] == [2, 1]
    assert listed["results"][1]["prediction_count"] == 1 and listed["results"][1]["is_active"]
    assert api.get(f"/api/model-versions/{v2.pk}/").json()["metrics"]["val_mae"] == 1.5
    activated = staff_api.post(f"/api/model-versions/{v2.pk}/activate/")
    assert activated.status_code == 200 and activated.json()["is_active"]
    assert list(ModelVersion.objects.filter(is_active=True)) == [v2]
    assert staff_api.post("/api/model-versions/99999/activate/").status_code == 404


def test_a_version_whose_weights_are_gone_is_not_activated(staff_api, staff_client, make_version, make_trailer):
    active, broken = make_version(number=1, active=True), make_version(number=2)
    broken.weights.storage.delete(broken.weights.name)
    response = staff_api.post(f"/api/model-versions/{broken.pk}/activate/")
    assert response.status_code == 400 and "weights file" in response.json()["detail"]
    page = staff_client.post("/admin/trailers/modelversion/", {"action": "activate", "_selected_action": [broken.pk]},
                             follow=True).content.decode()
    assert "cannot be used: its weights file" in page
    page = staff_client.post("/admin/trailers/modelversion/", {"action": "score_all", "_selected_action": [broken.pk]},
                             follow=True).content.decode()
    assert "cannot be used: its weights file" in page and "Scoring queued" not in page
    assert list(ModelVersion.objects.filter(is_active=True)) == [active]  # the working one stays active
    # A scoring task for it (queued before the file went) ends quietly, having written nothing.
    make_trailer()
    assert score_trailers(model_version_id=broken.pk) == 0
    assert not Prediction.objects.exists()


# --- predictions ---------------------------------------------------------------------------------------------


def test_predictions_filter_by_version_and_trailer(api, make_version, make_prediction, make_trailer):
    v1, v2 = make_version(number=1), make_version(number=2, active=True)
    a, b = make_trailer(title="A"), make_trailer(title="B")
    make_prediction(v1, a, 3.0)
    make_prediction(v2, a, 4.0)
    make_prediction(v2, b, 8.0)
    assert api.get("/api/predictions/").json()["count"] == 3
    active = api.get("/api/predictions/?version=active").json()["results"]
    assert [(p["trailer_title"], p["score"], p["model_version_number"]) for p in active] == [("B", 8.0, 2),
                                                                                             ("A", 4.0, 2)]
    assert [p["score"] for p in api.get(f"/api/predictions/?version={v1.pk}").json()["results"]] == [3.0]
    assert [p["model_version"] for p in api.get(f"/api/predictions/?trailer={a.pk}").json()["results"]] == [
        v2.pk, v1.pk]
    assert api.get(f"/api/predictions/?trailer={a.pk}&version={v1.pk}").json()["count"] == 1
    for bad in ("?version=latest", "?trailer=abc", "?trailer=0"):
        response = api.get(f"/api/predictions/{bad}")
        assert response.status_code == 400 and bad[1:].split("=")[0] in response.json()


def test_predictions_with_no_active_version(api):
    assert api.get("/api/predictions/?version=active").json()["count"] == 0
