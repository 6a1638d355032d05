"""A version's number is never given again: its run keeps it (trailers/migrations/0023 copies the numbers of the
versions there are to their runs), and the next version's number is one more than any ever given."""

from __future__ import annotations

import pytest

from tests.support.migrations import latest, migrate_to
from trailers.models import ModelVersion, TrainingRun
from trailers.services.versions import delete_model_versions, next_version_number

BEFORE = [("trailers", "0022_prediction_summary_plural")]
AFTER = [("trailers", "0023_run_version_number")]


@pytest.mark.django_db(transaction=True)
def test_upgrading_keeps_each_version_s_number_on_its_run_and_a_deleted_newest_number_is_not_given_again():
    newest = latest()
    old = migrate_to(BEFORE)
    OldRun, OldVersion = old.get_model("trailers", "TrainingRun"), old.get_model("trailers", "ModelVersion")
    runs = [OldRun.objects.create(train_config={}, model_config={}) for _ in range(3)]
    for number, run in enumerate(runs[:2], start=1):
        OldVersion.objects.create(run=run, number=number, weights=f"w{number}.pt", config={}, metrics={})
    new = migrate_to(AFTER)
    NewRun = new.get_model("trailers", "TrainingRun")
    assert [NewRun.objects.get(pk=r.pk).version_number for r in runs] == [1, 2, None]
    migrate_to(newest)

    assert next_version_number() == 3
    delete_model_versions(version_ids=[ModelVersion.objects.get(number=2).pk])  # the newest goes
    assert next_version_number() == 3  # "v2" stays the deleted model's name
    assert TrainingRun.objects.get(pk=runs[1].pk).version_number == 2
