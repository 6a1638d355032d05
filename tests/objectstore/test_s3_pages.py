"""The web process with media in a real S3 server: uploads go to the bucket (probed and checked for
duplicates before any row), pages play and download through presigned URLs that the store answers (Range
included), and /media/ stays for staff only."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from trailers.models import Trailer

pytestmark = pytest.mark.django_db


def upload(client, name: str, content: bytes):
    return client.post("/api/trailers/", {"file": SimpleUploadedFile(name, content, content_type="video/mp4")})


def fetch(url: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    """What a browser gets from the store for ``url`` (a presigned URL on 127.0.0.1)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the test's own server
            return response.status, response.read(), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, error.read(), {k.lower(): v for k, v in error.headers.items()}


@pytest.mark.parametrize("in_memory", [True, False], ids=["held-in-memory", "streamed-to-disk"])
def test_an_upload_goes_to_the_bucket_and_nothing_stays_on_the_web_machine(user_client, s3_settings, s3_server,
                                                                           s3_prefix, object_store_video, in_memory,
                                                                           monkeypatch):
    from trailers import uploads
    from trailers.services import ingest

    if not in_memory:
        s3_settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # Django writes the upload to a temporary file as it arrives
    waited = []  # where the upload waited while it was checked: MEDIA_ROOT/incoming, as the README says

    def incoming_folder(real=uploads.incoming_folder):
        waited.append(real())
        return waited[-1]
    for module in (uploads, ingest):
        monkeypatch.setattr(module, "incoming_folder", incoming_folder)
    content = object_store_video.read_bytes()
    response = upload(user_client, "Night Train.mp4", content)
    assert waited and set(waited) == {Path(s3_settings.MEDIA_ROOT) / "incoming"}
    assert response.status_code == 201, response.content
    trailer = Trailer.objects.get()
    assert trailer.title == "Night Train" and trailer.width == 64  # probed before the row was written
    assert s3_server.keys(s3_prefix) == [f"{s3_prefix}/{trailer.file.name}"]
    stored = s3_server.client().get_object(Bucket=s3_server.bucket, Key=f"{s3_prefix}/{trailer.file.name}")
    assert stored["Body"].read() == content and stored["ContentType"] == "video/mp4"
    left = [p for p in Path(s3_settings.MEDIA_ROOT).rglob("*") if p.is_file()] if Path(
        s3_settings.MEDIA_ROOT).exists() else []
    assert left == []


def test_refused_files_leave_nothing_in_the_bucket(user_client, s3_settings, s3_server, s3_prefix,
                                                   object_store_video):
    assert upload(user_client, "first.mp4", object_store_video.read_bytes()).status_code == 201
    before = s3_server.keys(s3_prefix)
    duplicate = upload(user_client, "again.mp4", object_store_video.read_bytes()).json()
    assert duplicate["code"] == "duplicate" and "already uploaded as “first”" in duplicate["detail"]
    text = upload(user_client, "notes.mp4", b"plain text, not a video" * 50).json()
    assert text["code"] == "not_a_video"
    assert s3_server.keys(s3_prefix) == before and Trailer.objects.count() == 1


def test_an_upload_while_the_store_is_down_is_refused_with_the_reason(user_client, s3_settings, s3_server,
                                                                      object_store_video):
    s3_server.stop()
    try:
        body = upload(user_client, "later.mp4", object_store_video.read_bytes()).json()
    finally:
        s3_server.start()
    assert body["code"] == "storage_unavailable" and "try again" in body["detail"]
    assert not Trailer.objects.exists()


def test_the_player_is_sent_to_a_presigned_url_that_answers_ranges(user_client, s3_settings, object_store_video):
    content = object_store_video.read_bytes()
    upload(user_client, "Night Train.mp4", content)
    trailer = Trailer.objects.get()
    response = user_client.get(f"/trailers/{trailer.pk}/video/")
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(s3_settings.STORAGES["default"]["OPTIONS"]["endpoint_url"]) and "X-Amz-Signature=" in url
    status, body, headers = fetch(url, {"Range": "bytes=100-1099"})
    assert status == 206 and body == content[100:1100]
    assert headers["content-range"] == f"bytes 100-1099/{len(content)}" and headers["content-type"] == "video/mp4"
    status, body, _ = fetch(url)
    assert status == 200 and body == content
    # The signature is checked: a URL someone changed is refused.
    assert fetch(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))[0] == 403


def test_the_original_downloads_under_its_name_from_the_store(user_client, s3_settings, object_store_video):
    upload(user_client, "Night Train.mp4", object_store_video.read_bytes())
    trailer = Trailer.objects.get()
    response = user_client.get(f"/trailers/{trailer.pk}/original/")
    assert response.status_code == 302
    status, _, headers = fetch(response["Location"], {"Range": "bytes=0-9"})
    assert status == 206
    assert headers["content-disposition"] == 'attachment; filename="Night Train.mp4"'


def test_files_need_a_login_and_media_is_for_staff_only(client, user_client, staff_user, s3_settings,
                                                        object_store_video):
    upload(user_client, "x.mp4", object_store_video.read_bytes())
    trailer = Trailer.objects.get()
    url = f"/media/{trailer.file.name}"
    assert user_client.get(url).status_code == 403  # logged in, not staff
    client.logout()
    anonymous = client.get(f"/trailers/{trailer.pk}/video/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    client.force_login(staff_user)
    response = client.get(url)
    assert response.status_code == 302 and "X-Amz-Signature=" in response["Location"]
    assert fetch(response["Location"])[0] == 200
    assert client.get("/media/trailers/not-there.mp4").status_code == 404
