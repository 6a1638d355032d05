"""The trailer page: player (with range requests), live status, subclips, my rating, distribution, predictions."""

from __future__ import annotations

import os
import re

import pytest
from django.core.files.base import ContentFile

from trailers.models import Rating, Trailer
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


def test_page_shows_player_subclips_distribution_and_predictions(user_client, user, other_user, make_trailer,
                                                                 make_version, make_prediction):
    trailer = make_trailer(title="Harbour Lights", reference_score=7.0)
    rate_trailer(user=other_user, trailer=trailer, score=4)
    rate_trailer(user=user, trailer=trailer, score=8)
    old, active = make_version(number=1), make_version(number=2, active=True)
    make_prediction(old, trailer, 5.5, [5.0, 6.0])
    make_prediction(active, trailer, 6.75, [6.5, 7.0])
    html = user_client.get(f"/trailers/{trailer.pk}/").content.decode()

    assert f'<video class="player" controls preload="metadata" src="/trailers/{trailer.pk}/video/"' in html
    assert f'href="/trailers/{trailer.pk}/original/">Download the original file</a>' in html
    subclips = list(trailer.subclips.order_by("index"))
    assert f"/subclips/{subclips[0].pk}/sheet.jpg" in html
    assert "Subclip 1: 0:00.5–0:02.0" in html and "Subclip 2: 0:02.0–0:03.5" in html
    assert "6.00</span> mean of 2 ratings" in html
    assert 'aria-pressed="true">8</button>' in html and "You rated it 8/10." in html
    # Predictions by version, newest first, with per-subclip scores.
    shown = re.findall(r'<div class="prediction[^"]*">\s*<h3>(v\d+)', html)  # (a nonce in the head may hold "v1")
    assert shown == ["v2", "v1"]
    assert "6.75" in html and "subclip 1 (0:00.5–0:02.0): <strong>6.50</strong>" in html
    assert "subclip 2 (0:02.0–0:03.5): <strong>6.00</strong>" in html
    # Other users' individual ratings are not on the page: only the counts per score.
    assert "bob" not in html


@pytest.mark.parametrize(("status", "polls"), [("queued", True), ("processing", True), ("ready", False),
                                               ("failed", False)])
def test_status_part_polls_only_while_processing(user_client, make_trailer, status, polls):
    trailer = make_trailer(status=status, subclips=0 if status != "ready" else 2, error="no video stream" if
                           status == "failed" else "")
    live = user_client.get(f"/trailers/{trailer.pk}/live/", HTTP_HX_REQUEST="true").content.decode()
    assert live.lstrip().startswith("{#") is False and 'id="trailer-live"' in live
    assert ('hx-trigger="every 1s"' in live) is polls
    assert f'data-status="{status}"' in live
    if status == "failed":
        assert "Processing failed: no video stream" in live


def test_status_part_follows_the_row(user_client, make_trailer, settings):
    settings.PROCESSING_TIME_LIMIT_SECONDS, settings.PROCESSING_TIME_PER_VIDEO_SECOND = 600, 2.0
    settings.PROCESSING_MAX_ATTEMPTS = 3
    trailer = make_trailer(status=Trailer.Status.PROCESSING, subclips=0, duration=120.0)
    Trailer.objects.filter(pk=trailer.pk).update(processing_attempts=1)
    live = user_client.get(f"/trailers/{trailer.pk}/live/").content.decode()
    assert ("Processing: cutting subclips and sampling frames. It is stopped if it takes longer than 14 min."
            in live)
    Trailer.objects.filter(pk=trailer.pk).update(processing_attempts=2)  # its first worker died
    live = user_client.get(f"/trailers/{trailer.pk}/live/").content.decode()
    assert "sampling frames (attempt 2 of 3: the last one’s worker stopped without finishing)." in live
    Trailer.objects.filter(pk=trailer.pk).update(status=Trailer.Status.READY)
    live = user_client.get(f"/trailers/{trailer.pk}/live/").content.decode()
    assert "hx-trigger" not in live and 'data-status="ready"' in live


def test_waiting_for_the_queue_is_explained(user_client, make_trailer):
    trailer = make_trailer(status=Trailer.Status.QUEUED, subclips=0, enqueued=False)
    html = user_client.get(f"/trailers/{trailer.pk}/").content.decode()
    assert "waiting for the queue (the broker is unreachable; it will be processed when it is back)" in html.lower()


def test_rating_with_htmx_saves_and_returns_the_block(user_client, user, make_trailer):
    trailer = make_trailer()
    response = user_client.post(f"/trailers/{trailer.pk}/rating/", {"score": "7"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert Rating.objects.get(user=user, trailer=trailer).score == 7
    assert 'id="my-rating"' in html and "You rated it 7/10." in html
    assert 'id="distribution" hx-swap-oob="true"' in html and "7.00</span> mean of 1 rating" in html
    assert 'id="messages" class="messages" role="status" aria-live="polite" hx-swap-oob="innerHTML"' in html and "Saved: you rated" in html  # the notice, in place
    # Rating again changes it; removing it removes it.
    user_client.post(f"/trailers/{trailer.pk}/rating/", {"score": "3"}, HTTP_HX_REQUEST="true")
    assert Rating.objects.get(user=user, trailer=trailer).score == 3
    html = user_client.post(f"/trailers/{trailer.pk}/rating/", {"clear": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert not Rating.objects.filter(user=user).exists() and "rating of" in html and "was removed" in html


@pytest.mark.parametrize("score", ["0", "11", "abc", "", "7.5"])
def test_bad_ratings_are_refused_with_a_notice(user_client, user, make_trailer, score):
    trailer = make_trailer()
    response = user_client.post(f"/trailers/{trailer.pk}/rating/", {"score": score}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "A rating is a whole number from 1 to 10" in response.content.decode()
    assert not Rating.objects.exists()


def test_rating_without_htmx_redirects_back_with_a_notice(user_client, make_trailer):
    trailer = make_trailer(title="Plain")
    response = user_client.post(f"/trailers/{trailer.pk}/rating/", {"score": "9"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/trailers/{trailer.pk}/"
    assert "Saved: you rated “Plain” 9/10." in response.content.decode()


def test_unknown_trailer_is_404(user_client):
    assert user_client.get("/trailers/999999/").status_code == 404
    assert user_client.post("/trailers/999999/rating/", {"score": 5}).status_code == 404
    assert user_client.get("/trailers/999999/video/").status_code == 404


# --- the video, served with range requests ---------------------------------------------------------------


def test_video_whole_file(user_client, make_trailer):
    content = bytes(range(256)) * 40
    trailer = make_trailer(content=content)
    response = user_client.get(f"/trailers/{trailer.pk}/video/")
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes" and response["Content-Length"] == str(len(content))
    assert response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == content


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-99", 0, 99), ("bytes=100-", 100, 10239), ("bytes=-50", 10190, 10239), ("bytes=10000-99999", 10000, 10239),
])
def test_video_ranges(user_client, make_trailer, header, first, last):
    content = bytes(range(256)) * 40  # 10,240 bytes
    trailer = make_trailer(content=content)
    response = user_client.get(f"/trailers/{trailer.pk}/video/", HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(content)}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert b"".join(response.streaming_content) == content[first:last + 1]


def test_video_unsatisfiable_and_ignored_ranges(user_client, make_trailer):
    trailer = make_trailer(content=b"z" * 1000)
    response = user_client.get(f"/trailers/{trailer.pk}/video/", HTTP_RANGE="bytes=5000-")
    assert response.status_code == 416 and response["Content-Range"] == "bytes */1000"
    for header in ("bytes=0-1,5-9", "pages=1-2", "bytes=9-2"):
        assert user_client.get(f"/trailers/{trailer.pk}/video/", HTTP_RANGE=header).status_code == 200


def test_files_need_login(client, make_trailer):
    trailer = make_trailer()
    subclip = trailer.subclips.first()
    for url in (f"/trailers/{trailer.pk}/video/", f"/subclips/{subclip.pk}/sheet.jpg",
                f"/trailers/{trailer.pk}/thumbnail.jpg"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_contact_sheet_and_thumbnail(user_client, make_trailer):
    trailer = make_trailer()
    subclip = trailer.subclips.order_by("index").first()
    for url in (f"/subclips/{subclip.pk}/sheet.jpg", f"/trailers/{trailer.pk}/thumbnail.jpg"):
        response = user_client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    no_sheet = make_trailer(status=Trailer.Status.QUEUED, subclips=0)
    assert user_client.get(f"/trailers/{no_sheet.pk}/thumbnail.jpg").status_code == 404


def test_stored_files_are_for_staff_only(user_client, staff_user, make_trailer):
    from django.test import Client

    trailer = make_trailer(content=b"staff only" * 10)
    url = trailer.file.url
    assert url.startswith("/media/trailers/")
    assert Client().get(url).status_code == 302  # anonymous: to the login page
    assert user_client.get(url).status_code == 403
    user_client.force_login(staff_user)
    response = user_client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"staff only" * 10
    assert user_client.get(url, HTTP_RANGE="bytes=0-4")["Content-Range"] == "bytes 0-4/100"
    for bad in ("/media/../config/settings.py", "/media/%2e%2e/%2e%2e/etc/passwd", "/media/nothing-here.mp4",
                "/media/trailers/"):
        assert user_client.get(bad).status_code == 404, bad


@pytest.mark.parametrize("name", ["page.html", "picture.svg", "page.HTM", "noext"])
def test_a_stored_file_whose_suffix_an_uploader_chose_is_bytes_to_download(user_client, staff_user, make_trailer,
                                                                           name):
    # Files stored before stored names kept only a video's suffix, and the staff's /media/ links, follow the same
    # rule: a type only for the suffixes of videos and pictures, and never a page that runs anything.
    trailer = make_trailer()
    trailer.file.save(name, ContentFile(b"<script>alert(1)</script>"))
    user_client.force_login(staff_user)
    for url in (f"/trailers/{trailer.pk}/video/", trailer.file.url):
        response = user_client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "application/octet-stream", url
        assert response["Content-Security-Policy"] == "sandbox", url


def test_every_video_suffix_is_served_as_a_video():
    from ml.markup import VIDEO_SUFFIXES
    from trailers.store import served_type

    assert {suffix: served_type(f"trailers/x{suffix.upper()}").split("/")[0] for suffix in VIDEO_SUFFIXES} == {
        suffix: "video" for suffix in VIDEO_SUFFIXES}
    assert served_type("sheets/1.jpg") == "image/jpeg"


def test_the_player_gets_the_browser_copy_and_the_original_downloads_under_its_name(user_client, make_trailer):
    trailer = make_trailer(title="Odd format", content=b"the uploaded avi" * 100)
    response = user_client.get(f"/trailers/{trailer.pk}/video/")
    assert b"".join(response.streaming_content) == b"the uploaded avi" * 100  # no copy: the file itself
    trailer.browser_copy.save("browser.mp4", ContentFile(b"a playable mp4" * 50))
    response = user_client.get(f"/trailers/{trailer.pk}/video/")
    assert response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == b"a playable mp4" * 50
    original = user_client.get(f"/trailers/{trailer.pk}/original/")
    assert original["Content-Disposition"] == 'attachment; filename="Odd format.mp4"'
    assert b"".join(original.streaming_content) == b"the uploaded avi" * 100
    page = user_client.get(f"/trailers/{trailer.pk}/").content.decode()
    assert "This browser cannot play this trailer's format" in page  # shown only if the player fails


def test_deleting_a_trailer_deletes_its_browser_copy(make_trailer, django_capture_on_commit_callbacks):
    trailer = make_trailer()
    trailer.browser_copy.save("browser.mp4", ContentFile(b"copy"))
    path = trailer.browser_copy.path
    with django_capture_on_commit_callbacks(execute=True):
        trailer.delete()
    assert not os.path.exists(path)


def test_the_container_is_named_as_people_know_it(user_client, make_trailer):
    trailer = make_trailer()
    Trailer.objects.filter(pk=trailer.pk).update(container="mov,mp4,m4a,3gp,3g2,mj2", codec="h264")
    html = user_client.get(f"/trailers/{trailer.pk}/").content.decode()
    assert "h264 in MP4/MOV" in html and "3gp" not in html


def test_contact_sheets_are_cached_and_revalidated_without_reading_the_file(user_client, make_trailer):
    """The dataset page shows 50 thumbnails: the browser keeps them, and asks again with their ETag only."""
    trailer = make_trailer()
    first = user_client.get(f"/trailers/{trailer.pk}/thumbnail.jpg")
    assert first.status_code == 200 and "max-age=604800" in first["Cache-Control"]
    assert first["Cache-Control"].startswith("private")  # behind a login: no shared cache keeps it
    etag = first["ETag"]
    again = user_client.get(f"/trailers/{trailer.pk}/thumbnail.jpg", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and not again.content
    subclip = trailer.subclips.order_by("index").first()
    assert user_client.get(f"/subclips/{subclip.pk}/sheet.jpg")["ETag"] == etag  # the same file, the same tag
    other = trailer.subclips.order_by("index").last()
    assert user_client.get(f"/subclips/{other.pk}/sheet.jpg", HTTP_IF_NONE_MATCH=etag).status_code == 200
    html = user_client.get("/").content.decode()
    assert f'src="/trailers/{trailer.pk}/thumbnail.jpg" alt="" loading="lazy"' in html


def test_a_title_in_a_right_to_left_script_keeps_its_own_direction(user_client, make_trailer):
    """An Arabic or Hebrew title with Latin words in it showed its parts in the wrong order in a left-to-right page:
    each title takes its direction from its own first strong letter."""
    trailer = make_trailer(title="عرض الفيلم Trailer 2")
    page = user_client.get(f"/trailers/{trailer.pk}/").content.decode()
    assert '<h1 dir="auto">عرض الفيلم Trailer 2</h1>' in page
    listed = user_client.get("/").content.decode()
    assert f'href="/trailers/{trailer.pk}/" dir="auto">عرض الفيلم Trailer 2</a>' in listed
