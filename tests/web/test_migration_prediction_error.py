"""Upgrading keeps the predictions page's error sort: the migration that keeps each prediction's error fills the
predictions already there from their trailers' mean ratings."""

from __future__ import annotations

import pytest

from tests.support.migrations import latest, migrate_to

BEFORE = [("trailers", "0016_trailer_codec_container_indexes")]


@pytest.mark.django_db(transaction=True)
def test_predictions_made_before_get_their_error():
    newest = latest()
    old = migrate_to(BEFORE)
    Trailer = old.get_model("trailers", "Trailer")
    TrainingRun = old.get_model("trailers", "TrainingRun")
    ModelVersion = old.get_model("trailers", "ModelVersion")
    Prediction = old.get_model("trailers", "Prediction")
    rated = Trailer.objects.create(title="r", original_name="r.mp4", file="r.mp4", sha256="1" * 64, rating_count=2,
                                   rating_sum=13, mean_rating=6.5)
    unrated = Trailer.objects.create(title="u", original_name="u.mp4", file="u.mp4", sha256="2" * 64)
    version = ModelVersion.objects.create(run=TrainingRun.objects.create(), number=1, weights="w.pt")
    Prediction.objects.create(model_version=version, trailer=rated, score=8.0)
    Prediction.objects.create(model_version=version, trailer=unrated, score=4.0)

    new = migrate_to(newest)
    Prediction = new.get_model("trailers", "Prediction")
    assert dict(Prediction.objects.values_list("trailer_id", "error")) == {rated.pk: 1.5, unrated.pk: None}
