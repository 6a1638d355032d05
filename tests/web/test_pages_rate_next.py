"""Rate next: ready trailers I have not rated, fewest ratings first; rate one and the next appears."""

from __future__ import annotations

import re

import pytest

from trailers.models import Rating, Trailer
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


def shown(response) -> int | None:
    match = re.search(r'data-trailer="(\d+)"', response.content.decode())
    return int(match.group(1)) if match else None


def test_fewest_ratings_first_and_only_unrated_ready_ones(user_client, user, other_user, staff_user, make_trailer):
    popular, quiet, untouched = make_trailer(title="Popular"), make_trailer(title="Quiet"), make_trailer(title="New")
    mine = make_trailer(title="Mine")
    make_trailer(title="Queued", status=Trailer.Status.QUEUED, subclips=0)
    for u in (other_user, staff_user):
        rate_trailer(user=u, trailer=popular, score=5)
    rate_trailer(user=other_user, trailer=quiet, score=5)
    rate_trailer(user=user, trailer=mine, score=5)

    response = user_client.get("/rate/")
    assert shown(response) == untouched.pk
    assert "3 ready trailers you have not rated" in response.content.decode()

    # Rate, next, rate, next.
    response = user_client.post("/rate/", {"trailer": untouched.pk, "score": 6}, follow=True)
    assert "Saved: you rated “New” 6/10." in response.content.decode()
    assert shown(response) == quiet.pk
    response = user_client.post("/rate/", {"trailer": quiet.pk, "score": 2}, follow=True)
    assert shown(response) == popular.pk
    response = user_client.post("/rate/", {"trailer": popular.pk, "score": 10}, follow=True)
    assert shown(response) is None and "Nothing left to rate" in response.content.decode()
    assert Rating.objects.filter(user=user).count() == 4


def test_skip_moves_on_and_keeps_skipping(user_client, make_trailer):
    first, second = make_trailer(title="First"), make_trailer(title="Second")
    page = user_client.get("/rate/")
    assert shown(page) == first.pk
    skip_url = re.search(r'href="([^"]+)" class="button secondary" id="skip"', page.content.decode()).group(1)
    page = user_client.get(skip_url.replace("&amp;", "&"))
    assert shown(page) == second.pk
    # Rating while skipping keeps the skipped one out of the way.
    response = user_client.post(skip_url.replace("&amp;", "&"), {"trailer": second.pk, "score": 4}, follow=True)
    assert shown(response) is None and "apart from the ones you skipped" in response.content.decode()


@pytest.mark.parametrize("score", ["0", "11", "abc"])
def test_bad_score_is_refused_with_a_notice_and_the_same_trailer(user_client, make_trailer, score):
    trailer = make_trailer()
    response = user_client.post("/rate/", {"trailer": trailer.pk, "score": score}, follow=True)
    assert "A rating is a whole number from 1 to 10" in response.content.decode()
    assert shown(response) == trailer.pk and not Rating.objects.exists()


def test_missing_or_unknown_trailer(user_client):
    assert "No trailer was given" in user_client.post("/rate/", {"score": 5}, follow=True).content.decode()
    assert user_client.post("/rate/", {"trailer": 99999, "score": 5}).status_code == 404
