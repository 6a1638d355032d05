"""Every trailer's rating counters (count, sum, mean) stay equal to its ratings: when one person rates, changes
or removes a rating, when many people rate one trailer at the same moment (real threads, each with its own
database connection: real concurrent transactions on PostgreSQL, serialised ones on SQLite), when ratings come in
bulk meanwhile, and when an account or a trailer goes. So does each prediction's error (|score - mean|, which the
predictions page sorts by): it follows the mean in the same transaction."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db.models import Avg, Count, Sum

from tests.support.rows import create_prediction, create_version
from tests.support.together import run_together
from trailers.models import ModelVersion, Prediction, Rating, Trailer
from trailers.services import delete_rating, rate_trailer, save_ratings
from trailers.services.ratings import recount_ratings


def predict(trailers) -> None:
    """Two versions' predictions of these trailers, made before the ratings change (each keeps its error)."""
    for _ in range(2):
        version = create_version(number=ModelVersion.objects.count() + 1)
        for trailer in trailers:
            create_prediction(version, trailer, 2.0 + (trailer.pk + version.number) % 7)


def truth() -> dict[int, tuple[int, int, float | None]]:
    """Each trailer's (count, sum, mean) from its ratings themselves."""
    rows = Trailer.objects.annotate(n=Count("ratings"), s=Sum("ratings__score"), m=Avg("ratings__score"))
    return {t.pk: (t.n, t.s or 0, t.m) for t in rows}


def counters() -> dict[int, tuple[int, int, float | None]]:
    return {pk: (n, s, m) for pk, n, s, m in Trailer.objects.values_list("pk", "rating_count", "rating_sum",
                                                                          "mean_rating")}


def assert_counters_right() -> None:
    expected, kept = truth(), counters()
    assert kept.keys() == expected.keys()
    for pk, (n, s, m) in expected.items():
        assert kept[pk][:2] == (n, s), f"trailer {pk}: counters {kept[pk]}, ratings {(n, s, m)}"
        assert kept[pk][2] == pytest.approx(m) if m is not None else kept[pk][2] is None
    for prediction in Prediction.objects.all():
        mean = expected[prediction.trailer_id][2]
        assert prediction.error == (pytest.approx(abs(prediction.score - mean)) if mean is not None else None), (
            f"prediction {prediction.pk}: error {prediction.error}, score {prediction.score}, mean {mean}")


@pytest.mark.django_db
def test_the_counters_follow_each_rating_change_and_removal(user, other_user, make_trailer):
    trailer = make_trailer()
    assert (trailer.rating_count, trailer.rating_sum, trailer.mean_rating) == (0, 0, None)
    predict([trailer])
    errors = lambda: sorted(Prediction.objects.values_list("score", "error"))  # noqa: E731
    assert [e for _, e in errors()] == [None, None]  # no ratings: no error
    rate_trailer(user=user, trailer=trailer, score=8)
    rate_trailer(user=other_user, trailer=trailer, score=5)
    trailer.refresh_from_db()
    assert (trailer.rating_count, trailer.rating_sum, trailer.mean_rating) == (2, 13, 6.5)
    assert errors() == [(score, pytest.approx(abs(score - 6.5))) for score, _ in errors()]
    rate_trailer(user=user, trailer=trailer, score=2)  # a change: the count stays
    trailer.refresh_from_db()
    assert (trailer.rating_count, trailer.rating_sum, trailer.mean_rating) == (2, 7, 3.5)
    assert errors() == [(score, pytest.approx(abs(score - 3.5))) for score, _ in errors()]
    assert delete_rating(user=other_user, trailer=trailer)
    assert not delete_rating(user=other_user, trailer=trailer)  # nothing left to take off
    trailer.refresh_from_db()
    assert (trailer.rating_count, trailer.rating_sum, trailer.mean_rating) == (1, 2, 2.0)
    assert_counters_right()
    assert delete_rating(user=user, trailer=trailer)
    trailer.refresh_from_db()
    assert (trailer.rating_count, trailer.rating_sum, trailer.mean_rating) == (0, 0, None)
    assert [e for _, e in errors()] == [None, None]


@pytest.mark.django_db
def test_a_refused_rating_changes_nothing(user, make_trailer):
    trailer = make_trailer()
    rate_trailer(user=user, trailer=trailer, score=4)
    for bad in (0, 11, "7.5", True, None):
        with pytest.raises(Exception):  # noqa: B017 - parse_rating's ValidationError
            rate_trailer(user=user, trailer=trailer, score=bad)
    trailer.refresh_from_db()
    assert (trailer.rating_count, trailer.rating_sum, trailer.mean_rating) == (1, 4, 4.0)


@pytest.mark.django_db(transaction=True)
def test_many_people_rating_one_trailer_at_once_are_all_counted(make_trailer):
    trailer = make_trailer()
    predict([trailer])
    people = [User.objects.create_user(username=f"rater{i}") for i in range(12)]
    # Half of them already rated it: they change their rating while the others rate for the first time.
    for person in people[:6]:
        rate_trailer(user=person, trailer=trailer, score=1)
    scores = {person.pk: 1 + i % 10 for i, person in enumerate(people)}
    run_together([lambda p=person: rate_trailer(user=p, trailer=trailer, score=scores[p.pk]) for person in people])
    trailer.refresh_from_db()
    assert trailer.rating_count == 12 and trailer.rating_sum == sum(scores.values())
    assert trailer.mean_rating == pytest.approx(sum(scores.values()) / 12)
    assert_counters_right()


@pytest.mark.django_db(transaction=True)
def test_ratings_removed_and_changed_at_once_keep_the_counters_right(make_trailer):
    trailers = [make_trailer() for _ in range(3)]
    predict(trailers)
    people = [User.objects.create_user(username=f"p{i}") for i in range(8)]
    for person in people:
        for trailer in trailers:
            rate_trailer(user=person, trailer=trailer, score=5)
    jobs = []
    for i, person in enumerate(people):
        for j, trailer in enumerate(trailers):
            if (i + j) % 3 == 0:
                jobs.append(lambda p=person, t=trailer: delete_rating(user=p, trailer=t))
            else:
                jobs.append(lambda p=person, t=trailer, s=1 + (i * j) % 10: rate_trailer(user=p, trailer=t, score=s))
    run_together(jobs)
    assert_counters_right()
    assert Rating.objects.count() == sum(1 for i in range(8) for j in range(3) if (i + j) % 3)


@pytest.mark.django_db(transaction=True)
def test_the_same_first_rating_sent_twice_at_once_counts_once(user, make_trailer):
    """A double click: two requests create the same person's first rating of a trailer at the same moment."""
    trailer = make_trailer()
    run_together([lambda s=s: rate_trailer(user=user, trailer=trailer, score=s) for s in (6, 6, 6, 6)])
    trailer.refresh_from_db()
    assert Rating.objects.filter(user=user, trailer=trailer).count() == 1
    assert (trailer.rating_count, trailer.rating_sum, trailer.mean_rating) == (1, 6, 6.0)


@pytest.mark.django_db(transaction=True)
def test_a_bulk_import_beside_single_ratings_keeps_every_rating_counted(make_trailer):
    trailers = [make_trailer() for _ in range(20)]
    predict(trailers)
    importer_people = [User.objects.create_user(username=f"bulk{i}") for i in range(5)]
    live_people = [User.objects.create_user(username=f"live{i}") for i in range(6)]
    rate_trailer(user=importer_people[0], trailer=trailers[0], score=9)  # the import changes this one
    bulk = [(u.pk, t.pk, 1 + (u.pk + t.pk) % 10) for u in importer_people for t in trailers]

    def live(person):
        for k, trailer in enumerate(trailers):
            rate_trailer(user=person, trailer=trailer, score=1 + (person.pk * k) % 10)

    run_together([lambda: save_ratings(ratings=bulk)] + [lambda p=p: live(p) for p in live_people])
    assert Rating.objects.count() == 20 * (5 + 6)
    assert_counters_right()


@pytest.mark.django_db
def test_a_bulk_import_counts_new_and_changed_ratings_and_refuses_a_bad_one(user, other_user, make_trailer):
    a, b = make_trailer(), make_trailer()
    rate_trailer(user=user, trailer=a, score=3)
    assert save_ratings(ratings=[(user.pk, a.pk, 7), (other_user.pk, a.pk, 5), (user.pk, b.pk, 10),
                                   (other_user.pk, b.pk, 10)]) == 4
    assert save_ratings(ratings=[(user.pk, a.pk, 7)]) == 0  # already so: nothing changes
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.rating_count, a.rating_sum, a.mean_rating) == (2, 12, 6.0)
    assert (b.rating_count, b.rating_sum, b.mean_rating) == (2, 20, 10.0)
    with pytest.raises(Exception, match="1 to 10"):
        save_ratings(ratings=[(user.pk, b.pk, 4), (other_user.pk, b.pk, 0)])
    b.refresh_from_db()
    assert (b.rating_count, b.rating_sum) == (2, 20)  # nothing of a refused import is kept
    assert_counters_right()


@pytest.mark.django_db
def test_an_accounts_ratings_leave_the_counters_with_it(user, other_user, make_trailer, staff_client):
    a, b = make_trailer(), make_trailer()
    predict([a, b])
    for trailer, mine, theirs in ((a, 10, 4), (b, 2, 6)):
        rate_trailer(user=user, trailer=trailer, score=mine)
        rate_trailer(user=other_user, trailer=trailer, score=theirs)
    # Deleted in the admin, as staff would.
    response = staff_client.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not User.objects.filter(pk=user.pk).exists()
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.rating_count, a.rating_sum, a.mean_rating) == (1, 4, 4.0)
    assert (b.rating_count, b.rating_sum, b.mean_rating) == (1, 6, 6.0)
    other_user.delete()
    assert_counters_right()
    assert Trailer.objects.filter(rating_count=0).count() == 2


@pytest.mark.django_db
def test_the_admin_writes_ratings_through_the_same_rule(staff_client, user, make_trailer):
    trailer = make_trailer()
    response = staff_client.post("/admin/trailers/rating/add/", {"user": user.pk, "trailer": trailer.pk, "score": 7})
    assert response.status_code == 302
    rating = Rating.objects.get()
    trailer.refresh_from_db()
    assert (trailer.rating_count, trailer.mean_rating) == (1, 7.0)
    response = staff_client.post(f"/admin/trailers/rating/{rating.pk}/change/", {"score": 3})
    assert response.status_code == 302
    trailer.refresh_from_db()
    assert (trailer.rating_count, trailer.mean_rating) == (1, 3.0)
    response = staff_client.post("/admin/trailers/rating/", {"action": "delete_selected", "_selected_action": [rating.pk],
                                                             "post": "yes"})
    assert response.status_code == 302 and not Rating.objects.exists()
    trailer.refresh_from_db()
    assert (trailer.rating_count, trailer.rating_sum, trailer.mean_rating) == (0, 0, None)


@pytest.mark.django_db
def test_recounting_repairs_counters_of_ratings_written_around_the_services(user, other_user, make_trailer):
    a, b = make_trailer(), make_trailer()
    predict([a, b])
    Rating.objects.bulk_create([Rating(user=user, trailer=a, score=9), Rating(user=other_user, trailer=a, score=4),
                                Rating(user=user, trailer=b, score=1)])  # a raw bulk load: no counters moved
    assert counters()[a.pk] == (0, 0, None)
    assert recount_ratings(trailer_ids=[a.pk, b.pk]) == 2
    assert counters()[a.pk] == (2, 13, 6.5) and counters()[b.pk] == (1, 1, 1.0)
    assert_counters_right()
