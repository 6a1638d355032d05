"""Upgrading keeps the numbers people see: the migrations that add the rating counters and the runs' split sizes
fill them from the ratings and datasets already there."""

from __future__ import annotations

import pytest

from tests.support.migrations import latest, migrate_to

BEFORE = [("trailers", "0007_run_preset_and_note")]


@pytest.mark.django_db(transaction=True)
def test_existing_ratings_and_datasets_fill_the_new_columns():
    newest = latest()
    old = migrate_to(BEFORE)
    User = old.get_model("auth", "User")
    Trailer = old.get_model("trailers", "Trailer")
    Rating = old.get_model("trailers", "Rating")
    TrainingRun = old.get_model("trailers", "TrainingRun")
    people = [User.objects.create(username=f"u{i}") for i in range(3)]
    rated = Trailer.objects.create(title="Rated", original_name="r.mp4", file="r.mp4", sha256="1" * 64)
    unrated = Trailer.objects.create(title="Unrated", original_name="u.mp4", file="u.mp4", sha256="2" * 64)
    for person, score in zip(people, (9, 4, 6), strict=True):
        Rating.objects.create(user=person, trailer=rated, score=score)
    run = TrainingRun.objects.create(dataset=[{"trailer": rated.pk, "label": 6.3, "split": "train"},
                                              {"trailer": unrated.pk, "label": 5.0, "split": "val"}])
    cv_run = TrainingRun.objects.create(dataset=[{"trailer": rated.pk, "label": 6.3, "split": "cv"}])

    new = migrate_to(newest)
    Trailer = new.get_model("trailers", "Trailer")
    TrainingRun = new.get_model("trailers", "TrainingRun")
    assert Trailer.objects.filter(pk=rated.pk).values_list("rating_count", "rating_sum", "mean_rating").get() == (
        3, 19, pytest.approx(19 / 3))
    assert Trailer.objects.filter(pk=unrated.pk).values_list("rating_count", "rating_sum", "mean_rating").get() == (
        0, 0, None)
    sizes = ("dataset_trailers", "dataset_train", "dataset_val", "dataset_cross_validated")
    assert TrainingRun.objects.filter(pk=run.pk).values_list(*sizes).get() == (2, 1, 1, 0)
    assert TrainingRun.objects.filter(pk=cv_run.pk).values_list(*sizes).get() == (1, 0, 0, 1)
