"""`make_demo_dataset` on a real worker: trailers, ratings, a run that beats its baseline, an active model."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from trailers.models import ModelVersion, Prediction, Rating, Trailer, TrainingRun

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def counts():
    return (Trailer.objects.count(), Rating.objects.count(), TrainingRun.objects.count(), ModelVersion.objects.count(),
            Prediction.objects.count())


def test_demo_dataset_end_to_end_and_idempotent(worker, capsys):
    call_command("make_demo_dataset", "--trailers", "16", "--epochs", "20", "--timeout", "300")
    out = capsys.readouterr().out
    assert "Demo dataset ready: 16 trailers" in out

    assert Trailer.objects.filter(status=Trailer.Status.READY).count() == 16
    assert Trailer.objects.filter(reference_score__isnull=False).count() == 16
    raters = Rating.objects.values("user").distinct().count()
    assert raters == 5
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    best = run.model_version.metrics
    assert best["val_mae"] < best["baseline_mae"], best
    assert run.model_version.is_active
    assert Prediction.objects.filter(model_version=run.model_version).count() == 16

    before = counts()
    call_command("make_demo_dataset", "--trailers", "16", "--epochs", "20", "--timeout", "300")
    assert counts() == before
