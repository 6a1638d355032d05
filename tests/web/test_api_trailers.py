"""API: trailers (list with the dataset's filters, retrieve, multipart upload) and my rating of one."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from trailers.models import Rating, Trailer
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


def test_list_with_numbers_and_pagination(api, user, other_user, make_trailer, make_version, make_prediction):
    trailer = make_trailer(title="Listed", reference_score=4.5)
    rate_trailer(user=user, trailer=trailer, score=9)
    rate_trailer(user=other_user, trailer=trailer, score=5)
    make_prediction(make_version(number=1, active=True), trailer, 6.5)
    body = api.get("/api/trailers/").json()
    assert body["count"] == 1 and body["next"] is None
    row = body["results"][0]
    assert row["title"] == "Listed" and row["status"] == "ready" and row["reference_score"] == 4.5
    assert row["mean_rating"] == 7.0 and row["rating_count"] == 2 and row["my_rating"] == 9
    assert row["predicted_score"] == 6.5
    assert row["page_url"].endswith(f"/trailers/{trailer.pk}/") and row["video_url"].endswith("/video/")
    assert "ratings" not in row  # no individual ratings of other users


def test_a_trailer_says_how_its_preprocessing_goes(api, make_trailer, settings):
    settings.PROCESSING_TIME_LIMIT_SECONDS, settings.PROCESSING_TIME_PER_VIDEO_SECOND = 600, 2.0
    trailer = make_trailer(status=Trailer.Status.PROCESSING, duration=120.0)
    Trailer.objects.filter(pk=trailer.pk).update(processing_attempts=2)
    row = api.get(f"/api/trailers/{trailer.pk}/").json()
    assert (row["status"], row["processing_attempts"], row["processing_time_limit"]) == ("processing", 2, 840)


def test_list_filters_like_the_dataset_page(api, user, make_trailer):
    rated, other = make_trailer(title="Rated one"), make_trailer(title="Other", status=Trailer.Status.FAILED)
    rate_trailer(user=user, trailer=rated, score=3)
    titles = lambda q: [r["title"] for r in api.get(f"/api/trailers/{q}").json()["results"]]  # noqa: E731
    assert titles("?rated=yes") == ["Rated one"]
    assert titles("?rated=no") == ["Other"]
    assert titles("?status=failed") == ["Other"]
    assert titles("?q=rated") == ["Rated one"]
    assert titles("?sort=title") == ["Other", "Rated one"]
    assert other.pk


@pytest.mark.parametrize("query", ["?status=bogus", "?sort=nonsense", "?rated=maybe"])
def test_bad_filters_are_400_with_the_field(api, query):
    response = api.get(f"/api/trailers/{query}")
    assert response.status_code == 400
    assert query[1:].split("=")[0] in response.json()


def test_retrieve_has_subclips_distribution_predictions(api, user, other_user, make_trailer, make_version,
                                                        make_prediction):
    trailer = make_trailer()
    rate_trailer(user=other_user, trailer=trailer, score=4)
    make_prediction(make_version(number=3, active=True), trailer, 5.0, [4.0, 6.0])
    body = api.get(f"/api/trailers/{trailer.pk}/").json()
    assert [s["index"] for s in body["subclips"]] == [0, 1]
    assert body["subclips"][0]["start"] == 0.5 and body["subclips"][0]["end"] == 2.0
    assert body["subclips"][0]["contact_sheet_url"].endswith("/sheet.jpg")
    assert body["rating_distribution"]["4"] == 1 and sum(body["rating_distribution"].values()) == 1
    assert body["predictions"] == [{**body["predictions"][0], "model_version_number": 3, "is_active": True,
                                    "score": 5.0, "subclip_scores": [4.0, 6.0]}]
    assert body["my_rating"] is None
    assert api.get("/api/trailers/999999/").status_code == 404


def test_upload_a_real_video(api, user, synthetic_video):
    response = api.post("/api/trailers/", {"file": SimpleUploadedFile("api.mp4", synthetic_video.read_bytes()),
                                           "title": "From the API"}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    trailer = Trailer.objects.get()
    assert body["id"] == trailer.pk and body["title"] == "From the API" and body["status"] == "queued"
    assert trailer.uploaded_by == user


def test_upload_refusals_are_400_with_the_reason(api, synthetic_video, settings):
    bad = api.post("/api/trailers/", {"file": SimpleUploadedFile("x.mp4", b"not a video" * 50)}, format="multipart")
    assert bad.status_code == 400 and bad.json()["code"] == "not_a_video" and bad.json()["file"][0]
    missing = api.post("/api/trailers/", {"title": "no file"}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()
    first = api.post("/api/trailers/", {"file": SimpleUploadedFile("a.mp4", synthetic_video.read_bytes())},
                     format="multipart").json()
    dup = api.post("/api/trailers/", {"file": SimpleUploadedFile("b.mp4", synthetic_video.read_bytes())},
                   format="multipart")
    assert dup.status_code == 400 and dup.json()["code"] == "duplicate" and dup.json()["duplicate_of"] == first["id"]
    settings.TRAILER_MAX_BYTES = 1024
    big = api.post("/api/trailers/", {"file": SimpleUploadedFile("big.mp4", b"z" * 4096)}, format="multipart")
    assert big.status_code == 400 and big.json()["code"] == "too_large" and "too large" in big.json()["file"][0]
    huge = api.post("/api/trailers/", {"file": SimpleUploadedFile("huge.mp4", b"z" * 200_000)}, format="multipart")
    assert huge.status_code == 400 and huge.json()["code"] == "too_large"
    assert Trailer.objects.count() == 1


def test_upload_wrong_content_type_is_415(api):
    response = api.post("/api/trailers/", {"file": "not a file"}, format="json")
    assert response.status_code == 415 and "multipart/form-data" in response.json()["detail"]


def test_only_staff_allowed_to_change_trailers_set_a_reference_score(api, staff_api, synthetic_video,
                                                                     other_synthetic_video, django_user_model):
    from rest_framework.test import APIClient

    viewer = APIClient()  # staff with view-only rights: no permission to change trailers
    viewer.force_authenticate(django_user_model.objects.create_user(username="viewer", password="x", is_staff=True))
    for client in (api, viewer):
        response = client.post("/api/trailers/", {"file": SimpleUploadedFile("a.mp4", synthetic_video.read_bytes()),
                                                  "reference_score": 5}, format="multipart")
        assert response.status_code == 400 and response.json()["reference_score"] == [
            "You need the permission to change trailers to set a reference score."]
    response = staff_api.post("/api/trailers/", {
        "file": SimpleUploadedFile("a.mp4", other_synthetic_video.read_bytes()), "reference_score": 5},
        format="multipart")
    assert response.status_code == 201 and response.json()["reference_score"] == 5.0


def test_uploads_are_throttled(api, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"uploads": "2/hour", "ratings": "600/hour"}}
    codes = [api.post("/api/trailers/", {"file": SimpleUploadedFile("x.mp4", b"nope" * 10)},
                      format="multipart").status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    assert api.get("/api/trailers/").status_code == 200  # reading is not throttled


# --- my rating ---------------------------------------------------------------------------------------------------


def test_put_get_delete_my_rating(api, user, make_trailer):
    trailer = make_trailer()
    url = f"/api/trailers/{trailer.pk}/rating/"
    assert api.get(url).status_code == 404
    response = api.put(url, {"score": 7}, format="json")
    assert response.status_code == 200 and response.json()["score"] == 7 and response.json()["trailer"] == trailer.pk
    assert api.put(url, {"score": 9}, format="json").json()["score"] == 9
    assert Rating.objects.get(user=user, trailer=trailer).score == 9
    assert api.get(url).json()["score"] == 9
    assert api.get(f"/api/trailers/{trailer.pk}/").json()["my_rating"] == 9
    assert api.delete(url).status_code == 204
    assert not Rating.objects.exists()
    assert api.delete(url).status_code == 204  # deleting again is fine


@pytest.mark.parametrize("score", [0, 11, "abc", 7.5, None, ""])
def test_bad_scores_are_400_with_the_field(api, make_trailer, score):
    trailer = make_trailer()
    response = api.put(f"/api/trailers/{trailer.pk}/rating/", {"score": score}, format="json")
    assert response.status_code == 400 and "score" in response.json()
    assert not Rating.objects.exists()


def test_a_rating_with_fields_it_does_not_take_is_refused_and_the_rating_kept(api, user, make_trailer):
    trailer = make_trailer()
    url = f"/api/trailers/{trailer.pk}/rating/"
    mine = api.put(url, {"score": 6}, format="json").json()
    response = api.put(url, {"score": 9, "comment": "great"}, format="json")
    assert response.status_code == 400 and response.json()["comment"] == ["Unknown field."]
    assert Rating.objects.get(user=user, trailer=trailer).score == 6
    # What the GET returned may come back with the new score: its read-only fields are ignored.
    assert api.put(url, {**mine, "score": 8}, format="json").json()["score"] == 8


def test_rating_unknown_trailer_is_404(api):
    assert api.put("/api/trailers/999999/rating/", {"score": 5}, format="json").status_code == 404


def test_ratings_are_throttled(api, make_trailer, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"uploads": "60/hour", "ratings": "3/minute"}}
    trailer = make_trailer()
    url = f"/api/trailers/{trailer.pk}/rating/"
    codes = [api.put(url, {"score": 5}, format="json").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert api.get(url).status_code == 200  # reading my rating is not


def test_page_size_is_honoured_up_to_its_maximum(api, make_trailer, monkeypatch):
    from trailers.api import pagination

    for _ in range(5):
        make_trailer()
    body = api.get("/api/trailers/?page_size=2").json()
    assert body["count"] == 5 and len(body["results"]) == 2
    assert "page=2" in body["next"] and "page_size=2" in body["next"]
    last = api.get(body["next"]).json()
    assert len(last["results"]) == 2 and "page=3" in last["next"] and "page_size=2" in last["previous"]
    # Above the maximum: the maximum is served, and the links say so.
    monkeypatch.setattr(pagination.Pages, "max_page_size", 3)
    body = api.get("/api/trailers/?page_size=1000").json()
    assert len(body["results"]) == 3 and "page_size=3" in body["next"]
    for bad in ("0", "-1", "two", "1.5"):
        response = api.get(f"/api/trailers/?page_size={bad}")
        assert response.status_code == 400, bad
        assert "Give a page size: a whole number from 1 to 3" in response.json()["page_size"][0]


def test_a_video_uploaded_under_a_page_s_name_is_never_served_as_a_page(api, user_client, synthetic_video):
    # A real video with a script-bearing page appended decodes, so it is accepted; opened on its own (the
    # player's address, a link), it must not be a page of the site's that acts as whoever opened it.
    polyglot = synthetic_video.read_bytes() + b"<script src=/static/x.js></script><div hx-post=/x/></div>"
    response = api.post("/api/trailers/", {"file": SimpleUploadedFile("clip.html", polyglot, "video/mp4")},
                        format="multipart")
    assert response.status_code == 201, response.content
    trailer = Trailer.objects.get()
    assert trailer.original_name == "clip.html" and not trailer.file.name.endswith(".html")
    for url in (f"/trailers/{trailer.pk}/video/", f"/trailers/{trailer.pk}/original/"):
        served = user_client.get(url)
        assert served.status_code == 200
        assert served["Content-Type"] == "application/octet-stream" and served["X-Content-Type-Options"] == "nosniff"
        assert served["Content-Security-Policy"] == "sandbox"
        assert b"".join(served.streaming_content) == polyglot


def test_a_client_with_a_token_only_fetches_the_files_the_api_links(user, make_trailer):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    trailer = make_trailer()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    body = client.get(f"/api/trailers/{trailer.pk}/").json()
    video = client.get(body["video_url"])
    assert video.status_code == 200 and b"".join(video.streaming_content) == trailer.file.open("rb").read()
    sheet = client.get(body["subclips"][0]["contact_sheet_url"])
    assert sheet.status_code == 200 and sheet["Content-Type"] == "image/jpeg"
    key = Token.objects.get(user=user).key
    client.credentials(HTTP_AUTHORIZATION=f"token {key}")  # the keyword in any case, as the API takes it
    assert client.get(body["video_url"]).status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    refused = client.get(body["video_url"])
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
    client.credentials()
    assert client.get(body["video_url"]).status_code == 302  # no credentials: the login page, as before


def test_search_ignores_case_in_every_script(api, make_trailer, make_version, make_prediction):
    amelie, hero = make_trailer(title="Amélie"), make_trailer(title="Герой дня")
    make_trailer(title="Other")
    version = make_version(number=1, active=True)
    for trailer in (amelie, hero):
        make_prediction(version, trailer, 5.0)
    for query, trailer in (("AMÉLIE", amelie), ("amélie", amelie), ("ГЕРОЙ", hero), ("дня", hero)):
        assert [t["id"] for t in api.get("/api/trailers/", {"q": query}).json()["results"]] == [trailer.pk], query
        assert [p["trailer"] for p in api.get("/api/predictions/", {"q": query}).json()["results"]] == [trailer.pk]
    assert api.get("/api/trailers/", {"q": "50%"}).json()["count"] == 0  # LIKE's wildcards are searched as text
