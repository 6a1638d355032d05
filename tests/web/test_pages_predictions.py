"""Predictions: the active model's predictions, sortable and filterable, the scatter plot, metrics and CSV."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest

from ml.metrics import mae, rmse, spearman
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


def rows(response) -> list[str]:
    return re.findall(r'<tr data-trailer="\d+">\s*<td[^>]*><a href="/trailers/\d+/" dir="auto">([^<]+)</a>', response.content.decode())


@pytest.fixture
def scored(user, other_user, make_trailer, make_version, make_prediction):
    """Four trailers scored by the active v2 (three rated), one by an old v1."""
    v1, v2 = make_version(number=1), make_version(number=2, active=True)
    data = {"A": (8.0, [9, 7]), "B": (3.0, [2, 4]), "C": (6.0, [6]), "D": (5.5, [])}
    trailers = {}
    for title, (predicted, ratings) in data.items():
        trailer = trailers[title] = make_trailer(title=title)
        make_prediction(v2, trailer, predicted)
        for u, score in zip([user, other_user], ratings, strict=False):
            rate_trailer(user=u, trailer=trailer, score=score)
    make_prediction(v1, trailers["A"], 1.0)
    return {"v1": v1, "v2": v2, **trailers}


def test_active_version_predictions_with_metrics_and_scatter(user_client, scored):
    response = user_client.get("/predictions/")
    html = response.content.decode()
    assert "Predictions of v2" in html
    assert rows(response) == ["A", "C", "D", "B"]  # highest prediction first
    truth, predicted = [8.0, 3.0, 6.0], [8.0, 3.0, 6.0]
    assert 'id="metric-n">3<' in html
    assert f'id="metric-mae">{mae(truth, predicted):.3f}<' in html
    assert f'id="metric-rmse">{rmse(truth, predicted):.3f}<' in html
    assert f'id="metric-spearman">{spearman(truth, predicted):.3f}<' in html
    scatter = re.search(r'<svg class="chart scatter-chart".*?</svg>', html, flags=re.S).group(0)
    assert scatter.count('<circle class="point"') == 3  # D has no ratings
    assert 'class="diagonal"' in scatter and "A: rated 8.00, predicted 8.00" in scatter


def test_metrics_follow_the_numbers(user_client, user, make_trailer, make_version, make_prediction):
    version = make_version(number=1, active=True)
    truth, predicted = [2, 5, 9, 7], [3.0, 4.5, 6.0, 8.0]
    for i, (t, p) in enumerate(zip(truth, predicted, strict=True)):
        trailer = make_trailer(title=f"T{i}")
        make_prediction(version, trailer, p)
        rate_trailer(user=user, trailer=trailer, score=t)
    html = user_client.get("/predictions/").content.decode()
    assert f'id="metric-mae">{mae(truth, predicted):.3f}<' in html
    assert f'id="metric-rmse">{rmse(truth, predicted):.3f}<' in html
    assert f'id="metric-spearman">{spearman(truth, predicted):.3f}<' in html


def test_sort_and_filter(user_client, scored):
    assert rows(user_client.get("/predictions/?sort=title")) == ["A", "B", "C", "D"]
    assert rows(user_client.get("/predictions/?sort=predicted")) == ["B", "D", "C", "A"]
    assert rows(user_client.get("/predictions/?sort=-mean")) == ["A", "C", "B", "D"]
    assert rows(user_client.get("/predictions/?rated=no")) == ["D"]
    assert rows(user_client.get("/predictions/?min_score=5&max_score=7")) == ["C", "D"]
    assert rows(user_client.get("/predictions/?q=b")) == ["B"]
    assert rows(user_client.get("/predictions/?min_score=abc")) == ["A", "C", "D", "B"]  # ignored, not an error


def test_another_version_can_be_chosen(user_client, scored):
    response = user_client.get(f"/predictions/?version={scored['v1'].pk}")
    assert "Predictions of v1" in response.content.decode() and rows(response) == ["A"]
    assert user_client.get("/predictions/?version=99999").status_code == 404
    # As the API reads it: "active" is the active version (a version that is no id: 404, tests/web/test_bad_input.py).
    active = user_client.get("/predictions/?version=active")
    assert active.status_code == 200 and rows(active) == rows(user_client.get("/predictions/"))
    assert user_client.get("/predictions.csv?version=active").status_code == 200


def test_a_version_that_has_scored_nothing_says_so_and_gives_its_runs_figure(client, user, staff_user, scored,
                                                                               make_version):
    fresh = make_version(number=3, val_mae=0.564, val_mae_sd=0.05, estimate="cross-validated", folds=5)
    client.force_login(user)
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", client.get(f"/predictions/?version={fresh.pk}")
                                       .content.decode()))
    assert ("v3 has not scored any trailer yet, so the figures below, which come from its predictions, are empty. "
            "Its run reported an MAE of 0.564 ± 0.050, cross-validated over 5 folds. Staff can have it score the "
            "trailers.") in words
    assert 'id="version-unscored"' not in client.get(f"/predictions/?version={scored['v1'].pk}").content.decode()
    client.force_login(staff_user)
    assert "Activate it, or have it score every ready trailer, from the admin." in re.sub(
        r"<[^>]+>", "", client.get(f"/predictions/?version={fresh.pk}").content.decode())


def test_csv_download(user_client, scored):
    response = user_client.get("/predictions.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="reelscore-predictions-v2.csv"' in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["title"] for r in table] == ["A", "C", "D", "B"]
    a = table[0]
    assert a["predicted"] == "8.0000" and a["mean_rating"] == "8.0000" and a["rating_count"] == "2"
    assert a["subclip_scores"] == "7.5000;8.5000" and a["model_version"] == "2"
    assert table[2]["mean_rating"] == "" and table[2]["rating_count"] == "0"
    filtered = user_client.get("/predictions.csv?rated=no")
    assert len(list(csv.DictReader(io.StringIO(b"".join(filtered.streaming_content).decode())))) == 1


def test_no_active_version(user_client):
    html = user_client.get("/predictions/").content.decode()
    assert "No model version is active yet" in html
    response = user_client.get("/predictions.csv", follow=True)
    assert "No model version is active" in response.content.decode()


def test_scoring_progress_polls_then_reloads(user_client, make_trailer, make_version, make_prediction):
    version = make_version(number=1, active=True)
    scored, waiting = make_trailer(title="Scored"), make_trailer(title="Waiting")
    make_prediction(version, scored, 5.0)
    html = user_client.get("/predictions/").content.decode()
    assert "Scoring: 1 of 2 ready trailers" in html and 'hx-trigger="every 2s"' in html
    url = f"/predictions/?version={version.pk}&partial=progress"
    assert "Scoring: 1 of 2" in user_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    make_prediction(version, waiting, 6.0)
    response = user_client.get(url, HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"


def test_metrics_on_trailers_the_model_never_trained_on_are_shown_apart(user_client, user, make_trailer, make_run,
                                                                          make_version, make_prediction):
    truth, predicted = [2, 5, 9, 7], [2.0, 5.0, 6.0, 8.0]  # perfect on the two it trained on
    trailers = [make_trailer(title=f"T{i}") for i in range(4)]
    run = make_run(dataset=[{"trailer": trailers[0].pk, "label": 2.0, "split": "train"},
                            {"trailer": trailers[1].pk, "label": 5.0, "split": "train"},
                            {"trailer": trailers[2].pk, "label": 9.0, "split": "val"}])
    version = make_version(number=1, active=True, run=run)
    for trailer, t, p in zip(trailers, truth, predicted, strict=True):
        make_prediction(version, trailer, p)
        rate_trailer(user=user, trailer=trailer, score=t)
    html = user_client.get("/predictions/").content.decode()
    assert 'id="metric-n">4<' in html and 'id="unseen-n">2<' in html  # T2 (validation) and T3 (added since)
    assert f'id="metric-mae">{mae(truth, predicted):.3f}<' in html
    assert f'id="unseen-mae">{mae(truth[2:], predicted[2:]):.3f}<' in html
    training_mean = (2.0 + 5.0) / 2  # the run's baseline: the mean label of what it trained on
    assert f'id="unseen-baseline">{mae(truth[2:], [training_mean] * 2):.3f}<' in html
    assert "flatters the model" in html


def test_a_range_that_cannot_match_says_why_and_clear_resets(user_client, scored):
    response = user_client.get(f"/predictions/?version={scored['v2'].pk}&min_score=9&max_score=2")
    html = response.content.decode()
    assert rows(response) == []
    assert "“Predicted from” (9) is above “to” (2), so no prediction can match: swap them, or clear one." in html
    assert '<p class="muted chart-empty">No rated trailers match these filters.</p>' in html  # not "yet"
    clear = re.search(r'<a class="button secondary" id="clear-filters" href="([^"]+)">Clear</a>', html).group(1)
    assert rows(user_client.get("/predictions/" + clear)) == ["A", "C", "D", "B"]
    # Nothing to clear without filters.
    assert 'id="clear-filters"' not in user_client.get("/predictions/?sort=title").content.decode()


def test_a_filter_that_is_not_a_number_is_named_and_left_out(user_client, scored):
    html = unescape(user_client.get("/predictions/?min_score=abc").content.decode())
    assert "Predicted from “abc” was left out (Enter a number): the list is shown without it." in html
    assert 'name="min_score" value="abc"' not in html  # the form shows what is in force


def test_csv_has_the_error_column_and_the_uncertainty(user_client, user, scored, make_trailer, make_prediction):
    e = make_trailer(title="E")
    make_prediction(scored["v2"], e, 4.25, uncertainty=0.5)
    rate_trailer(user=user, trailer=e, score=7)
    response = user_client.get("/predictions.csv?sort=title")
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_title = {r["title"]: r for r in table}
    # A: predicted 8, rated 9 and 7; B: predicted 3, rated 2 and 4; C: 6 against 6; D: no ratings.
    assert by_title["A"]["error"] == "0.0000" and by_title["C"]["error"] == "0.0000"
    assert by_title["E"]["error"] == "2.7500" and by_title["E"]["uncertainty"] == "0.5000"
    assert by_title["D"]["error"] == ""
    html = user_client.get("/predictions/?sort=title").content.decode()
    shown_errors = re.findall(r'<td class="num">([\d.—]+)</td>\s*<td class="num optional-col">', html)
    assert shown_errors == ["0.00", "0.00", "0.00", "—", "2.75"]


def test_a_search_pages_every_matching_prediction_rated_or_not(user_client, user, make_trailer, make_version,
                                                                make_prediction):
    version = make_version(number=1, active=True)
    for i in range(62):  # 62 match, a third of them rated; 5 others do not
        trailer = make_trailer(title=f"Harbour {i:02d}")
        make_prediction(version, trailer, 5.0)
        if i % 3 == 0:
            rate_trailer(user=user, trailer=trailer, score=1 + i % 10)
    for i in range(5):
        make_prediction(version, make_trailer(title=f"Quay {i}"), 5.0)
    first = user_client.get("/predictions/", {"q": "Harbour"}).content.decode()
    assert "page 1 of 2" in first and len(rows(user_client.get("/predictions/", {"q": "Harbour"}))) == 50
    last = user_client.get("/predictions/", {"q": "Harbour", "page": 2})
    assert "page 2 of 2" in last.content.decode() and len(rows(last)) == 12
    assert 'id="metric-n">21<' in first  # the figures: the 21 rated ones
    none_rated = user_client.get("/predictions/", {"q": "Quay"}).content.decode()  # counted by the paginator
    assert len(rows(user_client.get("/predictions/", {"q": "Quay"}))) == 5 and 'id="metric-n">0<' in none_rated
