"""Rate next asks where it matters (trailers/selectors_labelling.py, called directly): the active version's
uncertainty first, a trailer it has not scored before any, the fewest ratings first where no ensemble can say
(and why), random among the unrated ones only. (The page: tests/web/test_rate_next_order.py.)"""

from __future__ import annotations

import pytest

from tests.support.rows import scored_by_an_ensemble
from trailers.selectors_labelling import next_to_rate
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(other_user):
    return scored_by_an_ensemble(rater=other_user)


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
    assert first.reason == ("The model's guess is 6.1, its fold models disagreeing by ± 1.8: of the trailers you have not rated, it is least sure "
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
