"""Uploads refused whole, on every way in, with nothing of them kept: a video too short to sample (it used
to be stored, fail at preprocessing, and stay in the dataset to be rated), and one request with two files."""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from trailers.models import Trailer

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def too_short(tmp_path_factory):
    from ml.synth import generate_trailer

    folder = tmp_path_factory.mktemp("too-short")
    return generate_trailer(folder / "too_short_0.3s.mp4", seed=3, duration=0.3, fps=24, width=64, height=48).path


def stored_files() -> list[str]:
    root = settings.MEDIA_ROOT
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files if "trailers" in d]


def test_a_video_too_short_to_sample_is_refused_on_every_way_in(too_short, user_client, api, tmp_path):
    before = stored_files()
    page = user_client.post("/api/trailers/", {"file": SimpleUploadedFile("short.mp4", too_short.read_bytes())})
    assert page.status_code == 400 and page.json()["code"] == "too_short"
    assert "short.mp4 cannot be sampled: the video is too short: 0.29 s" in page.json()["detail"]
    assert "the minimum is 1 s" in page.json()["detail"]

    response = api.post("/api/trailers/", {"file": SimpleUploadedFile("short.mp4", too_short.read_bytes())},
                        format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "too_short"

    (tmp_path / "import").mkdir()
    (tmp_path / "import" / too_short.name).write_bytes(too_short.read_bytes())
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="No trailer was imported"):
        call_command("import_trailers", str(tmp_path / "import"), "--no-progress", stdout=out, stderr=err)
    assert "too_short_0.3s.mp4 cannot be sampled: the video is too short" in out.getvalue() + err.getvalue()

    assert not Trailer.objects.exists()
    assert stored_files() == before


def test_an_upload_with_two_file_parts_is_refused_not_half_kept(synthetic_video, other_synthetic_video, user_client,
                                                                 api):
    parts = [SimpleUploadedFile("a.mp4", synthetic_video.read_bytes()),
             SimpleUploadedFile("b.mp4", other_synthetic_video.read_bytes())]
    page = user_client.post("/api/trailers/", {"file": parts})
    assert page.status_code == 400 and page.json()["code"] == "several_files"
    assert "this one had 2 parts" in page.json()["detail"]
    for part in parts:
        part.seek(0)
    response = api.post("/api/trailers/", {"file": parts}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "several_files"
    assert not Trailer.objects.exists()


def test_uploads_left_behind_by_a_killed_web_process_are_deleted_and_a_read_only_media_root_still_takes_uploads(
        settings, tmp_path, caplog):
    """A web process killed mid-upload leaves its file in MEDIA_ROOT/incoming, which no sweep reaches (with an
    object store it is on the web machine only): the next upload deletes those older than ABANDONED_AFTER_SECONDS,
    and nothing newer, nor the folders beside them. A MEDIA_ROOT the web server cannot write keeps uploads working
    from the system's temporary folder, with an error in the log saying what to fix."""
    import os
    import time

    from trailers import uploads

    settings.MEDIA_ROOT = str(tmp_path / "media")
    incoming = tmp_path / "media" / "incoming"
    (incoming / "work").mkdir(parents=True)
    old, fresh = incoming / "tmpold.upload.mp4", incoming / "tmpfresh.upload.mp4"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    then = time.time() - uploads.ABANDONED_AFTER_SECONDS - 60
    os.utime(old, (then, then))
    uploads._looked_at = 0.0
    assert uploads.incoming_folder() == incoming
    assert sorted(p.name for p in incoming.iterdir()) == ["tmpfresh.upload.mp4", "work"]

    settings.MEDIA_ROOT = str(tmp_path / "read-only")
    (tmp_path / "read-only").mkdir(mode=0o500)
    if os.access(tmp_path / "read-only", os.W_OK):  # root writes anywhere: make the folder a file instead
        (tmp_path / "read-only").rmdir()
        (tmp_path / "read-only").write_bytes(b"")
    folder = uploads.incoming_folder()
    assert folder.name == "reelscore-incoming" and folder.is_dir()
    assert "uploads cannot wait in" in caplog.text and "make MEDIA_ROOT writable" in caplog.text
