"""Each list's filters are declared once (trailers/filters.py): the page and the API list the same rows for the same
query, and the API's schema documents every filter of it as a query parameter."""

from __future__ import annotations

import re

import pytest
import yaml

from trailers.filters import PredictionListFilterSet, RunFilterSet, TrailerFilterSet
from trailers.models import TrainingRun
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


def page_ids(response, attribute: str) -> list[int]:
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(rf'<tr {attribute}="(\d+)">', response.content.decode())]


def api_ids(response, key: str = "id") -> list[int]:
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


@pytest.mark.parametrize(("query", "titles"), [
    ("?rated=yes", ["Alpha"]), ("?rated=no&sort=title", ["Beta", "Gamma alpha"]), ("?predicted=yes", ["Beta"]),
    ("?status=failed", ["Gamma alpha"]), ("?q=alpha", ["Gamma alpha", "Alpha"]),
    ("?sort=-mean", ["Beta", "Alpha", "Gamma alpha"]), ("?sort=mine&predicted=no", ["Alpha", "Gamma alpha"]),
    ("", ["Gamma alpha", "Beta", "Alpha"]),
])
def test_the_dataset_page_and_the_trailers_api_list_the_same_trailers(user_client, api, user, other_user,
                                                                      make_trailer, make_version, make_prediction,
                                                                      query, titles):
    alpha, beta = make_trailer(title="Alpha"), make_trailer(title="Beta")
    gamma = make_trailer(title="Gamma alpha", status="failed", subclips=0)
    rate_trailer(user=user, trailer=alpha, score=3)
    rate_trailer(user=other_user, trailer=beta, score=9)
    make_prediction(make_version(number=1, active=True), beta, 5.0)
    ids = {alpha.pk: "Alpha", beta.pk: "Beta", gamma.pk: "Gamma alpha"}
    shown = page_ids(user_client.get(f"/{query}"), "data-trailer")
    assert [ids[pk] for pk in shown] == titles
    assert api_ids(api.get(f"/api/trailers/{query}")) == shown


@pytest.mark.parametrize(("query", "titles"), [
    ("?rated=yes", ["A", "D", "B"]), ("?rated=no", ["C"]), ("?min_score=5&max_score=7", ["C", "D"]),
    ("?q=b", ["B"]), ("?sort=title", ["A", "B", "C", "D"]), ("?sort=-mean&rated=yes", ["A", "D", "B"]),
    ("?sort=error", ["D", "A", "B", "C"]), ("?sort=-error", ["B", "A", "D", "C"]), ("", ["A", "C", "D", "B"]),
])
def test_the_predictions_page_and_the_predictions_api_list_the_same_predictions(user_client, api, user,
                                                                                make_trailer, make_version,
                                                                                make_prediction, query, titles):
    version = make_version(number=1, active=True)
    ids = {}
    for title, score, rating in (("A", 8.0, 9), ("B", 3.0, 2), ("C", 6.0, None), ("D", 5.5, 6)):
        trailer = make_trailer(title=title)
        ids[trailer.pk] = title
        make_prediction(version, trailer, score)
        if rating:
            rate_trailer(user=user, trailer=trailer, score=rating)
    shown = page_ids(user_client.get(f"/predictions/{query}"), "data-trailer")
    assert [ids[pk] for pk in shown] == titles
    separator = "&" if query else "?"
    assert api_ids(api.get(f"/api/predictions/{query}{separator}version=active"), "trailer") == shown


def test_a_range_that_cannot_match_is_named_on_the_page_and_an_empty_list_in_the_api(user_client, api,
                                                                                       make_trailer, make_version,
                                                                                       make_prediction):
    make_prediction(make_version(number=1, active=True), make_trailer(title="A"), 5.0)
    html = user_client.get("/predictions/?min_score=9&max_score=2").content.decode()
    assert "“Predicted from” (9) is above “to” (2), so no prediction can match" in html
    response = api.get("/api/predictions/?min_score=9&max_score=2")
    assert response.status_code == 200 and response.json()["count"] == 0
    refused = api.get("/api/predictions/?min_score=abc")
    assert refused.status_code == 400 and "min_score" in refused.json()


@pytest.mark.parametrize(("query", "names"), [
    ("?status=succeeded", ["bad", "good"]), ("?preset=scratch", ["bad"]), ("?sort=mae", ["good", "bad", "failed"]),
    ("?sort=created", ["good", "bad", "failed"]), ("", ["failed", "bad", "good"]),
])
def test_the_runs_page_and_the_runs_api_list_the_same_runs(user_client, api, make_run, make_version, query, names):
    good, bad = make_run(preset="default"), make_run(preset="scratch")
    failed = make_run(status=TrainingRun.Status.FAILED)
    make_version(number=1, run=good, val_mae=0.5)
    make_version(number=2, run=bad, val_mae=1.5)
    ids = {good.pk: "good", bad.pk: "bad", failed.pk: "failed"}
    shown = page_ids(user_client.get(f"/runs/{query}"), "data-run")
    assert [ids[pk] for pk in shown] == names
    assert api_ids(api.get(f"/api/runs/{query}")) == shown


@pytest.mark.parametrize(("path", "filterset"), [("/api/trailers/", TrailerFilterSet),
                                                 ("/api/predictions/", PredictionListFilterSet),
                                                 ("/api/runs/", RunFilterSet)])
def test_the_schema_documents_every_filter_of_the_list(client, path, filterset):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
    assert set(filterset.base_filters) <= set(parameters)
    sort = filterset.base_filters["sort"]
    assert sorted(parameters["sort"]["schema"]["enum"]) == sorted(key for key, _ in sort.extra["choices"])
    # One row by its id is read whatever the query says: only the list takes filters.
    detail = schema["paths"].get(f"{path}{{id}}/", {}).get("get", {})
    assert not set(filterset.base_filters) & {p["name"] for p in detail.get("parameters", [])}


@pytest.mark.django_db
def test_a_value_the_list_cannot_read_is_said_and_the_form_shows_what_is_in_force(user_client, make_trailer):
    """?sort=bogus listed newest first while the Sort select showed its first choice, "Uploaded ↑", as if chosen."""
    import re
    from html import unescape

    make_trailer()
    html = unescape(user_client.get("/?sort=bogus&status=weird&q=x").content.decode())
    assert re.search(r'<option value="-uploaded" selected>', html)  # the order in force
    assert '<option value="" selected>any</option>' in html.split('name="status"')[1]  # any status: as in force
    assert "Sort “bogus” was left out (it is not one of the choices): the list is shown without it." in html
    assert "Status “weird” was left out (it is not one of the choices): the list is shown without it." in html
    assert 'value="x"' in html  # what could be read stays as it was typed
    runs = unescape(user_client.get("/runs/?sort=sideways").content.decode())
    assert "“sideways” was left out (it is not one of the choices)" in runs
