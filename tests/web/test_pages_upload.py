"""The upload page, whose script sends each file to the API: a real video is accepted, and each refusal says why."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import StopUpload
from django.test import Client, RequestFactory

from trailers.models import Trailer
from trailers.uploads import TrailerSizeLimit

pytestmark = pytest.mark.django_db


def upload(client, name: str, content: bytes, **extra):
    return client.post("/api/trailers/", {"file": SimpleUploadedFile(name, content, content_type="video/mp4")},
                       **extra)


def test_page_has_a_drop_zone_a_file_button_and_the_limit(user_client, settings):
    settings.TRAILER_MAX_BYTES = 5 * 1024 * 1024
    html = user_client.get("/upload/").content.decode()
    assert 'id="dropzone"' in html and 'type="file"' in html and "multiple" in html
    assert 'data-endpoint="/api/trailers/"' in html and "5.0\xa0MB" in html
    assert "js/upload.js" in html


def test_a_real_video_becomes_a_queued_trailer(user_client, user, synthetic_video):
    response = upload(user_client, "My Trailer.mp4", synthetic_video.read_bytes())
    assert response.status_code == 201, response.content
    body = response.json()
    trailer = Trailer.objects.get()
    assert (body["id"], body["title"], body["status"]) == (trailer.pk, "My Trailer", "queued")
    assert body["page_url"].endswith(f"/trailers/{trailer.pk}/")
    followed = user_client.get(f"/api/trailers/{body['id']}/", HTTP_ACCEPT="application/json")
    assert followed.status_code == 200 and followed.json()["status"] == "queued"  # what the page's script reads
    assert trailer.uploaded_by == user and trailer.width == 64


@pytest.mark.parametrize(("content", "code", "reason"), [
    (b"this is plain text, not a video at all" * 10, "not_a_video", ""),
    (b"", "empty", "bad.mp4: the file is empty (0 bytes)."),
])
def test_refusals_say_why(user_client, content, code, reason):
    response = upload(user_client, "bad.mp4", content)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and body["detail"]
    assert reason in body["detail"]
    assert not Trailer.objects.exists()


def test_a_duplicate_names_the_trailer_it_duplicates(user_client, synthetic_video):
    first = upload(user_client, "one.mp4", synthetic_video.read_bytes()).json()
    body = upload(user_client, "again.mp4", synthetic_video.read_bytes()).json()
    assert body["code"] == "duplicate" and "already uploaded as “one”" in body["detail"]
    assert body["duplicate_of"] == first["id"]
    assert Trailer.objects.count() == 1


def test_too_large_is_refused_without_storing_it(user_client, settings):
    settings.TRAILER_MAX_BYTES = 100 * 1024
    response = upload(user_client, "huge.mp4", b"x" * (100 * 1024 + 1))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "too_large" and "too large" in body["detail"] and "100.0\xa0KB" in body["detail"]
    assert not Trailer.objects.exists()


def test_a_declared_length_past_the_limit_is_refused_before_reading_the_body(settings, user):
    settings.TRAILER_MAX_BYTES = 1000

    class Unreadable(io.RawIOBase):
        def read(self, *args):
            raise AssertionError("the body was read")

    request = RequestFactory().generic("POST", "/api/trailers/", b"--xyz--", content_type="multipart/form-data; boundary=xyz")
    request.META["CONTENT_LENGTH"] = str(10 * 1024 * 1024)
    request._stream = Unreadable()
    handler = TrailerSizeLimit(request, single_file=True)
    request.upload_handlers = [handler]
    assert request.FILES == {} and request.POST == {}
    assert request.too_large_uploads == [("", 10 * 1024 * 1024)]


def test_the_handler_stops_at_the_first_chunk_past_the_limit(settings, rf):
    settings.TRAILER_MAX_BYTES = 100
    request = rf.post("/")
    handler = TrailerSizeLimit(request, single_file=True)
    handler.new_file("file", "big.mp4", "video/mp4", None)
    assert handler.receive_data_chunk(b"x" * 60, 0) == b"x" * 60
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"x" * 60, 60)
    assert request.too_large_uploads == [("big.mp4", None)]


def test_upload_needs_login_and_csrf(client, user, synthetic_video):
    assert upload(client, "a.mp4", b"x").status_code == 401  # the API's answer to no login
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert upload(strict, "a.mp4", synthetic_video.read_bytes()).status_code == 403
    strict.get("/upload/")  # sets the CSRF cookie, as the page does
    token = strict.cookies["csrftoken"].value
    response = upload(strict, "a.mp4", synthetic_video.read_bytes(), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201


def test_plain_form_uploads_several_files_with_a_notice_each(user_client, synthetic_video, other_synthetic_video,
                                                             settings):
    settings.TRAILER_MAX_BYTES = 200 * 1024
    files = [SimpleUploadedFile("good.mp4", synthetic_video.read_bytes()),
             SimpleUploadedFile("notes.txt", b"hello, not a video" * 20),
             SimpleUploadedFile("too-big.mp4", b"y" * (200 * 1024 + 10)),
             SimpleUploadedFile("second.mp4", other_synthetic_video.read_bytes())]
    response = user_client.post("/upload/", {"files": files}, follow=True)
    html = response.content.decode()
    assert "good.mp4 was uploaded as “good”" in html
    assert "second.mp4 was uploaded as “second”" in html
    assert "notes.txt was refused" in html
    assert "too-big.mp4 was refused: The file is too large" in html
    assert sorted(Trailer.objects.values_list("title", flat=True)) == ["good", "second"]


def test_plain_form_without_files_says_so(user_client):
    response = user_client.post("/upload/", {}, follow=True)
    assert "Choose at least one trailer file" in response.content.decode()


def test_page_uploads_share_the_api_upload_limit(user_client, user, synthetic_video, other_synthetic_video,
                                                 settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"uploads": "3/hour", "ratings": "600/hour"}}
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    assert api.post("/api/trailers/", {"file": SimpleUploadedFile("api.mp4", b"nope")},
                    format="multipart").status_code == 400  # refused, but it counts
    assert upload(user_client, "one.mp4", synthetic_video.read_bytes()).status_code == 201
    files = [SimpleUploadedFile("two.mp4", other_synthetic_video.read_bytes()),
             SimpleUploadedFile("three.mp4", b"would be refused anyway")]
    html = user_client.post("/upload/", {"files": files}, follow=True).content.decode()
    assert "two.mp4 was uploaded" in html
    assert "three.mp4 was refused: You have reached the upload limit of 3 files per hour; try again in" in html

    response = upload(user_client, "four.mp4", b"x")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled" and "minutes" in response.json()["detail"]
    assert "You have reached the upload limit of 3 files per hour" in response.json()["detail"]
    assert sorted(Trailer.objects.values_list("title", flat=True)) == ["one", "two"]
    assert api.post("/api/trailers/", {"file": SimpleUploadedFile("five.mp4", b"x")},
                    format="multipart").status_code == 429


@pytest.mark.parametrize("size", [400_000, 3_000_000])  # copied from memory; streamed to disk as it arrives
def test_a_full_disk_is_said_as_such_and_nothing_is_kept(user_client, full_disk, size):
    """On a 256 KB disk. With the disk full the upload page's script got a server error page, and the reason was only in the log."""
    response = upload(user_client, "big.mp4", bytes(size))
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "no_space" and body["detail"].startswith("The server has no room to store this just now")
    assert not Trailer.objects.exists()
    assert not [p for p in (full_disk.root / "incoming").glob("*") if p.stat().st_size]  # no partial copy left
    # The plain form (no script): the page says why, of this file as it would of each of a batch (or, where the
    # request itself could not be written down, on a page of its own).
    page = user_client.post("/upload/", {"files": SimpleUploadedFile("big.mp4", bytes(size))}, follow=True)
    assert "The server has no room to store this just now" in page.content.decode()
    assert not Trailer.objects.exists()


def test_a_batch_that_fills_the_disk_keeps_and_says_the_files_stored_before(user_client, full_disk, synthetic_video):
    """The plain form's batch: the first file went in, the second found the disk full, and the whole page said
    "nothing was saved"."""
    files = [SimpleUploadedFile("fits.mp4", synthetic_video.read_bytes()), SimpleUploadedFile("big.mp4", bytes(400_000))]
    page = user_client.post("/upload/", {"files": files}, follow=True).content.decode()
    assert list(Trailer.objects.values_list("original_name", flat=True)) == ["fits.mp4"]
    assert "fits.mp4 was uploaded as “fits”" in page
    assert "big.mp4" in page and "The server has no room to store this just now" in page
