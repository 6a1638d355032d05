"""Labelling pages: rate next (fewest ratings first, or by the model's uncertainty; with keys and undo) and the raters page.

Views read through selectors and write through services, as in views.py.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from . import selectors, selectors_labelling, throttles
from .bodies import takes_files
from .downloads import csv_download
from .errors import ServiceError, show
from .models import Trailer
from .permissions import IMPORT_RATINGS, MANAGE_RATERS, REFUSALS, VIEW_RATERS, can
from .services import rate_trailer
from .services.raters import (
    IMPORT_MAX_BYTES,
    RatingChanged,
    import_ratings,
    refuse_too_large,
    set_rater_excluded,
    undo_rating,
)

UNDO_KEY = "rate_undo"  # the session's stack of [trailer id, previous score or None, score given, when given]
UNDO_DEPTH = 20


def _skip_list(raw: str) -> list[int]:
    return [n for n in map(selectors.parse_id, raw.split(",")[:500]) if n is not None]


def _order(request) -> str:
    order = request.GET.get("order") or request.POST.get("order") or ""
    return order if order in selectors_labelling.RATE_ORDERS else selectors_labelling.DEFAULT_RATE_ORDER


def rate_next_url(*, order: str, skip: list[int] = (), show: int | None = None) -> str:
    query = {}
    if order != selectors_labelling.DEFAULT_RATE_ORDER:
        query["order"] = order
    if skip:
        query["skip"] = ",".join(map(str, skip))
    if show:
        query["show"] = show
    return reverse("rate_next") + (f"?{urlencode(query)}" if query else "")


def _last_undo(request) -> dict | None:
    stack = request.session.get(UNDO_KEY) or []
    if not stack:
        return None
    trailer_id, previous, score, *when = stack[-1]
    title = selectors_labelling.trailer_title(pk=trailer_id)
    return ({"trailer": trailer_id, "title": title, "previous": previous, "score": score,
             "given_at": when[0] if when else ""} if title else None)


def _take_entry(stack: list, trailer_id: str, given_at: str) -> list | None:
    """The undo entry the page's button named (its trailer, and when its rating was given: another tab of the same
    session may have rated since), taken out of ``stack``; the last entry where the page named none (a page from
    before)."""
    if not given_at:
        return stack.pop() if stack else None
    for index in range(len(stack) - 1, -1, -1):
        if len(stack[index]) > 3 and stack[index][3] == given_at and str(stack[index][0]) == trailer_id:
            return stack.pop(index)
    return None


def _shown_again(request, raw) -> Trailer | None:
    """A trailer asked for by ``show`` (the one whose rating was just taken back), if it can be rated."""
    return selectors_labelling.rateable_again(user=request.user, pk=raw)


def _render(request, *, order: str, skip: list[int], show=None, status: int = 200):
    shown = _shown_again(request, show if show is not None else request.GET.get("show"))
    if shown is not None:
        choice = selectors_labelling.NextToRate(
            trailer=shown, order=order, asked=order, fallback="",
            reason="You took back your rating of it: rate it again, or skip it.")
    else:
        choice = selectors_labelling.next_to_rate(user=request.user, skip=skip, order=order)
    trailer = choice.trailer
    context = {
        "choice": choice, "trailer": trailer, "scores": range(1, 11),
        "p": selectors.trailer_page(pk=trailer.pk, user=request.user) if trailer else None,
        "remaining": selectors_labelling.unrated_count(user=request.user), "skipped": len(skip),
        "orders": selectors_labelling.RATE_ORDERS.items(), "order": order,
        "action_url": rate_next_url(order=order, skip=skip),
        "skip_url": rate_next_url(order=order, skip=[*skip, trailer.pk]) if trailer else None,
        "unskip_url": rate_next_url(order=order), "undo": _last_undo(request),
        "undo_url": reverse("rate_undo") + rate_next_url(order=order, skip=skip).removeprefix(reverse("rate_next")),
    }
    # A history restore (Back to a skip's address) asks for the whole page: its answer replaces the body.
    part = request.htmx and not request.htmx.history_restore_request
    template = "trailers/_rate_next.html" if part else "trailers/rate_next.html"
    return render(request, template, context, status=status)


@login_required
def rate_next(request):
    """Unrated trailers in the order chosen (fewest ratings first by default): rate one and the next appears,
    in place when the page's script is on (keys 1–9 and 0, S to skip, U to undo), by a redirect when it is not."""
    order, skip = _order(request), _skip_list(request.GET.get("skip", ""))
    if request.method != "POST":
        return _render(request, order=order, skip=skip)
    trailer = selectors.get_trailer(pk=request.POST.get("trailer", "")) if selectors.parse_id(
        request.POST.get("trailer", "")) else None
    status = 200
    refusal = throttles.rating_refusal(request) if trailer is not None else None
    if trailer is None:
        messages.error(request, "No trailer was given to rate.")
        status = 400
    elif refusal:
        messages.error(request, refusal)
        status = 429
    else:
        try:
            rating = rate_trailer(user=request.user, trailer=trailer, score=request.POST.get("score"))
        except ValidationError as error:
            messages.error(request, " ".join(error.message_dict.get("score", error.messages)))
            status = 400
            if not request.htmx:
                return redirect(rate_next_url(order=order, skip=skip, show=trailer.pk))
            return _render(request, order=order, skip=skip, show=trailer.pk, status=status)
        except ServiceError as error:  # deleted meanwhile: said, and the next one comes up
            show(request, error)
        else:
            stack = (request.session.get(UNDO_KEY) or [])[-(UNDO_DEPTH - 1):]
            # What it replaced as the rating read it under its lock: read before, a rating given elsewhere at the
            # same moment was missed, and undo then removed the rating instead of giving that one back.
            request.session[UNDO_KEY] = [*stack, [trailer.pk, rating.previous_score, rating.score,
                                                  rating.updated_at.isoformat()]]
            messages.success(request, f"Saved: you rated “{trailer.title}” {rating.score}/10.")
    if not request.htmx:
        return redirect(rate_next_url(order=order, skip=skip))
    return _render(request, order=order, skip=skip, status=status)


@login_required
@require_POST
def rate_undo(request):
    """Take back the rating the page's Undo names (the last one given on this page): the trailer comes back to be
    rated again. Two tabs share the session's entries; each takes back its own."""
    order, skip = _order(request), _skip_list(request.GET.get("skip", ""))
    stack = list(request.session.get(UNDO_KEY) or [])
    given_at = request.POST.get("given_at", "")
    entry = _take_entry(stack, request.POST.get("trailer", ""), given_at)
    shown = None
    if entry is None:
        messages.info(request, "That rating was taken back already (in another tab?), or is too far back to take "
                      "back: there is nothing to take back." if given_at else "There is no rating to take back.")
    else:
        trailer_id, previous, score, *when = entry  # sessions from before kept no time
        request.session[UNDO_KEY] = stack
        trailer = selectors_labelling.find_trailer(pk=trailer_id)
        if trailer is None:
            messages.info(request, "That trailer has been deleted since; there is nothing to take back.")
        else:
            try:
                undo_rating(user=request.user, trailer=trailer, previous=previous, given=score,
                            given_at=when[0] if when else None)
            except RatingChanged as error:
                show(request, error)
            else:
                if previous is None:
                    messages.success(request, f"Undone: your rating of “{trailer.title}” ({score}/10) was removed.")
                else:
                    messages.success(request, f"Undone: your rating of “{trailer.title}” went back from {score}/10 to "
                                              f"{previous}/10.")
                shown = trailer.pk
                skip = [pk for pk in skip if pk != trailer.pk]
    if not request.htmx:
        return redirect(rate_next_url(order=order, skip=skip, show=shown))
    return _render(request, order=order, skip=skip, show=shown or "")


# --- raters -----------------------------------------------------------------------------------------


def _require(request, permission: str) -> None:
    if not can(request.user, permission):
        raise PermissionDenied(REFUSALS[permission])


@login_required
@require_GET
def raters(request):
    _require(request, VIEW_RATERS)
    return render(request, "trailers/raters.html", {
        "stats": selectors_labelling.rater_stats(),
        "can_manage": can(request.user, MANAGE_RATERS), "can_import": can(request.user, IMPORT_RATINGS),
        "columns": selectors_labelling.RATING_CSV_COLUMNS,
    })


@login_required
@require_POST
def rater_exclusion(request, pk: int):
    """Leave a rater out of ``user_mean`` labels (``exclude=1``) or bring them back (``exclude=0``)."""
    _require(request, MANAGE_RATERS)
    user = selectors_labelling.get_rater(pk=pk)
    exclude = request.POST.get("exclude") == "1"
    try:
        changed = set_rater_excluded(user=user, excluded=exclude, by=request.user,
                                     reason=(request.POST.get("reason") or None) if exclude else None)  # blank: none new
    except ServiceError as error:
        show(request, error)
        return redirect("raters")
    if exclude:
        messages.success(request, f"{user.username}'s ratings are left out of the labels of runs started from now on "
                         "(labels from the mean of user ratings)." if changed else
                         f"{user.username} was already left out.")
    else:
        messages.success(request, f"{user.username}'s ratings count in the labels again, for runs started from now on."
                         if changed else f"{user.username} was not left out.")
    return redirect("raters")


@login_required
@require_GET
def ratings_csv(request):
    _require(request, VIEW_RATERS)
    return csv_download(columns=selectors_labelling.RATING_CSV_COLUMNS, rows=selectors_labelling.rating_csv_rows(),
                        filename="reelscore-ratings.csv")


@login_required
@require_POST
@takes_files(lambda: IMPORT_MAX_BYTES)
def ratings_import(request):
    _require(request, IMPORT_RATINGS)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a CSV file of ratings to import.")
        return redirect("raters")
    try:
        refuse_too_large(size=upload.size)
        report = import_ratings(data=upload.read())
    except ServiceError as error:
        show(request, error, prefix=f"{upload.name} was not imported: ")
        return redirect("raters")
    level = messages.WARNING if report.refused else messages.SUCCESS
    messages.add_message(request, level, f"Imported {upload.name}: {report.summary}.")
    return render(request, "trailers/ratings_import.html", {"report": report, "name": upload.name})
