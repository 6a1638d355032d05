"""Rate next asks where it matters: the active version's uncertainty first, with fewest-ratings and random
orders, the reason on the page; undo takes the last rating back."""

from __future__ import annotations

import re
from html import unescape

import pytest

from trailers.models import Rating, Trailer
from trailers.selectors_labelling import next_to_rate
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


def shown(response) -> int | None:
    match = re.search(r'data-trailer="(\d+)"', response.content.decode())
    return int(match.group(1)) if match else None


@pytest.fixture
def scored(make_trailer, make_version, make_prediction, other_user):
    """Four ready trailers: the active 5-model version is most unsure of "Murky", which has the most ratings."""
    version = make_version(number=3, active=True, ensemble=5)
    trailers = {title: make_trailer(title=title) for title in ("Clear", "Murky", "Middling", "Fresh")}
    make_prediction(version, trailers["Clear"], 7.0, uncertainty=0.2)
    make_prediction(version, trailers["Murky"], 6.1, uncertainty=1.8)
    make_prediction(version, trailers["Middling"], 4.0, uncertainty=0.9)
    make_prediction(version, trailers["Fresh"], 5.0, uncertainty=0.4)
    rate_trailer(user=other_user, trailer=trailers["Murky"], score=3)
    return {"version": version, **trailers}


def test_most_uncertain_first_then_in_falling_uncertainty(user, scored):
    order = []
    for _ in range(4):
        choice = next_to_rate(user=user, order="uncertain", skip=order)
        order.append(choice.trailer.pk)
        assert choice.order == "uncertain" and choice.fallback == ""
    assert order == [scored[t].pk for t in ("Murky", "Middling", "Fresh", "Clear")]
    first = next_to_rate(user=user, order="uncertain")
    assert first.trailer.pk == scored["Murky"].pk
    assert next_to_rate(user=user).order == "fewest"  # the default order
    assert first.reason == ("The model's guess is 6.1 ± 1.8: of the trailers you have not rated, it is least sure "
                            "of this one (1 rating so far).")


def test_a_trailer_the_active_version_has_not_scored_comes_first(user, scored, make_trailer):
    new = make_trailer(title="Just ready")
    choice = next_to_rate(user=user, order="uncertain")
    assert choice.trailer.pk == new.pk and choice.reason.startswith("v3 has not scored it yet")


def test_fewest_ratings_first_and_the_fallbacks(user, other_user, scored, make_version):
    choice = next_to_rate(user=user, order="fewest")
    assert choice.trailer.title == "Clear"  # no ratings, oldest among the unrated ones with none
    assert choice.reason == "It has 0 ratings: none of the trailers you have not rated has fewer."
    # No active version: the uncertain order falls back to the fewest ratings, and says so.
    scored["version"].is_active = False
    scored["version"].save()
    choice = next_to_rate(user=user, order="uncertain")
    assert (choice.order, choice.asked) == ("fewest", "uncertain") and choice.trailer.title == "Clear"
    assert choice.fallback == "No model version is active, so there is no uncertainty to go by"
    # A single model gives no uncertainty: the same.
    make_version(number=4, active=True)
    choice = next_to_rate(user=user, order="uncertain")
    assert choice.order == "fewest" and "v4, the active version, is a single model" in choice.fallback


def test_random_picks_among_the_unrated_ones_only(user, scored):
    rate_trailer(user=user, trailer=scored["Murky"], score=5)
    picks = {next_to_rate(user=user, order="random").trailer.title for _ in range(30)}
    assert picks <= {"Clear", "Middling", "Fresh"} and len(picks) >= 2


def test_the_page_says_why_and_offers_the_orders(user_client, scored):
    html = unescape(user_client.get("/rate/?order=uncertain").content.decode())
    assert shown_id(html) == scored["Murky"].pk
    assert "<strong>Why this one:</strong> The model's guess is 6.1 ± 1.8" in html
    assert '<option value="uncertain" selected>Most uncertain first</option>' in html
    assert '<option value="fewest">Fewest ratings first</option>' in html and '<option value="random">' in html
    # By default, fewest ratings first (the order that taught the model most, bench/active_learning.py).
    html = unescape(user_client.get("/rate/").content.decode())
    assert shown_id(html) == scored["Clear"].pk and "It has 0 ratings" in html
    assert '<option value="fewest" selected>Fewest ratings first</option>' in html
    # Rating keeps the order; the video starts muted.
    response = user_client.post("/rate/?order=fewest", {"trailer": scored["Clear"].pk, "score": 8}, follow=True)
    assert shown(response) == scored["Middling"].pk  # no ratings either, and older than "Fresh"
    assert re.search(r"<video[^>]*data-player muted autoplay playsinline>", response.content.decode())


def shown_id(html: str) -> int:
    return int(re.search(r'data-trailer="(\d+)"', html).group(1))


def test_htmx_rating_answers_the_next_trailer_in_place_and_undo_brings_it_back(user_client, user, scored):
    response = user_client.post("/rate/?order=uncertain", {"trailer": scored["Murky"].pk, "score": 9},
                                HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and html.lstrip().startswith('<div id="rate-next"')
    assert shown(response) == scored["Middling"].pk
    assert "Saved: you rated “Murky” 9/10." in html and 'hx-swap-oob="true"' in html
    assert "Undo: take back 9/10 for “Murky”" in html
    response = user_client.post("/rate/undo/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert shown(response) == scored["Murky"].pk
    assert "Undone: your rating of “Murky” (9/10) was removed." in html
    assert "You took back your rating of it: rate it again, or skip it." in html
    assert not Rating.objects.filter(user=user).exists()
    assert "Undo:" not in html  # nothing left to take back
    html = user_client.post("/rate/undo/", HTTP_HX_REQUEST="true").content.decode()
    assert "There is no rating to take back." in html


def test_undo_restores_a_rating_that_was_changed(user_client, user, scored):
    rate_trailer(user=user, trailer=scored["Fresh"], score=2)
    user_client.post("/rate/", {"trailer": scored["Fresh"].pk, "score": 6})  # changed from 2 to 6
    response = user_client.post("/rate/undo/", follow=True)
    assert "Undone: your rating of “Fresh” (6/10) was back to 2/10." in response.content.decode()
    assert Rating.objects.get(user=user, trailer=scored["Fresh"]).score == 2


def test_undo_works_without_script_too(user_client, user, scored):
    user_client.post("/rate/?order=fewest", {"trailer": scored["Clear"].pk, "score": 4})
    response = user_client.post("/rate/undo/?order=fewest")
    assert response.status_code == 302 and f"show={scored['Clear'].pk}" in response["Location"]
    assert shown(user_client.get(response["Location"])) == scored["Clear"].pk
    assert not Rating.objects.filter(user=user).exists() and Trailer.objects.count() == 4
