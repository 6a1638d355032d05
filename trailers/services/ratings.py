"""Ratings: one per user and trailer, 1–10; rating again changes it.

Every write here also moves the trailer's rating counters (``rating_count``, ``rating_sum``, ``mean_rating``) in
the same transaction, with F() expressions evaluated by the database: two people rating one trailer at the same
moment each add theirs to what the other left, so no rating is lost from a count or a mean. Each prediction's
``error`` (how far it is from the mean) follows its trailer's mean in the same transaction (:func:`keep_errors`,
which scoring calls too). A user's ratings that
go with their account are taken off by ``forget_ratings_of`` (trailers/signals.py calls it); a trailer's go with
the trailer and its counters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, FloatField, IntegerField, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Abs, Cast, Coalesce
from django.utils import timezone

from trailers.errors import ServiceError
from trailers.models import Prediction, Rating, Trailer

from .summaries import mark_summaries_stale

ATTEMPTS = 3  # a rating created by someone else between our look and our write: look again
CHUNK = 2000  # ids per statement (SQLite takes at most 32,766 parameters)


def parse_rating(score) -> int:
    """The one rule for a rating, for the pages and the API alike: a whole number 1–10, given as a number
    or as its plain ASCII digits. No spaces, signs, decimals, exponents (1e1), booleans or other scripts'
    digits (７); the error says what was wrong."""
    if isinstance(score, int) and not isinstance(score, bool):
        value = score
    elif isinstance(score, str) and score.isascii() and score.isdigit():
        value = int(score)
    elif score is None or score == "":
        raise ValidationError({"score": "A rating is a whole number from 1 to 10: none was given."})
    else:
        raise ValidationError({"score": f"A rating is a whole number from 1 to 10, not {score!r}."})
    if not 1 <= value <= 10:
        raise ValidationError({"score": f"A rating is a whole number from 1 to 10; {value} is outside that range."})
    return value


def _counters_moved_by(count: int, total: int) -> dict:
    """UPDATE expressions that add ``count`` ratings summing to ``total`` to a trailer's counters. Each is computed
    by the database from the row as it is when the statement runs (every SET reads the old values)."""
    new_count = F("rating_count") + count
    new_sum = F("rating_sum") + total
    return {
        "rating_count": new_count,
        "rating_sum": new_sum,
        "mean_rating": Case(
            When(rating_count__gt=-count, then=Cast(new_sum, FloatField()) / Cast(new_count, FloatField())),
            default=Value(None, output_field=FloatField()),
        ),
    }


def _move_counters(trailer_ids: Iterable[int], *, count: int, total: int) -> None:
    ids = sorted(set(trailer_ids))  # one order for every writer: fewer lock waits between bulk writers
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        Trailer.objects.filter(pk__in=chunk).update(**_counters_moved_by(count, total))
        keep_errors(trailer_ids=chunk)


def keep_errors(*, trailer_ids: Iterable[int] | None = None, model_version_id: int | None = None) -> int:
    """Set the ``error`` of the given trailers' (or every trailer's) predictions, of one version or all, from
    their trailer's mean rating as it is now; returns how many. Called where the means or the scores change,
    after the change and in its transaction: the trailers' rows are then locked, so no other rating moves a
    mean between the two statements."""
    mean = Subquery(Trailer.objects.filter(pk=OuterRef("trailer_id")).values("mean_rating")[:1])
    rows = Prediction.objects.all()
    if trailer_ids is not None:
        rows = rows.filter(trailer_id__in=list(trailer_ids))
    if model_version_id is not None:
        rows = rows.filter(model_version_id=model_version_id)
    return rows.update(error=Abs(F("score") - mean))


def _ratings_changed() -> None:
    # The kept prediction figures no longer hold; the next sweep makes them again.
    mark_summaries_stale()


def _locked(trailer: Trailer) -> bool:
    """Lock the trailer's row first, as deleting it does (then its ratings go): a rating and a delete at once take
    turns. Locking the rating first deadlocked with a delete, and a rating of a trailer deleted meanwhile failed
    on its foreign key. False when the trailer is gone."""
    return Trailer.objects.select_for_update().filter(pk=trailer.pk).exists()


def rate_trailer(*, user, trailer: Trailer, score) -> Rating:
    """Create or update ``user``'s rating of ``trailer``; refuse anything :func:`parse_rating` refuses. The rating
    returned carries ``previous_score``: the score it replaced (None for a first rating)."""
    value = parse_rating(score)
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                if not _locked(trailer):
                    raise ServiceError(f"“{trailer.title}” was deleted: there is nothing to rate.", code="not_found",
                                       status=404)
                rating = Rating.objects.select_for_update().filter(user=user, trailer=trailer).first()
                previous = rating.score if rating is not None else None
                if rating is None:
                    rating = Rating.objects.create(user=user, trailer=trailer, score=value)
                    _move_counters([trailer.pk], count=1, total=value)
                    _ratings_changed()
                else:
                    old = rating.score
                    rating.score = value
                    rating.save(update_fields=["score", "updated_at"])  # given again: rate next's undo reads it
                    if value != old:  # the same score again changes no mean, nor any version's figures
                        _move_counters([trailer.pk], count=0, total=value - old)
                        _ratings_changed()
            rating.previous_score = previous  # what it replaced, read under the lock (rate next's undo keeps it)
            return rating
        except IntegrityError:
            # The same person's first rating of this trailer arrived twice at once (a double click): the other
            # request created it after we looked; the next attempt finds it and changes it.
            if attempt == ATTEMPTS - 1 or not Rating.objects.filter(user=user, trailer=trailer).exists():
                raise
    raise AssertionError("unreachable")


def delete_rating(*, user, trailer: Trailer) -> bool:
    with transaction.atomic():
        if not _locked(trailer):  # gone, and its ratings with it
            return False
        rating = Rating.objects.select_for_update().filter(user=user, trailer=trailer).first()
        # Deleted by a concurrent request since: it took the rating off the counters, not us.
        if rating is None or not Rating.objects.filter(pk=rating.pk).delete()[0]:
            return False
        _move_counters([trailer.pk], count=-1, total=-rating.score)
        _ratings_changed()
    return True


def save_ratings(*, ratings: Iterable[tuple[int, int, int]]) -> int:
    """Create or change many ratings at once, given as (user id, trailer id, score): the demo's people, an import.

    Each score follows :func:`parse_rating` (a bad one refuses the whole import, naming it). One transaction:
    the ratings are written in bulk, then their trailers are locked and their counters counted again from the
    ratings, which also takes in any single rating another request makes meanwhile. Returns how many ratings
    were created or changed.
    """
    wanted: dict[tuple[int, int], int] = {}
    for user_id, trailer_id, score in ratings:
        wanted[(int(user_id), int(trailer_id))] = parse_rating(score)
    if not wanted:
        return 0
    users = sorted({user for user, _ in wanted})
    trailers = sorted({trailer for _, trailer in wanted})
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                existing: dict[tuple[int, int], Rating] = {}
                for start in range(0, len(trailers), CHUNK):
                    rows = Rating.objects.select_for_update().filter(
                        user_id__in=users, trailer_id__in=trailers[start:start + CHUNK]).only("pk", "user", "trailer",
                                                                                              "score")
                    existing.update({(r.user_id, r.trailer_id): r for r in rows})
                new = [Rating(user_id=u, trailer_id=t, score=s) for (u, t), s in wanted.items() if (u, t) not in existing]
                Rating.objects.bulk_create(new, batch_size=CHUNK)
                now = timezone.now()
                changed = []
                for key, rating in existing.items():
                    if key in wanted and rating.score != wanted[key]:
                        rating.score, rating.updated_at = wanted[key], now
                        changed.append(rating)
                Rating.objects.bulk_update(changed, ["score", "updated_at"], batch_size=CHUNK)
                recount_ratings(trailer_ids=trailers)
                _ratings_changed()
            return len(new) + len(changed)
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def recount_ratings(*, trailer_ids: Iterable[int] | None = None) -> int:
    """Count the given trailers' (or every trailer's) ratings again into their counters; returns how many
    trailers. For writes that went around the services (a bulk load, a repair): the trailers are locked first, so
    a rating made meanwhile is either counted here or added by its own request after, never both or neither."""
    with transaction.atomic():
        ids = sorted(set(trailer_ids)) if trailer_ids is not None else None
        chunks = ([ids[s:s + CHUNK] for s in range(0, len(ids), CHUNK)] if ids is not None else [None])
        done = 0
        for chunk in chunks:
            rows = Trailer.objects.all() if chunk is None else Trailer.objects.filter(pk__in=chunk)
            list(rows.select_for_update().order_by("pk").values_list("pk", flat=True))
            ratings = Rating.objects.filter(trailer=OuterRef("pk")).order_by().values("trailer")
            count = Subquery(ratings.annotate(n=Count("pk")).values("n"), output_field=IntegerField())
            total = Subquery(ratings.annotate(s=Sum("score")).values("s"), output_field=IntegerField())
            done += rows.update(
                rating_count=Coalesce(count, Value(0)), rating_sum=Coalesce(total, Value(0)),
                # Both are NULL for a trailer without ratings, and so is its mean.
                mean_rating=Cast(total, FloatField()) / Cast(count, FloatField()),
            )
            keep_errors(trailer_ids=chunk)
    return done


def delete_ratings(*, rating_ids: Iterable[int]) -> int:
    """Delete these ratings (the admin's bulk delete) and take them off their trailers' counters; returns how
    many went (one deleted meanwhile by its owner is not taken off twice)."""
    ids = sorted(set(rating_ids))
    with transaction.atomic():
        rows = []
        for start in range(0, len(ids), CHUNK):
            rows += Rating.objects.select_for_update().filter(pk__in=ids[start:start + CHUNK]).values_list(
                "pk", "trailer_id", "score")
        for start in range(0, len(rows), CHUNK):
            Rating.objects.filter(pk__in=[pk for pk, _, _ in rows[start:start + CHUNK]]).delete()
        _take_off(rows)
    return len(rows)


def forget_ratings_of(*, user) -> int:
    """Take ``user``'s ratings off their trailers' counters and delete them (their account is going): call it
    inside the transaction that deletes the account. Returns how many ratings went."""
    with transaction.atomic():
        rows = list(Rating.objects.select_for_update().filter(user=user).values_list("pk", "trailer_id", "score"))
        Rating.objects.filter(user=user).delete()
        _take_off(rows)
    return len(rows)


def _take_off(rows: list[tuple[int, int, int]]) -> None:
    """Move the counters of the trailers of deleted (rating id, trailer id, score) rows: one UPDATE per distinct
    (how many, how much) a trailer lost, rather than one per trailer."""
    lost: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for _, trailer_id, score in rows:
        lost[trailer_id][0] += 1
        lost[trailer_id][1] += score
    by_amount: dict[tuple[int, int], list[int]] = defaultdict(list)
    for trailer_id, (count, total) in lost.items():
        by_amount[(count, total)].append(trailer_id)
    for (count, total), trailer_ids in sorted(by_amount.items()):
        _move_counters(trailer_ids, count=-count, total=-total)
    if rows:
        _ratings_changed()
