"""The database itself enforces the data rules, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from trailers.models import ModelVersion, Prediction, Rating, Subclip, Trailer, TrainingRun

pytestmark = pytest.mark.django_db


def make_trailer(title="t", sha="a" * 64, content=b"video-bytes"):
    trailer = Trailer(title=title, original_name=f"{title}.mp4", sha256=sha)
    trailer.file.save(f"{title}.mp4", ContentFile(content), save=False)
    trailer.save()
    return trailer


def make_version(number, *, active=False):
    run = TrainingRun.objects.create(status=TrainingRun.Status.SUCCEEDED)
    version = ModelVersion(run=run, number=number, is_active=active)
    version.weights.save("w.pt", ContentFile(b"weights"), save=False)
    version.save()
    return version


def assert_rejected(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_one_rating_per_user_and_trailer(user):
    trailer = make_trailer()
    Rating.objects.create(user=user, trailer=trailer, score=7)
    assert_rejected(lambda: Rating.objects.create(user=user, trailer=trailer, score=3))
    assert Rating.objects.get(user=user, trailer=trailer).score == 7


@pytest.mark.parametrize("score", [0, 11, 100])
def test_rating_score_outside_1_to_10_is_rejected(user, score):
    trailer = make_trailer()
    assert_rejected(lambda: Rating.objects.create(user=user, trailer=trailer, score=score))


@pytest.mark.parametrize("score", [1, 10])
def test_rating_score_bounds_are_accepted(user, score):
    assert Rating.objects.create(user=user, trailer=make_trailer(), score=score).pk


def test_at_most_one_active_model_version():
    make_version(1, active=True)
    second = make_version(2)
    second.is_active = True
    assert_rejected(second.save)
    assert ModelVersion.objects.filter(is_active=True).count() == 1
    assert make_version(3).is_active is False


def test_one_prediction_per_version_and_trailer():
    trailer, version = make_trailer(), make_version(1)
    Prediction.objects.create(model_version=version, trailer=trailer, score=5.0)
    assert_rejected(lambda: Prediction.objects.create(model_version=version, trailer=trailer, score=6.0))


def test_one_subclip_per_trailer_and_index():
    trailer = make_trailer()
    Subclip.objects.create(trailer=trailer, index=0, start=0, duration=1, frames="x.npy", frame_count=4)
    assert_rejected(
        lambda: Subclip.objects.create(trailer=trailer, index=0, start=1, duration=1, frames="y.npy", frame_count=4)
    )


def test_duplicate_file_hash_is_rejected():
    make_trailer("one", sha="b" * 64)
    assert_rejected(lambda: make_trailer("two", sha="b" * 64))


def test_deleting_a_trailer_removes_its_files(django_capture_on_commit_callbacks):
    trailer = make_trailer()
    subclip = Subclip(trailer=trailer, index=0, start=0, duration=1, frame_count=4)
    subclip.frames.save("0.npy", ContentFile(b"frames"), save=False)
    subclip.contact_sheet.save("0.jpg", ContentFile(b"jpeg"), save=False)
    subclip.save()
    paths = [trailer.file.path, subclip.frames.path, subclip.contact_sheet.path]
    assert all(os.path.exists(p) for p in paths)
    with django_capture_on_commit_callbacks(execute=True):
        trailer.delete()
    assert not any(os.path.exists(p) for p in paths)
    assert not Subclip.objects.exists()
    # and no folder is left empty behind them; the media root itself stays
    for path in paths:
        folder = os.path.dirname(path)
        assert not os.path.isdir(folder) or os.listdir(folder), f"{folder} was left empty"
    assert os.path.isdir(settings.MEDIA_ROOT)
