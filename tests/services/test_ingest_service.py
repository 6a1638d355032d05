"""The ingest service called directly: a file becomes a queued trailer, stored and probed, with preprocessing sent
once the row is committed; every refusal is an IngestError (a ServiceError) with its code, and keeps nothing."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from tests.support.broker import broker_messages
from trailers.errors import ServiceError
from trailers.models import Trailer
from trailers.services import IngestError, ingest_trailer, set_reference_score

pytestmark = pytest.mark.django_db


def stored_trailer_files() -> list[str]:
    root = settings.MEDIA_ROOT
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files if "trailers" in d)


def incoming_copies() -> set[Path]:
    """The copies of uploads being probed (beside the media, so an accepted one is moved into place)."""
    incoming = Path(settings.MEDIA_ROOT) / "incoming"
    return set(incoming.iterdir()) if incoming.exists() else set()


def refusal(**kwargs) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_trailer(**kwargs)
    return caught.value


@pytest.fixture(scope="module")
def too_short(tmp_path_factory):
    from ml.synth import generate_trailer

    folder = tmp_path_factory.mktemp("service-too-short")
    return generate_trailer(folder / "brief.mp4", seed=3, duration=0.3, fps=24, width=64, height=48).path


def test_a_video_becomes_a_queued_trailer_stored_probed_and_sent_to_preprocessing_after_commit(
        synthetic_video, user, django_capture_on_commit_callbacks):
    broker_messages()  # whatever earlier tests left
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        trailer = ingest_trailer(source=synthetic_video, original_name="Harbour Lights.mp4", user=user,
                                 reference_score=7.5)
    assert len(callbacks) == 1
    trailer.refresh_from_db()
    assert (trailer.title, trailer.original_name, trailer.uploaded_by, trailer.reference_score) == (
        "Harbour Lights", "Harbour Lights.mp4", user, 7.5)
    assert trailer.sha256 == hashlib.sha256(synthetic_video.read_bytes()).hexdigest()
    assert trailer.size_bytes == synthetic_video.stat().st_size
    assert (trailer.width, trailer.height, trailer.codec) == (64, 48, "h264")
    assert trailer.duration == pytest.approx(4.0, abs=0.1)
    with default_storage.open(trailer.file.name) as stored:
        assert stored.read() == synthetic_video.read_bytes()
    assert trailer.status == Trailer.Status.QUEUED and trailer.enqueued_at is not None  # handed to the broker
    assert broker_messages() == [("trailers.tasks.preprocess_trailer_task", [trailer.pk])]


def test_an_open_file_is_taken_as_an_upload_and_a_taken_title_gets_the_files_kind(synthetic_video, make_trailer):
    make_trailer(title="good")
    with open(synthetic_video, "rb") as upload:
        trailer = ingest_trailer(source=upload, original_name="good.mkv")
    assert trailer.title == "good (mkv)"
    assert trailer.uploaded_by is None


def test_the_same_file_twice_is_a_duplicate_naming_the_first(synthetic_video):
    first = ingest_trailer(source=synthetic_video, original_name="first.mp4")
    files = stored_trailer_files()
    error = refusal(source=synthetic_video, original_name="again.mp4")
    assert isinstance(error, ServiceError)
    assert (error.code, error.status, error.field) == ("duplicate", 400, "file")
    assert error.duplicate_of == first and error.details() == {"duplicate_of": first.pk}
    assert error.message == f"This file was already uploaded as “first” (trailer #{first.pk})."
    assert Trailer.objects.count() == 1 and stored_trailer_files() == files


@pytest.mark.parametrize(("content", "code", "words"), [
    (b"", "empty", "notes.mp4: the file is empty (0 bytes)."),
    (b"this is no video at all " * 40, "not_a_video", "notes.mp4"),
])
def test_what_is_no_trailer_is_refused_with_its_code_and_nothing_is_kept(content, code, words):
    files, copies = stored_trailer_files(), incoming_copies()
    error = refusal(source=io.BytesIO(content), original_name="notes.mp4")
    assert error.code == code and error.status == 400
    assert words in error.message
    assert "tmp" not in error.message  # the probe read a temporary copy: people know the file by its own name
    assert not Trailer.objects.exists() and stored_trailer_files() == files
    assert incoming_copies() == copies  # the copy it probed is gone too


def test_a_video_too_short_to_sample_is_refused(too_short):
    error = refusal(source=too_short, original_name="brief.mp4")
    assert error.code == "too_short"
    assert error.message.startswith("brief.mp4 cannot be sampled: the video is too short")
    assert not Trailer.objects.exists()


def test_a_file_over_the_limit_is_refused_before_and_while_it_is_read(synthetic_video, settings):
    settings.TRAILER_MAX_BYTES = 1000
    told = refusal(source=io.BytesIO(b"x" * 5000), original_name="big.mp4", size=5000)
    assert told.code == "too_large" and told.message == "The file is too large: 4.9\xa0KB, and the limit is 1000\xa0bytes."
    streamed = refusal(source=io.BytesIO(b"x" * 5000), original_name="big.mp4")  # no size given: counted as read
    assert streamed.code == "too_large"
    from_disk = refusal(source=synthetic_video, original_name="big.mp4")
    assert from_disk.code == "too_large"
    assert not Trailer.objects.exists()


@pytest.mark.parametrize("score", [-0.5, 10.5])
def test_a_reference_score_outside_0_to_10_is_refused(synthetic_video, score):
    error = refusal(source=synthetic_video, original_name="a.mp4", reference_score=score)
    assert error.code == "invalid_score" and error.message == f"The reference score {score} is outside 0–10."
    assert not Trailer.objects.exists()


def test_a_reference_score_set_later_says_whether_it_changed(make_trailer):
    trailer = make_trailer(reference_score=None)
    assert set_reference_score(trailer=trailer, score=6.5) is True
    assert set_reference_score(trailer=trailer, score=6.5) is False
    trailer.refresh_from_db()
    assert trailer.reference_score == 6.5
    with pytest.raises(IngestError) as caught:
        set_reference_score(trailer=trailer, score=11)
    assert caught.value.code == "invalid_score"
    trailer.refresh_from_db()
    assert trailer.reference_score == 6.5


@pytest.mark.django_db(transaction=True)  # each upload in a thread and a connection of its own
def test_files_of_one_name_uploaded_at_the_same_moment_each_get_their_own_title(tmp_path):
    """The upload page sends every chosen file at once: good.mp4, good.mkv, good.webm and good.mov each asked
    which titles were taken before any was saved, and all got "good"."""
    from ml.synth import generate_trailer
    from tests.support.together import run_together

    videos = [generate_trailer(tmp_path / f"good{suffix}", seed=40 + i, duration=1.2, fps=12, width=64,
                               height=48).path for i, suffix in enumerate((".mp4", ".mkv", ".webm", ".mov"))]
    run_together([lambda video=video: ingest_trailer(source=video, original_name=video.name) for video in videos])
    titles = sorted(Trailer.objects.values_list("title", flat=True))
    assert len(set(titles)) == 4 and "good" in titles, titles
    assert {t for t in titles if t != "good"} <= {"good (mkv)", "good (webm)", "good (mov)", "good (mp4)"}
