"""One's own uploads: rename and delete (the uploader, or staff with the permission), retry a failed one;
same-named files get titles people can tell apart."""

from __future__ import annotations

from html import unescape

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from trailers.models import Prediction, Rating, Subclip, Trailer
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


def test_the_uploader_renames_and_deletes_with_files_and_predictions(user_client, user, other_user, make_trailer,
                                                                     make_version, make_prediction,
                                                                     django_capture_on_commit_callbacks):
    trailer = make_trailer(title="good", uploaded_by=user)
    make_prediction(make_version(number=1, active=True), trailer, 6.0)
    rate_trailer(user=other_user, trailer=trailer, score=4)
    files = [trailer.file.name] + [name for s in trailer.subclips.all() for name in (s.frames.name, s.contact_sheet.name)]
    assert all(default_storage.exists(name) for name in files)
    html = user_client.get(f"/trailers/{trailer.pk}/").content.decode()
    assert "<h2>Your upload</h2>" in html and 'id="delete-trailer"' in html
    assert "hx-confirm=\"Delete “good”? Its file, frames, ratings and predictions go with it" in html

    response = user_client.post(f"/trailers/{trailer.pk}/rename/", {"title": "  Good, cut 2  "}, follow=True)
    assert "Renamed “good” to “Good, cut 2”." in unescape(response.content.decode())
    trailer.refresh_from_db()
    assert trailer.title == "Good, cut 2"
    response = user_client.post(f"/trailers/{trailer.pk}/rename/", {"title": "   "}, follow=True)
    assert "A title cannot be empty." in response.content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # the files go once the deletion commits
        response = user_client.post(f"/trailers/{trailer.pk}/delete/", follow=True)
    assert "“Good, cut 2” was deleted, with its file, frames, ratings and predictions." in response.content.decode()
    assert not Trailer.objects.exists() and not Prediction.objects.exists() and not Subclip.objects.exists()
    assert not Rating.objects.exists()
    assert not any(default_storage.exists(name) for name in files)


def test_others_may_not_but_staff_with_the_permission_may(user_client, client, other_user, staff_user, make_trailer):
    trailer = make_trailer(title="Theirs", uploaded_by=other_user)
    assert 'id="manage-trailer"' not in user_client.get(f"/trailers/{trailer.pk}/").content.decode()
    assert user_client.post(f"/trailers/{trailer.pk}/rename/", {"title": "Mine now"}).status_code == 403
    assert user_client.post(f"/trailers/{trailer.pk}/delete/").status_code == 403
    client.force_login(staff_user)
    assert "<h2>Manage this trailer</h2>" in client.get(f"/trailers/{trailer.pk}/").content.decode()
    client.post(f"/trailers/{trailer.pk}/rename/", {"title": "Renamed by staff"})
    assert Trailer.objects.get().title == "Renamed by staff"


def test_a_trailer_being_processed_is_not_deleted(user_client, user, make_trailer):
    trailer = make_trailer(uploaded_by=user, status=Trailer.Status.PROCESSING)
    response = user_client.post(f"/trailers/{trailer.pk}/delete/", follow=True)
    assert "is being processed right now: delete it once it is ready or has failed." in unescape(
        response.content.decode())
    assert Trailer.objects.filter(pk=trailer.pk).exists()


def test_a_failed_trailer_can_be_tried_again(user_client, user, make_trailer):
    trailer = make_trailer(uploaded_by=user, status=Trailer.Status.FAILED, subclips=0, error="decoder gave up")
    html = user_client.get(f"/trailers/{trailer.pk}/").content.decode()
    assert 'id="retry"' in html
    response = user_client.post(f"/trailers/{trailer.pk}/retry/", follow=True)
    assert "is queued to be processed again." in unescape(response.content.decode())
    trailer.refresh_from_db()
    assert trailer.status == Trailer.Status.QUEUED and trailer.error == ""
    # It fails again while the page polls: the part that follows processing offers the retry again, no reload.
    Trailer.objects.filter(pk=trailer.pk).update(status=Trailer.Status.FAILED, error="decoder gave up again")
    live = user_client.get(f"/trailers/{trailer.pk}/live/", HTTP_HX_REQUEST="true").content.decode()
    assert "decoder gave up again" in live and 'id="retry"' in live
    ready = make_trailer(uploaded_by=user)
    assert 'id="retry"' not in user_client.get(f"/trailers/{ready.pk}/").content.decode()
    assert "has not failed" in unescape(user_client.post(f"/trailers/{ready.pk}/retry/", follow=True)
                                        .content.decode())


def test_same_named_files_get_titles_people_can_tell_apart(user_client, synthetic_video, tmp_path):
    from ml.synth import generate_trailer

    names = []
    for seed, suffix in enumerate([".mp4", ".mkv", ".webm", ".mkv"]):
        path = generate_trailer(tmp_path / f"good{seed}{suffix}", seed=50 + seed, duration=2.0, fps=12, width=64,
                                height=48).path
        response = user_client.post("/api/trailers/", {"file": SimpleUploadedFile(f"good{suffix}", path.read_bytes())})
        assert response.status_code == 201, response.content
        names.append(response.json()["title"])
    assert names == ["good", "good (mkv)", "good (webm)", "good (mkv 2)"]
