"""One error type: what a service refuses reaches the API as {"detail", "code"} with its status (one exception
handler), and a page as a notice with the same words."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from trailers.models import Trailer

pytestmark = pytest.mark.django_db

NOTHING_BEFORE = "No version was active before this one: there is nothing to roll back to."


def test_a_rollback_with_nothing_to_roll_back_to_is_a_409_in_the_api_and_a_notice_on_the_page(staff_api,
                                                                                            staff_client):
    response = staff_api.post("/api/model-versions/rollback/")
    assert response.status_code == 409
    assert response.json() == {"detail": NOTHING_BEFORE, "code": "nothing_to_roll_back"}
    page = staff_client.post("/versions/rollback/", follow=True).content.decode()
    assert NOTHING_BEFORE in page


def test_a_trailer_being_processed_is_not_deleted_and_both_ways_say_why(api, user_client, user, make_trailer):
    trailer = make_trailer(title="Busy", uploaded_by=user, status=Trailer.Status.PROCESSING)
    response = api.delete(f"/api/trailers/{trailer.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "busy"
    reason = response.json()["detail"]
    assert "is being processed right now" in reason
    page = user_client.post(f"/trailers/{trailer.pk}/delete/", follow=True).content.decode()
    assert reason.replace("“", "&ldquo;").replace("”", "&rdquo;") in page or reason in page
    assert Trailer.objects.filter(pk=trailer.pk).exists()


def test_a_file_that_is_no_ratings_csv_is_refused_on_its_field_with_a_code(staff_api):
    response = staff_api.post("/api/ratings/import/", {"file": SimpleUploadedFile("r.csv", "\xff\xfe".encode("latin-1"))},
                              format="multipart")
    body = response.json()
    assert response.status_code == 400 and body["code"] == "unreadable_ratings"
    assert body["file"] == [body["detail"]] and "not UTF-8" in body["detail"]


def test_drf_errors_carry_their_code_too(api, client):
    assert client.get("/api/trailers/").json()["code"] == "not_authenticated"
    assert api.get("/api/trailers/999999/").json()["code"] == "not_found"
