"""API: a run's cross-validated estimate, a version's metrics with its comparison, activation's comparison,
and the schema that documents them."""

from __future__ import annotations

import pytest
import yaml

from tests.support.rows import create_cv_run, cross_validation_estimate, cv_version_metrics

pytestmark = pytest.mark.django_db

LABELS = [3.0, 5.0, 7.0, 9.0]


@pytest.fixture
def four(make_trailer):
    return [make_trailer(title=f"CV {i}") for i in range(4)]


def test_a_run_carries_its_cross_validation(api, four):
    estimate = cross_validation_estimate(four, folds=2, groups=[[four[0].pk, four[1].pk]])
    run = create_cv_run(four, LABELS, folds=2, cross_validation=estimate)
    body = api.get(f"/api/runs/{run.pk}/").json()
    cv = body["cross_validation"]
    # The estimate, less what grows with the dataset: each trailer's fold and held-out prediction are in the dataset.
    assert cv == {**{k: v for k, v in estimate.items() if k != "predictions"},
                  "per_fold": [{k: v for k, v in fold.items() if k != "test"} for fold in estimate["per_fold"]]}
    assert cv["summary"]["model"]["mae"] == {"mean": 0.612, "sd": 0.041}
    assert [f["fold"] for f in cv["per_fold"]] == [1, 2] and [f["trailers"] for f in cv["per_fold"]] == [2, 2]
    assert cv["groups"] == [[four[0].pk, four[1].pk]] and cv["duplicates_checked"] is True
    assert body["dataset_size"] == {"total": 4, "train": 0, "val": 0, "cross_validated": 4}
    assert body["dataset_url"].endswith(f"/api/runs/{run.pk}/dataset/")
    dataset = api.get(f"/api/runs/{run.pk}/dataset/").json()["results"]
    assert dataset == [{"trailer": t.pk, "label": label, "split": "cv", "fold": 1 + i % 2,
                        "held_out_prediction": estimate["predictions"][str(t.pk)]}
                       for i, (t, label) in enumerate(zip(four, LABELS, strict=True))]
    assert {m["fold"] for m in body["metrics"]} == {1, 2}
    assert "cross_validation" not in api.get("/api/runs/").json()["results"][0]  # the list stays light


def test_a_run_whose_model_mixes_in_the_neighbours_carries_their_share_and_the_head_alone(api, four):
    estimate = cross_validation_estimate(four, folds=2, neighbour_weight=0.25)
    cv = api.get(f"/api/runs/{create_cv_run(four, LABELS, folds=2, cross_validation=estimate).pk}/").json()[
        "cross_validation"]
    assert cv["neighbour_weight"] == 0.25
    assert cv["summary"]["head"]["mae"] == {"mean": 0.9, "sd": 0.1}
    assert [(f["neighbour_weight"], f["head"]["mae"]) for f in cv["per_fold"]] == [(0.0, 0.8), (0.25, 0.9)]
    schema = yaml.safe_load(api.get("/api/schema/").content)["components"]["schemas"]
    assert "neighbours' share" in schema["CrossValidation"]["properties"]["neighbour_weight"]["description"]


def test_a_run_without_folds_has_null_cross_validation(api, make_run):
    run = make_run()
    assert api.get(f"/api/runs/{run.pk}/").json()["cross_validation"] is None


def test_versions_expose_their_estimate_and_comparison(api, four, make_version):
    comparison = {"active": 1, "trailers": 4, "new_mae": 0.5, "old_mae": 0.8, "decision": "activate",
                  "reason": "better on the same 4 held-out trailers, MAE 0.500 against v1's 0.800"}
    version = make_version(number=2, run=create_cv_run(four, LABELS, folds=2),
                           **cv_version_metrics(folds=2, trailers=4, comparison=comparison))
    metrics = api.get(f"/api/model-versions/{version.pk}/").json()["metrics"]
    assert metrics["estimate"] == "cross-validated" and metrics["val_mae"] == 0.612 and metrics["val_mae_sd"] == 0.041
    assert metrics["ensemble"] == 2 and metrics["comparison"] == comparison


def _fair_pair(four, make_run, make_version, make_prediction):
    """v1 active (a run on other trailers: every prediction it made here is held out), and v2 cross-validated on
    the four trailers, whose held-out predictions are closer to the labels than v1's."""
    old = make_version(number=1, active=True, run=make_run(dataset=[]))
    for trailer, label in zip(four, LABELS, strict=True):
        make_prediction(old, trailer, label + 1.0)  # MAE 1.0
    held_out = {t.pk: label + 0.25 for t, label in zip(four, LABELS, strict=True)}  # MAE 0.25
    new = make_version(number=2, run=create_cv_run(
        four, LABELS, folds=2, cross_validation=cross_validation_estimate(four, folds=2, predictions=held_out)),
        **cv_version_metrics(folds=2, trailers=4))
    return old, new


def test_activating_reports_the_fair_comparison_made_before(staff_api, four, make_run, make_version,
                                                            make_prediction):
    old, new = _fair_pair(four, make_run, make_version, make_prediction)
    response = staff_api.post(f"/api/model-versions/{new.pk}/activate/")
    assert response.status_code == 200
    body = response.json()
    assert body["is_active"] and body["comparison"] == {
        "active": 1, "trailers": 4, "new_mae": 0.25, "old_mae": 1.0, "decision": "activate", "label_source": "user_mean",
        "reason": "better on the same 4 held-out trailers, MAE 0.250 against v1's 1.000"}


def test_the_schema_documents_the_new_fields(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    components = schema["components"]["schemas"]
    assert "uncertainty" in components["Prediction"]["properties"]
    assert "uncertainty" in components["TrailerPrediction"]["properties"]
    assert "predicted_uncertainty" in components["Trailer"]["properties"]
    assert "standard deviation" in components["Prediction"]["properties"]["uncertainty"]["description"]
    run = components["TrainingRunDetail"]["properties"]["cross_validation"]
    assert run.get("nullable") or any("CrossValidation" in str(v) for v in run.values())
    assert {"folds", "summary", "per_fold", "groups"} <= set(components["CrossValidation"]["properties"])
    assert "predictions" not in components["CrossValidation"]["properties"]  # in the dataset, a page at a time
    assert {"fold", "held_out_prediction"} <= set(components["DatasetEntry"]["properties"])
    assert "comparison" in components["ModelVersionMetrics"]["properties"]
    activate = schema["paths"]["/api/model-versions/{id}/activate/"]["post"]["responses"]["200"]
    assert "ModelVersionActivation" in str(activate)


def test_a_page_of_a_large_run_dataset_carries_every_trailers_fold(api, make_trailer):
    # SQLite's json_array() took at most 127 ids: a page of 128 or more was a 500 (the API serves up to 500).
    trailers = [make_trailer(title=f"Many {i}") for i in range(130)]
    labels = [float(1 + i % 9) for i in range(130)]
    estimate = cross_validation_estimate(trailers, folds=2)
    run = create_cv_run(trailers, labels, folds=2, cross_validation=estimate)
    response = api.get(f"/api/runs/{run.pk}/dataset/?page_size=500")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == 130 and all(row["fold"] in (1, 2) for row in rows)
    assert [row["held_out_prediction"] for row in rows] == [estimate["predictions"][str(t.pk)] for t in trailers]
