"""Upgrading keeps a run page's frames line: the migration that keeps on each run what the frames of its dataset
were fills the runs already there from their trailers' subclips."""

from __future__ import annotations

import pytest

from tests.support.migrations import latest, migrate_to

BEFORE = [("trailers", "0014_prediction_standing")]


@pytest.mark.django_db(transaction=True)
def test_runs_made_before_get_their_datasets_frames():
    newest = latest()
    old = migrate_to(BEFORE)
    Trailer = old.get_model("trailers", "Trailer")
    Subclip = old.get_model("trailers", "Subclip")
    TrainingRun = old.get_model("trailers", "TrainingRun")
    trailers = [Trailer.objects.create(title=t, original_name=f"{t}.mp4", file=f"{t}.mp4", sha256=t * 64)
                for t in "abc"]
    for trailer, durations in zip(trailers, [(30.0, 30.0, 12.5), (30.0,), (4.0, 30.0)], strict=True):
        for index, duration in enumerate(durations):
            Subclip.objects.create(trailer=trailer, index=index, start=10.0 + 30 * index, duration=duration, frame_count=16,
                                   frames=f"subclips/{trailer.pk}/{index}.npy")
    dataset = [{"trailer": t.pk, "label": 5.0, "split": "cv"} for t in trailers[:2]]
    run = TrainingRun.objects.create(dataset=dataset, dataset_trailers=2, dataset_cross_validated=2)
    queued = TrainingRun.objects.create()  # no dataset frozen yet: nothing to say

    new = migrate_to(newest)
    TrainingRun = new.get_model("trailers", "TrainingRun")
    assert TrainingRun.objects.get(pk=run.pk).frames == {"trailers": 2, "subclips": 4, "fewest": 1, "most": 3,
                                                         "shortest": 12.5, "longest": 30.0}
    assert TrainingRun.objects.get(pk=queued.pk).frames == {}
