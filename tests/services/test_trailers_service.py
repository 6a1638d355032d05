"""One's own uploads through the trailers service, called directly: rename (a title another trailer has gets the
file's kind), delete (with ratings, subclips, predictions and files; refused with TrailerBusy while a worker
processes it), and try a failed one again."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from tests.support.broker import broker_messages
from trailers.errors import ServiceError
from trailers.models import Prediction, Rating, Subclip, Trailer
from trailers.services import rate_trailer
from trailers.services.trailers import TrailerBusy, delete_trailer, distinct_title, rename_trailer, retry_trailer

pytestmark = pytest.mark.django_db


def test_a_rename_drops_surrounding_spaces_and_keeps_titles_apart(make_trailer):
    make_trailer(title="Night Train")
    trailer = make_trailer(title="Upload")
    trailer.original_name = "night.webm"
    trailer.save()
    assert rename_trailer(trailer=trailer, title="  Harbour  ").title == "Harbour"
    assert rename_trailer(trailer=trailer, title="Night Train").title == "Night Train (webm)"
    assert rename_trailer(trailer=trailer, title="Night Train (webm)").title == "Night Train (webm)"  # its own
    trailer.refresh_from_db()
    assert trailer.title == "Night Train (webm)"


@pytest.mark.parametrize(("title", "words"), [
    ("   ", "A title cannot be empty."), ("x" * 256, "A title is at most 255 characters; this one has 256."),
])
def test_a_title_that_cannot_be_one_is_refused_on_its_field(make_trailer, title, words):
    trailer = make_trailer(title="Kept")
    with pytest.raises(ValidationError) as caught:
        rename_trailer(trailer=trailer, title=title)
    assert caught.value.message_dict == {"title": [words]}
    trailer.refresh_from_db()
    assert trailer.title == "Kept"


def test_same_named_files_get_the_files_kind_then_a_number(make_trailer):
    titles = []
    for name in ("good.mp4", "good.mkv", "good.webm", "good.mkv", "good"):
        titles.append(distinct_title("good", name))
        make_trailer(title=titles[-1])
    assert titles == ["good", "good (mkv)", "good (webm)", "good (mkv 2)", "good (file)"]


def test_a_deleted_trailer_takes_its_rows_and_files_with_it_once_committed(user, make_trailer, make_version,
                                                                           make_prediction,
                                                                           django_capture_on_commit_callbacks):
    trailer, kept = make_trailer(), make_trailer()
    rate_trailer(user=user, trailer=trailer, score=6)
    make_prediction(make_version(number=1), trailer, 6.0)
    files = [trailer.file.name] + [name for s in trailer.subclips.all() for name in (s.frames.name,
                                                                                    s.contact_sheet.name)]
    assert all(default_storage.exists(name) for name in files)
    with django_capture_on_commit_callbacks(execute=True):
        delete_trailer(trailer=trailer)
    assert list(Trailer.objects.all()) == [kept]
    assert not Rating.objects.exists() and not Prediction.objects.exists()
    assert set(Subclip.objects.values_list("trailer", flat=True)) == {kept.pk}
    assert not any(default_storage.exists(name) for name in files)
    assert default_storage.exists(kept.file.name)
    delete_trailer(trailer=trailer)  # gone already: nothing to do, no error


def test_a_trailer_being_processed_is_not_deleted_and_the_error_says_to_wait(make_trailer):
    trailer = make_trailer(title="Busy", status=Trailer.Status.PROCESSING)
    with pytest.raises(TrailerBusy) as caught:
        delete_trailer(trailer=trailer)
    error = caught.value
    assert isinstance(error, ServiceError) and (error.code, error.status) == ("busy", 409)
    assert error.message == "“Busy” is being processed right now: delete it once it is ready or has failed."
    assert Trailer.objects.filter(pk=trailer.pk).exists() and trailer.subclips.count() == 2


def test_only_a_failed_trailer_is_tried_again_and_it_goes_back_to_the_queue(make_trailer,
                                                                           django_capture_on_commit_callbacks):
    broker_messages()
    ready = make_trailer()
    failed = make_trailer(status=Trailer.Status.FAILED, error="could not decode", enqueued=False)
    with pytest.raises(ServiceError, match="has not failed: there is nothing to try again") as refused:
        retry_trailer(trailer=ready)
    assert (refused.value.code, refused.value.status) == ("not_failed", 409)
    with django_capture_on_commit_callbacks(execute=True):
        retry_trailer(trailer=failed)
    failed.refresh_from_db()
    assert (failed.status, failed.error) == (Trailer.Status.QUEUED, "")
    assert failed.enqueued_at is not None
    assert broker_messages() == [("trailers.tasks.preprocess_trailer_task", [failed.pk])]
    ready.refresh_from_db()
    assert ready.status == Trailer.Status.READY


@pytest.mark.django_db(transaction=True)  # its heartbeat writes from a thread of its own, as on a worker
def test_preprocessing_on_a_full_disk_says_so_and_names_the_file(full_disk, tmp_path):
    """The trailer said "Preprocessing failed unexpectedly: [Errno None] 1204224 requested and 458624 written:
    '/srv/…/incoming/work/trailer-18…/1.npy'": neither that the disk was full, nor which file, and a path on the
    worker. Nothing it wrote is left."""
    from ml.synth import generate_trailer
    from trailers.services import ingest_trailer, preprocess_trailer

    video = generate_trailer(tmp_path / "t.mp4", seed=3, duration=4.0, fps=12, width=64, height=48)
    trailer = ingest_trailer(source=video.path, original_name="Harbour Lights.mp4")
    full_disk.fill(leave=2048)
    before = sorted(p for p in full_disk.root.rglob("*") if p.is_file())
    trailer = preprocess_trailer(trailer_id=trailer.pk)
    assert trailer.status == Trailer.Status.FAILED
    assert trailer.error.startswith("Harbour Lights.mp4: the worker ran out of disk space while writing its frames"), \
        trailer.error
    assert str(full_disk.root) not in trailer.error and "requested and" not in trailer.error
    assert sorted(p for p in full_disk.root.rglob("*") if p.is_file()) == before


@pytest.mark.django_db(transaction=True)
def test_a_video_stored_under_no_videos_suffix_gets_a_copy_browsers_play(tmp_path, settings):
    """An MP4 uploaded as clip.html is stored without a suffix and served as bytes to download, which Chrome sniffs
    and plays but not every browser: it gets the MP4 copy a format browsers cannot play gets."""
    from ml.synth import generate_trailer
    from trailers.services import ingest_trailer, preprocess_trailer

    settings.BROWSER_COPIES = True
    video = generate_trailer(tmp_path / "t.mp4", seed=5, duration=3.0, fps=12, width=64, height=48)
    named_well = preprocess_trailer(trailer_id=ingest_trailer(source=video.path, original_name="clip.mp4").pk)
    assert named_well.status == Trailer.Status.READY and not named_well.browser_copy  # H.264 in MP4: played as it is
    other = generate_trailer(tmp_path / "u.mp4", seed=6, duration=3.0, fps=12, width=64, height=48)
    odd = preprocess_trailer(trailer_id=ingest_trailer(source=other.path, original_name="clip.html").pk)
    assert odd.status == Trailer.Status.READY and "." not in odd.file.name.rsplit("/", 1)[1]
    assert odd.browser_copy and odd.browser_copy.name.endswith(".mp4")
