"""Upgrading keeps the predictions page's figures and sorts: the migrations that keep on each prediction what its
version knew of the trailer (trained on it, its held-out prediction, its baseline) and its error fill the
predictions already there, from their run's dataset and cross-validation and from their trailer's mean rating."""

from __future__ import annotations

import pytest

from tests.support.migrations import latest, migrate_to


def _models_before(migration: str):
    """The newest migrations (to go back to), and the Trailer, TrainingRun, ModelVersion and Prediction models as
    they were at ``migration``, the database moved there."""
    newest = latest()
    old = migrate_to([("trailers", migration)])
    return newest, *(old.get_model("trailers", name) for name in ("Trailer", "TrainingRun", "ModelVersion",
                                                                   "Prediction"))


@pytest.mark.django_db(transaction=True)
def test_predictions_made_before_get_what_their_version_knew_of_each_trailer():
    newest, Trailer, TrainingRun, ModelVersion, Prediction = _models_before("0013_train_config_random_seed")
    a, b, c, d, newer = (Trailer.objects.create(title=t, original_name=f"{t}.mp4", file=f"{t}.mp4", sha256=t * 64)
                         for t in "abcdn")
    # Cross-validated over four trailers in two folds: {a, c} and {b, d}; each fold's baseline is the other's mean.
    cv_run = TrainingRun.objects.create(
        dataset=[{"trailer": t.pk, "label": label, "split": "cv"} for t, label in ((a, 2.0), (b, 4.0), (c, 6.0),
                                                                                  (d, 8.0))],
        cross_validation={"per_fold": [{"fold": 1, "test": [str(a.pk), str(c.pk)]},
                                       {"fold": 2, "test": [str(b.pk), str(d.pk)]}],
                          "predictions": {str(a.pk): 3.0, str(b.pk): 4.5, str(c.pk): 5.0, str(d.pk): 7.0}})
    # Fit on a split: a and b trained on, c held for validation.
    split_run = TrainingRun.objects.create(dataset=[{"trailer": a.pk, "label": 2.0, "split": "train"},
                                                    {"trailer": b.pk, "label": 4.0, "split": "train"},
                                                    {"trailer": c.pk, "label": 6.0, "split": "val"}])
    cv_version = ModelVersion.objects.create(run=cv_run, number=1, weights="w1.pt")
    split_version = ModelVersion.objects.create(run=split_run, number=2, weights="w2.pt")
    for version in (cv_version, split_version):
        for trailer in (a, b, c, d, newer):
            Prediction.objects.create(model_version=version, trailer=trailer, score=5.5)

    new = migrate_to(newest)
    Prediction = new.get_model("trailers", "Prediction")

    def kept(version):
        rows = Prediction.objects.filter(model_version_id=version.pk).values_list(
            "trailer_id", "trained", "held_out_score", "baseline", "score")
        return {pk: rest for pk, *rest in rows}

    assert kept(cv_version) == {
        a.pk: [True, 3.0, 6.0, 5.5], c.pk: [True, 5.0, 6.0, 5.5],  # fold 1, against the mean of b and d
        b.pk: [True, 4.5, 4.0, 5.5], d.pk: [True, 7.0, 4.0, 5.5],  # fold 2, against the mean of a and c
        newer.pk: [False, None, 5.0, 5.5],  # newer than the run: against the mean of all it trained on
    }
    assert kept(split_version) == {
        a.pk: [True, None, 3.0, 5.5], b.pk: [True, None, 3.0, 5.5],
        c.pk: [False, None, 3.0, 5.5], d.pk: [False, None, 3.0, 5.5], newer.pk: [False, None, 3.0, 5.5],
    }


@pytest.mark.django_db(transaction=True)
def test_predictions_made_before_get_their_error():
    newest, Trailer, TrainingRun, ModelVersion, Prediction = _models_before("0016_trailer_codec_container_indexes")
    rated = Trailer.objects.create(title="r", original_name="r.mp4", file="r.mp4", sha256="1" * 64, rating_count=2,
                                   rating_sum=13, mean_rating=6.5)
    unrated = Trailer.objects.create(title="u", original_name="u.mp4", file="u.mp4", sha256="2" * 64)
    version = ModelVersion.objects.create(run=TrainingRun.objects.create(), number=1, weights="w.pt")
    Prediction.objects.create(model_version=version, trailer=rated, score=8.0)
    Prediction.objects.create(model_version=version, trailer=unrated, score=4.0)

    Prediction = migrate_to(newest).get_model("trailers", "Prediction")
    assert dict(Prediction.objects.values_list("trailer_id", "error")) == {rated.pk: 1.5, unrated.pk: None}
