"""Upgrading renames the stored training option "seed" to "random_seed" (and a downgrade renames it back): runs
and versions saved before read as those saved after."""

from __future__ import annotations

import pytest

from tests.support.migrations import latest, migrate_to

BEFORE = [("trailers", "0012_trailer_search_trigram")]
RENAMED = [("trailers", "0013_train_config_random_seed")]


@pytest.mark.django_db(transaction=True)
def test_stored_run_and_version_options_get_the_new_name_and_keep_their_value():
    newest = latest()
    old = migrate_to(BEFORE)
    TrainingRun = old.get_model("trailers", "TrainingRun")
    ModelVersion = old.get_model("trailers", "ModelVersion")
    run = TrainingRun.objects.create(train_config={"epochs": 3, "seed": 11}, model_config={"lstm_size": 8})
    version = ModelVersion.objects.create(run=run, number=1, weights="w.pt",
                                          config={"model": {"lstm_size": 8}, "train": {"epochs": 3, "seed": 11},
                                                  "sampling": {"size": 112}})
    untouched = TrainingRun.objects.create(train_config={"epochs": 2}, model_config={})

    new = migrate_to(RENAMED)
    TrainingRun = new.get_model("trailers", "TrainingRun")
    ModelVersion = new.get_model("trailers", "ModelVersion")
    assert TrainingRun.objects.get(pk=run.pk).train_config == {"epochs": 3, "random_seed": 11}
    assert ModelVersion.objects.get(pk=version.pk).config == {
        "model": {"lstm_size": 8}, "train": {"epochs": 3, "random_seed": 11}, "sampling": {"size": 112}}
    assert TrainingRun.objects.get(pk=untouched.pk).train_config == {"epochs": 2}

    migrate_to(BEFORE)  # and back
    assert TrainingRun.objects.get(pk=run.pk).train_config == {"epochs": 3, "seed": 11}
    assert ModelVersion.objects.get(pk=version.pk).config["train"] == {"epochs": 3, "seed": 11}
    migrate_to(newest)
