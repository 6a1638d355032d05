"""The ensemble's uncertainty and the 80% interval beside every prediction: trailer page, dataset, predictions
table, CSV, API."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.support.rows import cv_version_metrics, rate

SORTED = re.compile(r" \(sorted (?:ascending|descending)\)")  # the sort's words for screen readers
pytestmark = pytest.mark.django_db


@pytest.fixture
def ensemble(make_trailer, make_version, make_prediction):
    """An active five-model version that scored one trailer 6.1 ± 0.4, likely 4.62 to 7.8, 1.3 times as unlike its
    training trailers as its cross-validation's trailers were."""
    version = make_version(number=4, active=True, **cv_version_metrics(folds=5))
    trailer = make_trailer(title="Moonrise")
    prediction = make_prediction(version, trailer, 6.1, [5.9, 6.3], uncertainty=0.4, low=4.62, high=7.8,
                                 novelty=1.3)
    return {"version": version, "trailer": trailer, "prediction": prediction}


def _words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_the_trailer_page_shows_score_plus_minus_uncertainty_and_explains_it(user_client, ensemble):
    html = user_client.get(f"/trailers/{ensemble['trailer'].pk}/").content.decode()
    section = re.search(r'<section class="card" id="predictions">.*?</section>', html, re.S).group(0)
    assert "6.10 ± 0.40" in _words(section)
    (tooltip,) = re.findall(r'<span class="uncertainty"[^>]*title="([^"]+)"', section)
    assert "5 models disagree" in tooltip and "standard deviation" in tooltip
    words = _words(section)
    assert "the mean of v4's 5 models (one per cross-validation fold)" in words.replace("&#x27;", "'")
    assert "Across this trailer's subclips the scores spread by ± 0.20" in words.replace("&#x27;", "'")
    # The 80% interval beside the score, and what it can and cannot promise.
    assert "6.10 ± 0.40 likely 4.6–7.8" in words
    assert "4 times in 5, the rating should fall between 4.62 and 7.80 (an 80% interval)" in words
    assert "it widens the less this trailer looks like the ones v4 learnt from" in words
    assert ("This trailer is 1.3 times as far from the trailers v4 learnt from as a typical trailer of its "
            "cross-validation was from its fold model's.") in words.replace("&#x27;", "'")


def test_a_version_whose_predictions_come_from_a_refit_says_so_and_whose_models_disagree(user_client, ensemble):
    version = ensemble["version"]
    version.metrics["refit"] = True
    version.save(update_fields=["metrics"])
    html = user_client.get(f"/trailers/{ensemble['trailer'].pk}/").content.decode()
    section = re.search(r'<section class="card" id="predictions">.*?</section>', html, re.S).group(0)
    words = _words(section).replace("&#x27;", "'")
    assert ("The score is that of one model v4 fit on every trailer of its run; ± 0.40 is how much its 5 "
            "cross-validation models (one per fold) disagree about this trailer") in words
    assert "the mean of v4's 5 models" not in words
    (tooltip,) = re.findall(r'<span class="uncertainty"[^>]*title="([^"]+)"', section)
    assert "5 cross-validation models disagree" in tooltip.replace("&#x27;", "'")
    predictions = _words(user_client.get("/predictions/").content.decode()).replace("&#x27;", "'")
    assert "its 5 models and the refit that makes its predictions together trained on every trailer" in predictions


def test_the_trailer_page_says_when_a_trailer_looks_unlike_the_ones_the_version_learnt_from(user_client, ensemble):
    prediction = ensemble["prediction"]
    prediction.novelty = 2.54
    prediction.save(update_fields=["novelty"])
    words = _words(user_client.get(f"/trailers/{ensemble['trailer'].pk}/").content.decode()).replace("&#x27;", "'")
    assert ("This trailer is 2.5 times as far from the trailers v4 learnt from as a typical trailer of its "
            "cross-validation was from its fold model's: it looks unlike them, so trust the score less.") in words
    # The figure is rounded down: one just short of 2 never reads as 2.0 beside a trailer the page does not count
    # as unlike, and one that reads 2.0 is.
    for novelty, shown, unlike in ((1.97, "1.9", False), (2.0, "2.0", True), (2.3, "2.3", True)):
        prediction.novelty = novelty
        prediction.save(update_fields=["novelty"])
        words = _words(user_client.get(f"/trailers/{ensemble['trailer'].pk}/").content.decode()).replace("&#x27;", "'")
        assert f"This trailer is {shown} times as far from the trailers v4 learnt from" in words, novelty
        assert ("it looks unlike them, so trust the score less" in words) is unlike, novelty
        predictions = user_client.get("/predictions/?unlike=yes").content.decode()
        assert (f'<td class="num optional-col novelty-col">{shown}×</td>' in predictions) is unlike, novelty
    # A version with no interval (a run with one finished fold) still says it.
    prediction.low = prediction.high = None
    prediction.save(update_fields=["low", "high"])
    words = _words(user_client.get(f"/trailers/{ensemble['trailer'].pk}/").content.decode()).replace("&#x27;", "'")
    assert "80% interval" not in words and "it looks unlike them, so trust the score less." in words
    # A version that kept no distances (no embeddings, or made before them) says nothing of it.
    prediction.novelty = None
    prediction.save(update_fields=["novelty"])
    html = user_client.get(f"/trailers/{ensemble['trailer'].pk}/").content.decode()
    assert 'class="novelty"' not in html and "times as far" not in html


def test_a_single_model_gives_no_ensemble_uncertainty(user_client, make_trailer, make_version, make_prediction):
    trailer = make_trailer()
    make_prediction(make_version(number=1, active=True), trailer, 6.0)  # an older version: one model
    html = user_client.get(f"/trailers/{trailer.pk}/").content.decode()
    section = re.search(r'id="predictions">.*?</section>', html, re.S).group(0)
    assert 'class="uncertainty"' not in section
    assert "is a single model, so it gives no ensemble uncertainty" in section
    assert 'class="interval"' not in section and "80% interval" not in section  # nor folds' errors for one


def test_the_dataset_shows_the_active_prediction_with_its_interval_or_else_its_uncertainty(user_client, ensemble,
                                                                                             make_trailer):
    make_trailer(title="Unscored")
    html = user_client.get("/").content.decode()
    row = re.search(rf'<tr data-trailer="{ensemble["trailer"].pk}">.*?</tr>', html, re.S).group(0)
    assert "6.10" in row and "4.6–7.8" in row and "± 0.40" not in row
    assert html.count('class="interval"') == 1  # none on the unscored trailer
    assert 'class="badge unlike"' not in html  # novelty 1.3: like the training trailers
    # A trailer that looks unlike the version's training trailers is marked beside its score, saying why.
    prediction = ensemble["prediction"]
    for novelty, marked in ((1.97, False), (2.54, True)):
        prediction.novelty = novelty
        prediction.save(update_fields=["novelty"])
        html = user_client.get("/").content.decode()
        row = re.search(rf'<tr data-trailer="{ensemble["trailer"].pk}">.*?</tr>', html, re.S).group(0)
        assert ('class="badge unlike"' in row) is marked, novelty
    (tooltip,) = re.findall(r'<span class="badge unlike"[^>]*title="([^"]+)">unlike</span>', row)
    assert tooltip.replace("&#x27;", "'") == (
        "This trailer looks unlike the ones the active version learnt from: 2.5 times as far from them as a typical "
        "trailer of its cross-validation was from its fold model's. Trust the score less.")
    # A version whose file kept no folds' errors (made before them): its members' spread, as before.
    prediction.low = prediction.high = None
    prediction.save(update_fields=["low", "high"])
    html = user_client.get("/").content.decode()
    row = re.search(rf'<tr data-trailer="{ensemble["trailer"].pk}">.*?</tr>', html, re.S).group(0)
    assert "6.10" in row and "± 0.40" in row and 'class="interval"' not in html
    assert html.count('class="uncertainty"') == 1


def test_the_predictions_table_has_an_uncertainty_column(user_client, ensemble, make_trailer, make_prediction):
    make_prediction(ensemble["version"], make_trailer(title="Sure thing"), 7.0, uncertainty=0.05)
    html = user_client.get("/predictions/").content.decode()
    headings = [SORTED.sub("", re.sub(r"<[^>]+>", "", h)).strip(" ▲▼") for h in re.findall(r"<th[^>]*>(.*?)</th>", html, re.S)]
    assert headings.index("Uncertainty") == headings.index("Predicted") + 1
    row = re.search(rf'<tr data-trailer="{ensemble["trailer"].pk}">.*?</tr>', html, re.S).group(0)
    assert '<td class="num uncertainty-col">± 0.40</td>' in row
    assert headings.index("Likely (80%)") == headings.index("Uncertainty") + 1
    assert '<td class="num interval-col">4.6–7.8</td>' in row
    sure = re.search(r'<tr data-trailer="\d+">(?:(?!</tr>).)*Sure thing.*?</tr>', html, re.S).group(0)
    assert '<td class="num interval-col">—</td>' in sure  # scored without an interval
    ordered = user_client.get("/predictions/?sort=-uncertainty").content.decode()
    titles = re.findall(r'<tr data-trailer="\d+">\s*<td[^>]*><a href="/trailers/\d+/" dir="auto">([^<]+)</a>', ordered)
    assert titles == ["Moonrise", "Sure thing"]


def test_the_predictions_table_says_how_unlike_the_training_trailers_each_looks_and_sorts_by_it(
        user_client, ensemble, make_trailer, make_prediction):
    make_prediction(ensemble["version"], make_trailer(title="Familiar"), 7.0, novelty=0.8)
    make_prediction(ensemble["version"], make_trailer(title="Stranger"), 5.0, novelty=3.04)
    make_prediction(ensemble["version"], make_trailer(title="Unmeasured"), 5.5)  # a file that kept no distances
    html = user_client.get("/predictions/").content.decode()
    headings = [SORTED.sub("", re.sub(r"<[^>]+>", "", h)).strip(" ▲▼") for h in re.findall(r"<th[^>]*>(.*?)</th>", html, re.S)]
    assert headings.index("Unlike") == headings.index("Likely (80%)") + 1
    cells = dict(re.findall(r'<a href="/trailers/\d+/" dir="auto">([^<]+)</a>.*?<td class="num optional-col novelty-col">([^<]+)</td>',
                            html, re.S))
    assert cells == {"Moonrise": "1.3×", "Familiar": "0.8×", "Stranger": "3.0×", "Unmeasured": "—"}
    for sort, expected in (("-novelty", ["Stranger", "Moonrise", "Familiar", "Unmeasured"]),
                           ("novelty", ["Familiar", "Moonrise", "Stranger", "Unmeasured"])):
        ordered = user_client.get(f"/predictions/?sort={sort}").content.decode()
        titles = re.findall(r'<tr data-trailer="\d+">\s*<td[^>]*><a href="/trailers/\d+/" dir="auto">([^<]+)</a>', ordered)
        assert titles == expected, sort  # those without a figure last either way


def test_the_predictions_page_counts_the_trailers_that_look_unlike_the_training_ones(
        user_client, ensemble, make_trailer, make_version, make_prediction):
    def summary(query=""):
        html = user_client.get(f"/predictions/{query}").content.decode()
        found = re.search(r'<p id="unlike-summary"[^>]*>(.*?)</p>', html, re.S)
        return found and _words(found.group(1)).replace("&#x27;", "'")

    version = ensemble["version"]
    assert summary() == ("None of the 1 trailer here with a novelty looks unlike the ones v4 learnt from (2 times as "
                         "far from them as a typical trailer of its cross-validation, or more).")
    make_prediction(version, make_trailer(title="Familiar"), 7.0, novelty=0.8)
    make_prediction(version, make_trailer(title="Stranger"), 5.0, novelty=3.04)
    make_prediction(version, make_trailer(title="On the line"), 5.2, novelty=2.0)
    make_prediction(version, make_trailer(title="Unmeasured"), 5.5)  # a file that kept no distances: not counted
    assert summary() == ("2 of the 4 trailers here with a novelty look unlike the ones v4 learnt from: 2 times as far "
                         "from them or more as a typical trailer of its cross-validation was from its fold model's. "
                         "The figures above come mostly from trailers like its training ones, and may not hold for "
                         "these. Show only them, with the figures over those that are rated.")
    # Filters count what they leave, and the link to the unlike ones keeps them; a version that kept no distances
    # says nothing of it.
    assert summary("?q=Str&sort=title").startswith("1 of the 1 trailer here with a novelty looks unlike")
    html = user_client.get("/predictions/?q=Str&sort=title&page=1").content.decode()
    link = re.search(r'<a id="show-unlike" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert sorted(link.lstrip("?").split("&")) == ["q=Str", "sort=title", "unlike=yes"]
    assert summary("?unlike=yes").endswith("The figures above are over the rated ones among them.")
    old = make_version(number=3, **cv_version_metrics(folds=5))
    make_prediction(old, ensemble["trailer"], 6.0)
    assert summary(f"?version={old.pk}") is None
    # Its unlike filter then matches nothing, and the empty table says why.
    html = user_client.get(f"/predictions/?version={old.pk}&unlike=yes").content.decode()
    empty = _words(re.search(r'<td colspan="\d+" class="empty">(.*?)</td>', html, re.S).group(1))
    assert empty == ("v3 keeps no novelty for its predictions (its run had no embeddings, or it was made before "
                     "novelty was kept), so “Looks unlike the training trailers” matches none of them. Leave that "
                     "filter out.")
    # A version that keeps novelty, where none is unlike, says only that nothing matches.
    html = user_client.get(f"/predictions/?version={version.pk}&unlike=yes&q=Familiar").content.decode()
    assert "No predictions match these filters." in html and "keeps no novelty" not in html


def test_the_predictions_can_be_narrowed_to_the_trailers_that_look_unlike_the_training_ones(
        user_client, api, user, ensemble, make_trailer, make_prediction):
    version = ensemble["version"]
    for title, score, novelty, rating in (("Familiar", 7.0, 0.8, 7), ("Stranger", 5.0, 3.04, 8),
                                          ("On the line", 5.2, 2.0, 9), ("Unmeasured", 5.5, None, 5)):
        trailer = make_trailer(title=title)
        make_prediction(version, trailer, score, novelty=novelty)
        rate(user, trailer, rating)

    def titles(html):
        return sorted(re.findall(r'<tr data-trailer="\d+">\s*<td[^>]*><a href="/trailers/\d+/" dir="auto">([^<]+)</a>', html))

    html = user_client.get(f"/predictions/?version={version.pk}&unlike=yes").content.decode()
    assert titles(html) == ["On the line", "Stranger"]
    # The figures are over the rated ones it keeps: |5.2 − 9| and |5.0 − 8|.
    assert re.search(r'<td id="metric-mae">([^<]+)</td>', html).group(1) == "3.400"
    assert re.search(r'<td id="metric-n">([^<]+)</td>', html).group(1) == "2"
    html = user_client.get(f"/predictions/?version={version.pk}&unlike=no").content.decode()
    assert titles(html) == ["Familiar", "Moonrise"]  # measured, below 2; "Unmeasured" is neither
    assert 'id="clear-filters"' in html and 'id="figures-kept"' not in html  # computed over what it keeps
    assert re.search(r'<td id="metric-n">([^<]+)</td>', html).group(1) == "1"  # Familiar is the one rated
    # The API and the CSV read the same filter; a value it cannot read is a 400 naming it, and the page leaves it out.
    rows = api.get("/api/predictions/?version=active&unlike=yes").json()["results"]
    assert sorted(r["trailer_title"] for r in rows) == ["On the line", "Stranger"]
    rows = api.get("/api/predictions/?version=active&unlike=no").json()["results"]
    assert sorted(r["trailer_title"] for r in rows) == ["Familiar", "Moonrise"]
    response = api.get("/api/predictions/?unlike=maybe")
    assert response.status_code == 400 and "unlike" in response.json()
    text = b"".join(user_client.get("/predictions.csv?unlike=yes").streaming_content).decode()
    assert sorted(row["title"] for row in csv.DictReader(io.StringIO(text))) == ["On the line", "Stranger"]
    text = b"".join(user_client.get("/predictions.csv?unlike=no").streaming_content).decode()
    assert sorted(row["title"] for row in csv.DictReader(io.StringIO(text))) == ["Familiar", "Moonrise"]
    html = user_client.get("/predictions/?unlike=maybe").content.decode()
    assert "Looks unlike the training trailers “maybe” was left out (it is not one of the choices)" in _words(html)
    assert len(titles(html)) == 5


def test_the_csv_has_an_uncertainty_column_after_spread(user_client, ensemble):
    response = user_client.get("/predictions.csv")
    text = b"".join(response.streaming_content).decode()
    header = next(csv.reader(io.StringIO(text)))
    assert header == ["trailer_id", "title", "model_version", "predicted", "spread", "uncertainty", "low", "high",
                      "novelty", "subclip_scores", "mean_rating", "rating_count", "error", "reference_score", "status"]
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["predicted"] == "6.1000" and row["spread"] == "0.2000" and row["uncertainty"] == "0.4000"
    assert row["low"] == "4.6200" and row["high"] == "7.8000" and row["novelty"] == "1.3000"
    assert row["subclip_scores"] == "5.9000;6.3000"


def test_the_api_gives_the_uncertainty(api, ensemble):
    trailer = ensemble["trailer"]
    (listed,) = api.get("/api/predictions/?version=active").json()["results"]
    assert listed["uncertainty"] == pytest.approx(0.4) and listed["spread"] == pytest.approx(0.2)
    assert (listed["low"], listed["high"]) == (pytest.approx(4.62), pytest.approx(7.8))
    assert listed["novelty"] == pytest.approx(1.3)
    detail = api.get(f"/api/trailers/{trailer.pk}/").json()
    assert detail["predicted_uncertainty"] == pytest.approx(0.4)
    assert detail["predictions"][0]["uncertainty"] == pytest.approx(0.4)
    assert (detail["predictions"][0]["low"], detail["predictions"][0]["high"]) == (pytest.approx(4.62), pytest.approx(7.8))
    assert detail["predictions"][0]["novelty"] == pytest.approx(1.3)
    row = next(r for r in api.get("/api/trailers/").json()["results"] if r["id"] == trailer.pk)
    assert row["predicted_uncertainty"] == pytest.approx(0.4)
    assert (row["predicted_low"], row["predicted_high"]) == (pytest.approx(4.62), pytest.approx(7.8))
    assert row["predicted_novelty"] == detail["predicted_novelty"] == pytest.approx(1.3)
    assert (detail["predicted_low"], detail["predicted_high"]) == (pytest.approx(4.62), pytest.approx(7.8))
