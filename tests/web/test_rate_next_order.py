"""Rate next's page: the reason it shows and the orders it offers, rating in place with htmx, and undo taking the
last rating back. (The order each trailer is chosen in: tests/selectors/test_rate_next_selector.py.)"""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.support.rows import scored_by_an_ensemble
from trailers.models import Rating, Trailer
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


def shown(response) -> int | None:
    match = re.search(r'data-trailer="(\d+)"', response.content.decode())
    return int(match.group(1)) if match else None


@pytest.fixture
def scored(other_user):
    return scored_by_an_ensemble(rater=other_user)


def test_the_page_says_why_and_offers_the_orders(user_client, scored):
    html = unescape(user_client.get("/rate/?order=uncertain").content.decode())
    assert shown_id(html) == scored["Murky"].pk
    assert "<strong>Why this one:</strong> The model's guess is 6.1, its fold models disagreeing by ± 1.8" in html
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
    assert "Saved: you rated “Murky” 9/10." in html and 'hx-swap-oob="innerHTML"' in html
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
    assert "Undone: your rating of “Fresh” went back from 6/10 to 2/10." in response.content.decode()
    assert Rating.objects.get(user=user, trailer=scored["Fresh"]).score == 2


@pytest.mark.parametrize("since", [9, None])
def test_undo_leaves_a_rating_changed_or_removed_elsewhere_since(user_client, user, scored, since):
    """The rating given here was changed (the trailer page, the API) or removed since: undo would have removed the
    newer one, saying it took back this one. It says so and leaves the rating as it is."""
    from trailers.services import delete_rating

    user_client.post("/rate/", {"trailer": scored["Fresh"].pk, "score": 5})
    if since is None:
        delete_rating(user=user, trailer=scored["Fresh"])
    else:
        rate_trailer(user=user, trailer=scored["Fresh"], score=since)
    response = user_client.post("/rate/undo/", follow=True)
    now = "is now 9/10" if since else "was removed"
    assert (f"Your rating of “Fresh” {now} since you gave it 5/10 here, so there is nothing to take back: it is "
            "left as it is.") in unescape(response.content.decode())
    assert list(Rating.objects.filter(user=user).values_list("score", flat=True)) == ([since] if since else [])
    html = user_client.post("/rate/undo/", follow=True).content.decode()
    assert "There is no rating to take back." in html  # the entry is gone: one refusal, not one per press


def test_undo_leaves_a_rating_given_again_elsewhere_with_the_same_score(user_client, user, scored):
    user_client.post("/rate/", {"trailer": scored["Fresh"].pk, "score": 5})
    rate_trailer(user=user, trailer=scored["Fresh"], score=9)
    rate_trailer(user=user, trailer=scored["Fresh"], score=5)  # and back: the same score, another rating
    response = user_client.post("/rate/undo/", follow=True)
    assert ("Your rating of “Fresh” was given again (5/10) elsewhere since you gave it 5/10 here, so there is "
            "nothing to take back") in unescape(response.content.decode())
    assert Rating.objects.get(user=user, trailer=scored["Fresh"]).score == 5


def test_undo_of_an_entry_kept_before_its_time_was_kept_still_works(user_client, user, scored):
    """Sessions from before the undo entry kept when the rating was given: score alone decides, as it did."""
    user_client.post("/rate/", {"trailer": scored["Fresh"].pk, "score": 5})
    session = user_client.session
    session["rate_undo"] = [entry[:3] for entry in session["rate_undo"]]
    session.save()
    response = user_client.post("/rate/undo/", follow=True)
    assert "Undone: your rating of “Fresh” (5/10) was removed." in unescape(response.content.decode())


def test_two_tabs_each_take_back_their_own_rating(user_client, user, scored):
    """Tab A rated "Fresh" 3, then tab B rated it 9; A's Undo, which names A's 3, took back B's 9 instead (the
    session's last entry) and said it went "back to 3/10". Each Undo now takes back the rating its button names."""
    tab_a = user_client.post("/rate/", {"trailer": scored["Fresh"].pk, "score": 3}, HTTP_HX_REQUEST="true")
    given_at_a = re.search(r'name="given_at" value="([^"]+)"', tab_a.content.decode()).group(1)
    tab_b = user_client.post("/rate/", {"trailer": scored["Fresh"].pk, "score": 9}, HTTP_HX_REQUEST="true")
    given_at_b = re.search(r'name="given_at" value="([^"]+)"', tab_b.content.decode()).group(1)
    assert "Undo: take back 3/10 for “Fresh”" in tab_a.content.decode() and given_at_a != given_at_b
    html = unescape(user_client.post("/rate/undo/", {"trailer": scored["Fresh"].pk, "given_at": given_at_a}, HTTP_HX_REQUEST="true")
                    .content.decode())
    assert ("Your rating of “Fresh” is now 9/10 since you gave it 3/10 here, so there is nothing to take back: it "
            "is left as it is.") in html
    assert Rating.objects.get(user=user, trailer=scored["Fresh"]).score == 9
    html = unescape(user_client.post("/rate/undo/", {"trailer": scored["Fresh"].pk, "given_at": given_at_b}, HTTP_HX_REQUEST="true")
                    .content.decode())
    assert "Undone: your rating of “Fresh” went back from 9/10 to 3/10." in html
    assert Rating.objects.get(user=user, trailer=scored["Fresh"]).score == 3
    html = unescape(user_client.post("/rate/undo/", {"trailer": scored["Fresh"].pk, "given_at": given_at_b}, HTTP_HX_REQUEST="true")
                    .content.decode())
    assert "That rating was taken back already (in another tab?), or is too far back to take back" in html
    assert Rating.objects.get(user=user, trailer=scored["Fresh"]).score == 3


def test_undo_works_without_script_too(user_client, user, scored):
    user_client.post("/rate/?order=fewest", {"trailer": scored["Clear"].pk, "score": 4})
    response = user_client.post("/rate/undo/?order=fewest")
    assert response.status_code == 302 and f"show={scored['Clear'].pk}" in response["Location"]
    assert shown(user_client.get(response["Location"])) == scored["Clear"].pk
    assert not Rating.objects.filter(user=user).exists() and Trailer.objects.count() == 4
