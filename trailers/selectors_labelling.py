"""Reads for labelling: which trailer to rate next (and why), and how the raters agree.

Kept beside selectors.py (which the pages and the API share for everything else) because these two
questions have their own rules: the order of rate-next, and the statistics of the raters page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Exists, F, FloatField, OuterRef, Subquery

from ml.agreement import RaterAgreement, RatingTable, krippendorff_alpha, rater_agreement

from .models import ExcludedRater, ModelVersion, Prediction, Rating, Trailer
from .selectors import active_model_version, ensemble_size, get_by_id, parse_id, spreadsheet_safe

# The orders rate-next offers: (key, what the selector calls it).
RATE_ORDERS = {
    "uncertain": "Most uncertain first",
    "fewest": "Fewest ratings first",
    "random": "Random",
}
# Fewest ratings first by default: measured against uncertainty-first on held-out trailers (bench/active_learning.py,
# README), covering every trailer once taught the model more than asking where its small ensemble disagreed.
DEFAULT_RATE_ORDER = "fewest"


@dataclass(frozen=True)
class NextToRate:
    """The trailer rate-next shows, the order that chose it, and why it was chosen, in words."""

    trailer: Trailer | None
    order: str  # the order that chose it
    asked: str  # the order asked for ("uncertain" falls back to "fewest" where no version can say)
    reason: str  # why this trailer, e.g. "The model's guess is 6.1, its fold models disagreeing by ± 1.8: ..."
    fallback: str  # why the order asked for was not used; "" when it was
    version: ModelVersion | None = None


def _unrated(*, user, skip) -> Trailer:
    # rating_count is the trailer's own counter (services/ratings.py keeps it), indexed for this order.
    return (Trailer.objects.filter(status=Trailer.Status.READY)
            .exclude(Exists(Rating.objects.filter(trailer=OuterRef("pk"), user=user)))
            .exclude(pk__in=list(skip)))


def next_to_rate(*, user, skip=(), order: str = DEFAULT_RATE_ORDER) -> NextToRate:
    """The ready trailer ``user`` should rate next, not rated by them and not in ``skip``.

    ``uncertain``: the one the active model version is least sure of (the spread of its ensemble's
    predictions, stored with each prediction); a trailer it has not scored yet comes first, as the least
    known of all. Where no version is active, or the active one is a single model (no ensemble, no
    uncertainty), it falls back to ``fewest``: the fewest ratings first, the oldest first among equals.
    ``random``: any of them.
    """
    asked = order if order in RATE_ORDERS else DEFAULT_RATE_ORDER
    order, fallback, version = asked, "", None
    if asked == "uncertain":
        version = active_model_version()
        if version is None:
            order, fallback = "fewest", "No model version is active, so there is no uncertainty to go by"
        elif ensemble_size(version) < 2:
            order, fallback = "fewest", (f"{version}, the active version, is a single model: it has no ensemble "
                                         "whose disagreement would say how sure it is")
    rows = _unrated(user=user, skip=skip)
    if order == "uncertain":
        mine = Prediction.objects.filter(trailer=OuterRef("pk"), model_version=version)
        rows = rows.annotate(guess=Subquery(mine.values("score")[:1], output_field=FloatField()),
                             uncertainty=Subquery(mine.values("uncertainty")[:1], output_field=FloatField()))
        trailer = rows.order_by(F("uncertainty").desc(nulls_first=True), "rating_count", "uploaded_at",
                                "pk").first()
    elif order == "random":
        trailer = rows.order_by("?").first()
    else:
        trailer = rows.order_by("rating_count", "uploaded_at", "pk").first()
    reason = _reason(trailer, order, version) if trailer else ""
    return NextToRate(trailer=trailer, order=order, asked=asked, reason=reason, fallback=fallback, version=version)


def _reason(trailer: Trailer, order: str, version: ModelVersion | None) -> str:
    count = trailer.rating_count
    ratings = f"{count} rating{'s' if count != 1 else ''}"
    if order == "uncertain":
        if trailer.uncertainty is None:
            return (f"{version} has not scored it yet, so the model knows least about it of all the trailers you "
                    f"have not rated ({ratings} so far).")
        return (f"The model's guess is {trailer.guess:.1f}, its fold models disagreeing by ± {trailer.uncertainty:.1f}: "
                f"of the trailers you have not "
                f"rated, it is least sure of this one ({ratings} so far).")
    if order == "random":
        return f"Picked at random from the trailers you have not rated ({ratings} so far)."
    return f"It has {ratings}: none of the trailers you have not rated has fewer."


def unrated_count(*, user) -> int:
    return _unrated(user=user, skip=()).count()


# --- raters -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RaterRow:
    user: object
    agreement: RaterAgreement
    excluded: ExcludedRater | None


@dataclass(frozen=True)
class RaterStats:
    """The raters page: one row per person who rated, and the agreement of all of them together, and of the
    ones whose ratings make ``user_mean`` labels."""

    rows: list[RaterRow]
    alpha: float | None
    alpha_kept: float | None  # without the raters left out of the labels
    ratings: int
    trailers: int
    multiply_rated: int  # trailers with two ratings or more: what agreement is measured on


def rating_table() -> RatingTable:
    """Every rating as ml.agreement's table: rater (user id), trailer id, score. One query, read straight into
    arrays (a million ratings: no dict per rater)."""
    rows = Rating.objects.order_by().values_list("user_id", "trailer_id", "score")
    columns = np.fromiter(chain.from_iterable(rows.iterator(chunk_size=10_000)), dtype=np.int64).reshape(-1, 3)
    return RatingTable.from_rows(columns[:, 0], columns[:, 1], columns[:, 2].astype(np.float64))


def rater_stats() -> RaterStats:
    table = rating_table()
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=table.raters)}
    excluded = {e.user_id: e for e in ExcludedRater.objects.select_related("excluded_by")}
    agreement = rater_agreement(table)
    rows = sorted((RaterRow(user=users[a.rater], agreement=a, excluded=excluded.get(a.rater)) for a in agreement),
                  key=lambda row: (-row.agreement.count, row.user.username))
    return RaterStats(rows=rows, alpha=krippendorff_alpha(table),
                      alpha_kept=krippendorff_alpha(table.without(excluded)) if excluded else None,
                      ratings=table.size, trailers=table.items, multiply_rated=table.multiply_rated)


# --- the few rows the labelling pages and the API read by id ---------------------------------------


def get_rater(*, pk: int | str):
    """The person with id ``pk``, or 404."""
    return get_by_id(get_user_model().objects.all(), pk)


def trailer_title(*, pk: int) -> str | None:
    """The title of trailer ``pk``, or None once it has been deleted."""
    return Trailer.objects.filter(pk=pk).values_list("title", flat=True).first()


def find_trailer(*, pk: int) -> Trailer | None:
    return Trailer.objects.filter(pk=pk).first()


def rateable_again(*, user, pk: int | str | None) -> Trailer | None:
    """Trailer ``pk`` when ``user`` may rate it now (ready, not rated by them), else None."""
    number = parse_id(pk or "")
    if number is None:
        return None
    return Trailer.objects.filter(pk=number, status=Trailer.Status.READY).exclude(ratings__user=user).first()


# The ratings CSV's columns: what the export writes, and what services.raters.import_ratings reads back.
RATING_CSV_COLUMNS = ["trailer_id", "sha256", "title", "username", "score", "updated_at"]


def rating_csv_rows() -> Iterator[list]:
    """Every rating as a row of :data:`RATING_CSV_COLUMNS`, by trailer then rater, for the page's download and the
    API's alike; text a spreadsheet would run as a formula is quoted (:func:`spreadsheet_safe`; the import takes
    the quote off again)."""
    # Plain values, not three model objects a row: 50,000 ratings download in 0.85 s, against 2.9-5 s before.
    rows = Rating.objects.order_by("trailer_id", "user__username").values_list(
        "trailer_id", "trailer__sha256", "trailer__title", "user__username", "score", "updated_at")
    for trailer_id, sha256, title, username, score, updated_at in rows.iterator(chunk_size=1000):
        yield [trailer_id, sha256, spreadsheet_safe(title), spreadsheet_safe(username), score, updated_at.isoformat()]
