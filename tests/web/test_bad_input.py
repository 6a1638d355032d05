"""Malformed ids, numbers and headers get a clear 400 or 404 from every page and endpoint, never a 500."""

from __future__ import annotations

import csv
import io

import pytest

from trailers.models import Rating

pytestmark = pytest.mark.django_db

HUGE = "9" * 25  # more digits than any database integer holds
SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() says yes, int() says no


@pytest.mark.parametrize("bad_id", ["abc", HUGE, SUPERSCRIPT_TWO, "-1", "0"])
def test_api_actions_on_an_id_that_cannot_exist_are_404(api, staff_api, bad_id):
    assert api.get(f"/api/trailers/{bad_id}/rating/").status_code == 404
    assert api.put(f"/api/trailers/{bad_id}/rating/", {"score": 5}, format="json").status_code == 404
    assert staff_api.post(f"/api/runs/{bad_id}/cancel/").status_code == 404
    assert staff_api.post(f"/api/model-versions/{bad_id}/activate/").status_code == 404


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
