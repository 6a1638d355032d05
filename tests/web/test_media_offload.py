"""The filesystem backend in production: with MEDIA_SERVE set, Django checks who may see a file and hands
its bytes to the web server (nginx's X-Accel-Redirect, Apache's or lighttpd's X-Sendfile), which answers
ranges itself. Who may see what is the same as with the embedded default's range-serving view."""

from __future__ import annotations

import os

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_nginx_gets_the_internal_location_of_the_video(user_client, make_trailer, settings):
    settings.MEDIA_SERVE = "x-accel-redirect"
    trailer = make_trailer(content=b"a video" * 100)
    response = user_client.get(f"/trailers/{trailer.pk}/video/", HTTP_RANGE="bytes=0-9")
    assert response.status_code == 200 and response.content == b""  # nginx sends the bytes (and the range)
    assert response["X-Accel-Redirect"] == f"/protected-media/{trailer.file.name}"
    assert response["Content-Type"] == "video/mp4"
    original = user_client.get(f"/trailers/{trailer.pk}/original/")
    assert original["X-Accel-Redirect"] == f"/protected-media/{trailer.file.name}"
    assert original["Content-Disposition"] == f'attachment; filename="{trailer.original_name}"'
    sheet = user_client.get(f"/trailers/{trailer.pk}/thumbnail.jpg")
    assert sheet["Content-Type"] == "image/jpeg" and sheet["X-Accel-Redirect"].endswith(".jpg")


def test_apache_or_lighttpd_get_the_files_path(user_client, make_trailer, settings):
    settings.MEDIA_SERVE = "x-sendfile"
    trailer = make_trailer()
    response = user_client.get(f"/trailers/{trailer.pk}/video/")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Sendfile"] == os.path.abspath(trailer.file.path) and os.path.isfile(response["X-Sendfile"])


@pytest.mark.parametrize("mode", ["x-accel-redirect", "x-sendfile"])
def test_the_same_people_may_see_the_same_files(user_client, staff_user, make_trailer, settings, mode):
    settings.MEDIA_SERVE = mode
    trailer = make_trailer()
    url = f"/media/{trailer.file.name}"
    assert Client().get(f"/trailers/{trailer.pk}/video/").status_code == 302  # to the login page
    assert Client().get(url).status_code == 302
    assert user_client.get(url).status_code == 403  # not staff
    user_client.force_login(staff_user)
    header = "X-Accel-Redirect" if mode == "x-accel-redirect" else "X-Sendfile"
    assert header in user_client.get(url)
    for bad in ("/media/../config/settings.py", "/media/nothing-here.mp4", "/media/trailers/"):
        response = user_client.get(bad)
        assert response.status_code == 404 and header not in response, bad
    os.remove(trailer.file.path)
    assert user_client.get(f"/trailers/{trailer.pk}/video/").status_code == 404  # never a header to a missing file
