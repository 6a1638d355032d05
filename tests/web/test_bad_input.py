"""Malformed ids, numbers, headers and bodies get a clear 4xx from every page and endpoint, never a 500."""

from __future__ import annotations

import csv
import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.test.client import encode_multipart

from trailers.models import Rating, Trailer, TrainingRun

pytestmark = pytest.mark.django_db

HUGE = "9" * 25  # more digits than any database integer holds
SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() says yes, int() says no


@pytest.mark.parametrize("bad_id", ["abc", HUGE, SUPERSCRIPT_TWO, "-1", "0"])
def test_api_actions_on_an_id_that_cannot_exist_are_404(api, staff_api, bad_id):
    assert api.get(f"/api/trailers/{bad_id}/rating/").status_code == 404
    assert api.put(f"/api/trailers/{bad_id}/rating/", {"score": 5}, format="json").status_code == 404
    assert staff_api.post(f"/api/runs/{bad_id}/cancel/").status_code == 404
    assert staff_api.post(f"/api/model-versions/{bad_id}/activate/").status_code == 404


def test_every_api_row_is_read_by_one_rule_and_every_api_404_is_json(api, make_trailer):
    """A full-width "1" named trailer 1 to the retrieve (Python's int() reads it) and to nothing else; an address
    under /api/ that names no endpoint got the site's HTML page."""
    trailer = make_trailer()
    full_width = "".join(chr(0xFF10 + int(d)) for d in str(trailer.pk))
    for path in (f"/api/trailers/{full_width}/", f"/api/trailers/{full_width}/rating/"):
        response = api.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found", path
    assert api.get("/api/trailers/999999/").json() == {"detail": "No trailer with id 999999.", "code": "not_found"}
    assert api.get(f"/api/trailers/{trailer.pk}/").status_code == 200
    for path in ("/api/nope/", "/api/trailers/1/bogus/", "/api/trailers/0.5/", "/api/predictions/1/"):
        response = api.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path
        assert response.json()["code"] == "not_found", path
    assert api.get("/api/nope/").json() == {"detail": "There is nothing at /api/nope/.", "code": "not_found"}
    # Without its last slash, a POST is neither redirected (a client would send it again as a GET) nor a server
    # error (Django's answer with DEBUG on): the 404 names the address.
    refused = api.post(f"/api/trailers/{trailer.pk}/retry", format="json")
    assert refused.status_code == 404 and refused.json()["detail"] == (
        f"There is nothing at /api/trailers/{trailer.pk}/retry. Every address of the API ends with a slash: "
        f"/api/trailers/{trailer.pk}/retry/")
    assert api.get("/predictions").status_code == 301  # the pages still redirect


@pytest.mark.parametrize("bad_id", [HUGE, SUPERSCRIPT_TWO])
def test_api_number_filters_refuse_what_cannot_be_an_id(api, bad_id):
    for query in (f"version={bad_id}", f"trailer={bad_id}"):
        response = api.get(f"/api/predictions/?{query}")
        assert response.status_code == 400, (query, response.content)
        assert query.split("=")[0] in response.json()


def test_api_run_with_an_impossible_trailer_id_is_400(staff_api):
    response = staff_api.post("/api/runs/", {"trailer_ids": [int(HUGE)]}, format="json")
    assert response.status_code == 400 and "trailer_ids" in response.json()


def test_api_page_that_is_not_a_number_is_400_and_past_the_end_is_404(api, make_trailer):
    make_trailer()
    response = api.get("/api/trailers/?page=abc")
    assert response.status_code == 400 and "page" in response.json()
    assert api.get("/api/trailers/?page=0").status_code == 400
    assert api.get("/api/trailers/?page=99").status_code == 404
    assert api.get("/api/trailers/?page=1").status_code == 200


@pytest.mark.parametrize("bad", [HUGE, SUPERSCRIPT_TWO, "abc"])
def test_pages_ignore_or_404_on_impossible_numbers(user_client, make_trailer, make_version, bad):
    trailer = make_trailer()
    make_version(number=1, active=True)
    assert user_client.get(f"/rate/?skip={bad},{trailer.pk}").status_code == 200
    response = user_client.post("/rate/", {"trailer": bad, "score": 5}, follow=True)
    assert response.status_code == 200 and "No trailer was given to rate." in response.content.decode()
    assert user_client.get(f"/predictions/?version={bad}").status_code == 404
    assert user_client.get(f"/predictions.csv?version={bad}").status_code == 404
    assert not Rating.objects.exists()


def test_thumbnail_of_a_huge_id_is_404(user_client):
    assert user_client.get(f"/trailers/{HUGE}/thumbnail.jpg").status_code == 404
    assert user_client.get(f"/trailers/{HUGE}/").status_code == 404


def test_an_absurd_range_header_gets_the_whole_file(user_client, make_trailer):
    trailer = make_trailer()
    response = user_client.get(f"/trailers/{trailer.pk}/video/", HTTP_RANGE="bytes=" + "1" * 5000 + "-")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == trailer.file.read()


def test_predictions_csv_keeps_titles_from_becoming_formulas(user_client, make_trailer, make_version,
                                                           make_prediction):
    version = make_version(number=1, active=True)
    titles = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2", "@SUM(A1)", "Plain title"]
    for title in titles:
        make_prediction(version, make_trailer(title=title), 5.0)
    response = user_client.get("/predictions.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    shown = sorted(row["title"] for row in rows)
    assert shown == sorted(["'" + t for t in titles[:4]] + ["Plain title"])


def test_rating_ignores_a_next_url_to_another_site(user_client, make_trailer):
    trailer = make_trailer()
    response = user_client.post(f"/trailers/{trailer.pk}/rating/", {"score": 5, "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == f"/trailers/{trailer.pk}/"
    assert Rating.objects.get().score == 5


@pytest.mark.parametrize("depth", [1100, 40])
def test_json_nested_too_deeply_is_a_400_with_the_reason_even_before_login(client, api, make_trailer, depth):
    body = '{"score":' + "[" * depth + "]" * depth + "}"
    anonymous = client.post("/api/token/", body, content_type="application/json")
    assert anonymous.status_code == 400, anonymous.content[:200]
    assert "nested more than 32 levels deep" in anonymous.json()["detail"]
    trailer = make_trailer()
    rated = api.put(f"/api/trailers/{trailer.pk}/rating/", body, content_type="application/json")
    assert rated.status_code == 400 and "nested more than 32 levels deep" in rated.json()["detail"]
    assert not trailer.ratings.exists()


def test_json_of_ordinary_depth_still_parses(api, make_trailer):
    trailer = make_trailer()
    response = api.put(f"/api/trailers/{trailer.pk}/rating/", {"score": 7}, format="json")
    assert response.status_code in (200, 201) and trailer.ratings.get().score == 7


@pytest.mark.parametrize("score", ["1e1", 1e1, "７", " 7 ", "7.0", 7.0, True, "+7", "", None, [7]])
def test_a_rating_is_parsed_one_way_by_the_page_and_the_api(api, user_client, make_trailer, score):
    trailer = make_trailer()
    refused = api.put(f"/api/trailers/{trailer.pk}/rating/", {"score": score}, format="json")
    assert refused.status_code == 400 and "whole number from 1 to 10" in refused.json()["score"][0]
    if isinstance(score, str):  # a form sends text only
        page = user_client.post(f"/trailers/{trailer.pk}/rating/", {"score": score})
        assert page.status_code in (200, 302, 400)
    assert not trailer.ratings.exists()


@pytest.mark.parametrize("score", [7, "7", 10, "1"])
def test_a_rating_as_a_number_or_its_digits_is_taken_by_both(api, user_client, make_trailer, score):
    trailer = make_trailer()
    assert api.put(f"/api/trailers/{trailer.pk}/rating/", {"score": score}, format="json").status_code == 200
    assert trailer.ratings.get().score == int(score)
    trailer.ratings.all().delete()
    user_client.post(f"/trailers/{trailer.pk}/rating/", {"score": str(score)})
    assert trailer.ratings.get().score == int(score)


# --- bodies that cannot be read -------------------------------------------------------------------

BOUNDARY = "ReelscoreTestBoundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
CUT_OFF = "ends before its closing boundary"
NO_BOUNDARY = "names no boundary"
TOO_LARGE = "this site reads at most 10.0\xa0MB of JSON or form data"  # filesizeformat: a space that does not wrap


def multipart(**fields) -> bytes:
    return encode_multipart(BOUNDARY, fields)


def a_video_upload(video) -> bytes:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return multipart(file=SimpleUploadedFile("cut.mp4", video.read_bytes(), content_type="video/mp4"))


def post(client, url, body: bytes, content_type: str, method: str = "POST"):
    return client.generic(method, url, body, content_type=content_type)


def refusal(response, status: int) -> str:
    """The reason a client (the upload page's script among them) reads from a refused upload: the API's one
    error shape, {"detail", "code"}."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response.content[:300]
    body = response.json()
    assert body["code"] and body["detail"]
    return body["detail"]


def api_refusal(response, status: int) -> str:
    """The reason a client reads from an API refusal: {"detail": ...}, as the API's other errors."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response.content[:300]
    return response.json()["detail"]


def test_an_upload_cut_off_on_the_way_is_refused_and_nothing_is_kept(user_client, synthetic_video):
    whole = a_video_upload(synthetic_video)
    for cut in (whole[: len(whole) // 2], whole[:120], whole[: -len(f"--{BOUNDARY}--\r\n")]):
        reason = refusal(post(user_client, "/api/trailers/", cut, MULTIPART), 400)
        assert CUT_OFF in reason and "it was cut off" in reason
    assert not Trailer.objects.exists()
    assert post(user_client, "/api/trailers/", whole, MULTIPART).status_code == 201  # the whole body is taken


def test_an_upload_with_another_boundary_than_its_content_type_names_is_refused(user_client, synthetic_video):
    body = a_video_upload(synthetic_video)
    reason = refusal(post(user_client, "/api/trailers/", body, "multipart/form-data; boundary=SomethingElse"), 400)
    assert "“--SomethingElse--”" in reason and "another boundary" in reason
    assert not Trailer.objects.exists()


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=",
                                          "multipart/form-data; charset=utf-8"])
def test_an_upload_without_a_boundary_is_refused_in_json(user_client, synthetic_video, content_type):
    reason = refusal(post(user_client, "/api/trailers/", a_video_upload(synthetic_video), content_type), 400)
    assert NO_BOUNDARY in reason
    assert not Trailer.objects.exists()


@pytest.mark.parametrize("boundary", ["x" * 250, "not-ascii-\u00e9"])
def test_an_upload_with_a_boundary_that_cannot_be_one_is_refused_in_json(user_client, boundary):
    body = f"--{boundary}--".encode()
    reason = refusal(post(user_client, "/api/trailers/", body, f"multipart/form-data; boundary={boundary}"), 400)
    assert "boundary in the Content-Type is not a valid one" in reason


@pytest.mark.parametrize("content_type,body", [
    ("application/json", b'{"file": "trailer.mp4"}'),
    ("application/json", b'{"file": '),  # malformed too: the type is refused before the body is read
    ("text/plain", b"a trailer"),
    ("application/x-www-form-urlencoded", b"file=trailer.mp4"),
    ("application/octet-stream", b"\x00\x00\x00\x18ftypmp42"),
])
def test_an_upload_that_is_not_multipart_is_refused_in_json(user_client, content_type, body):
    reason = refusal(post(user_client, "/api/trailers/", body, content_type), 415)
    assert "Send the trailer as multipart/form-data" in reason and content_type.split(";")[0] in reason
    assert not Trailer.objects.exists()


def test_json_over_the_size_limit_is_a_413_with_the_reason_before_and_after_login(client, api, staff_api,
                                                                                   make_trailer):
    big = json.dumps({"username": "alice", "password": "x" * (10 * 1024 * 1024)}).encode()
    assert TOO_LARGE in api_refusal(post(client, "/api/token/", big, "application/json"), 413)
    trailer = make_trailer()
    rating = json.dumps({"score": 7, "padding": "x" * (10 * 1024 * 1024)}).encode()
    assert TOO_LARGE in api_refusal(post(api, f"/api/trailers/{trailer.pk}/rating/", rating, "application/json",
                                         method="PUT"), 413)
    run = json.dumps({"trailer_ids": [trailer.pk], "padding": "x" * (10 * 1024 * 1024)}).encode()
    assert TOO_LARGE in api_refusal(post(staff_api, "/api/runs/", run, "application/json"), 413)
    form = b"score=7&padding=" + b"x" * (10 * 1024 * 1024)
    assert TOO_LARGE in api_refusal(post(api, f"/api/trailers/{trailer.pk}/rating/", form,
                                         "application/x-www-form-urlencoded", method="PUT"), 413)
    assert not trailer.ratings.exists() and not TrainingRun.objects.exists()


@pytest.mark.parametrize("body", [b'{"score": ', b'{"score": 7,}', b"\xff\xfe{}", b"{'score': 7}", b'{"score": NaN}'])
def test_malformed_json_gets_the_reason_in_json_wherever_it_is_sent(client, api, staff_api, user_client,
                                                                      make_trailer, body):
    trailer = make_trailer()
    answers = [post(client, "/api/token/", body, "application/json"),
               post(api, f"/api/trailers/{trailer.pk}/rating/", body, "application/json", method="PUT"),
               post(staff_api, "/api/runs/", body, "application/json")]
    for answer in answers:
        assert "JSON parse error" in api_refusal(answer, 400)
    # The upload endpoint reads no JSON: it says what it takes instead.
    assert "Send the trailer as multipart/form-data" in refusal(post(user_client, "/api/trailers/", body,
                                                                     "application/json"), 415)
    assert not trailer.ratings.exists() and not TrainingRun.objects.exists() and Trailer.objects.count() == 1


@pytest.mark.parametrize("cut", ["half", "other_boundary"])
def test_a_cut_off_multipart_body_starts_no_run_and_changes_no_rating(api, staff_api, make_trailer, cut):
    trailer = make_trailer()
    whole = multipart(score="7", label_source="reference", min_ratings="1")
    body, content_type = {"half": (whole[:60], MULTIPART),
                          "other_boundary": (whole, "multipart/form-data; boundary=SomethingElse")}[cut]
    assert CUT_OFF in api_refusal(post(staff_api, "/api/runs/", body, content_type), 400)
    assert CUT_OFF in api_refusal(post(api, f"/api/trailers/{trailer.pk}/rating/", body, content_type,
                                       method="PUT"), 400)
    assert CUT_OFF in api_refusal(post(api, "/api/trailers/", body, content_type), 400)
    assert not TrainingRun.objects.exists() and not trailer.ratings.exists() and not Trailer.objects.exclude(
        pk=trailer.pk).exists()
    # The same rating whole is taken (the run's fields are left out: a rating refuses fields it does not take).
    whole_rating = post(api, f"/api/trailers/{trailer.pk}/rating/", multipart(score="7"), MULTIPART, method="PUT")
    assert whole_rating.status_code == 200 and trailer.ratings.get().score == 7


def test_multipart_without_a_boundary_is_refused_by_the_api_in_its_own_shape(client, api, make_trailer):
    trailer = make_trailer()
    body = multipart(score="7")
    assert NO_BOUNDARY in api_refusal(post(client, "/api/token/", body, "multipart/form-data"), 400)
    assert NO_BOUNDARY in api_refusal(post(api, f"/api/trailers/{trailer.pk}/rating/", body, "multipart/form-data",
                                           method="PUT"), 400)


def test_too_many_fields_is_a_400_in_json(api, make_trailer, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
    trailer = make_trailer()
    body = "&".join(f"f{i}=1" for i in range(101)).encode()
    reason = api_refusal(post(api, f"/api/trailers/{trailer.pk}/rating/", body, "application/x-www-form-urlencoded",
                              method="PUT"), 400)
    assert "more than 100 fields" in reason


@pytest.mark.parametrize("charset", ["idna", "punycode", "utf-16"])
def test_a_body_in_another_charset_than_utf8_is_refused_everywhere_with_the_reason(client, api, user_client,
                                                                                   make_trailer, charset):
    # Python decodes idna and punycode bodies by raising: a 500 on the login page and the API, before login.
    trailer = make_trailer()
    form = multipart(score="7", username="alice", password="alice-pass-123")
    content_type = f"{MULTIPART}; charset={charset}"
    reason = f"Send the body in UTF-8: its Content-Type says charset={charset}"
    assert reason in api_refusal(post(client, "/api/token/", form, content_type), 415)
    assert reason in api_refusal(post(api, f"/api/trailers/{trailer.pk}/rating/", form, content_type, method="PUT"),
                                 415)
    assert reason in refusal(post(user_client, "/api/trailers/", form, content_type), 415)
    page = post(user_client, f"/trailers/{trailer.pk}/rating/", form, content_type)
    assert page.status_code == 415 and reason in page.content.decode()
    login = post(client, "/accounts/login/", form, content_type)
    assert login.status_code == 415 and reason in login.content.decode()
    assert not trailer.ratings.exists()


def wsgi_answer(path: str, content_type: str, body: bytes = b"{}") -> tuple[str, dict, bytes]:
    """What the WSGI application the servers run (config/wsgi.py) answers."""
    from config.wsgi import application

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "CONTENT_TYPE": content_type,
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "HTTP_HOST": "localhost"}
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=status, headers=dict(headers))

    content = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], content


@pytest.mark.parametrize("content_type", ["application/json; charset*=bogus''x",
                                          "multipart/form-data; boundary*=bogus''x"])
def test_a_content_type_header_that_cannot_be_parsed_is_a_400_not_a_500(content_type):
    status, headers, content = wsgi_answer("/api/token/", content_type)
    assert status.startswith("400") and headers["Content-Type"] == "application/json", content[:300]
    assert json.loads(content)["detail"] == ("The Content-Type header cannot be read: Invalid encoding 'bogus' for "
                                             "RFC 2231 param.")
    status, headers, content = wsgi_answer("/accounts/login/", content_type)
    assert status.startswith("400") and b"The Content-Type header cannot be read" in content


@pytest.mark.parametrize("read", [1, 5, 64, None])
def test_the_closing_boundary_is_seen_however_the_body_is_read(read):
    from trailers.bodies import ClosingBoundaryCheck, IncompleteMultipart

    whole = multipart(score="7")
    for body, complete in ((whole, True), (whole[:-4], False), (whole[:-len(BOUNDARY) - 8], False)):
        stream, received = ClosingBoundaryCheck(io.BytesIO(body), BOUNDARY), b""
        try:
            while chunk := stream.read(read) if read else stream.read():
                received += chunk
                if not read:
                    break
        except IncompleteMultipart as refused:
            assert not complete and CUT_OFF in str(refused)
        else:
            assert complete and received == whole
