"""One's own uploads: rename a trailer, delete it (with its files and predictions), or try a failed one again;
and the titles that keep same-named files apart."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from trailers.errors import ServiceError
from trailers.models import Trailer

from .queue import request_preprocessing

TITLE_MAX = 255


class TrailerBusy(ServiceError):
    """The trailer is being processed: the message says to wait."""

    code = "busy"
    status = 409


# The advisory lock that PostgreSQL transactions choosing a title take (any fixed number, this project's own).
TITLE_LOCK = 0x7265656C  # "reel"


def distinct_title(title: str, original_name: str, *, exclude_pk: int | None = None) -> str:
    """``title``, or where another trailer has it already, the title with the file's kind, then a number:
    four files named ``good.*`` become "good", "good (mkv)", "good (webm)", "good (mkv 2)". Call it inside the
    transaction that saves the title: it takes a lock that makes another choice wait until that commits (files
    uploaded together each asked for "good" at the same moment, and all got it)."""
    _lock_titles()
    title = title.strip()[:TITLE_MAX] or "trailer"
    taken = Trailer.objects.exclude(pk=exclude_pk)
    if not taken.filter(title=title).exists():
        return title
    kind = Path(original_name).suffix.lower().lstrip(".")[:10] or "file"
    for n in range(1, 1000):
        suffix = f" ({kind})" if n == 1 else f" ({kind} {n})"
        candidate = title[: TITLE_MAX - len(suffix)] + suffix
        if not taken.filter(title=candidate).exists():
            return candidate
    return title


def _lock_titles() -> None:
    """Until the transaction ends, no other can choose a title. SQLite's transactions (IMMEDIATE, config/settings.py)
    already run one at a time; PostgreSQL's take a transaction-level advisory lock."""
    if not connection.in_atomic_block:
        raise RuntimeError("distinct_title must run inside the transaction that saves the title")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TITLE_LOCK])


def rename_trailer(*, trailer: Trailer, title: str) -> Trailer:
    """Give ``trailer`` a new title (1–255 characters, surrounding spaces dropped; a title another trailer has
    gets the file's kind added, as at upload)."""
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "A title cannot be empty."})
    if len(title) > TITLE_MAX:
        raise ValidationError({"title": f"A title is at most {TITLE_MAX} characters; this one has {len(title)}."})
    with transaction.atomic():
        title = distinct_title(title, trailer.original_name, exclude_pk=trailer.pk)
        Trailer.objects.filter(pk=trailer.pk).update(title=title)
    trailer.title = title
    return trailer


def delete_trailer(*, trailer: Trailer) -> None:
    """Delete ``trailer`` with its ratings, subclips and predictions; its files (the upload, the browser copy,
    frames, contact sheets, embeddings) go once the deletion commits. Runs that trained on it keep their figures
    and show it as deleted. Refused while a worker is processing it."""
    with transaction.atomic():
        locked = Trailer.objects.select_for_update().filter(pk=trailer.pk).first()
        if locked is None:
            return
        refuse_deleting_busy(trailers=[locked])
        locked.delete()


def refuse_deleting_busy(*, trailers: Iterable[Trailer]) -> None:
    """TrailerBusy (409, ``busy``) when one of ``trailers`` is being processed: its worker is writing its subclips.
    delete_trailer asks it of the row it locked; the admin's delete page and action ask it before they confirm."""
    busy = next((trailer for trailer in trailers if trailer.status == Trailer.Status.PROCESSING), None)
    if busy is not None:
        raise TrailerBusy(f"“{busy.title}” is being processed right now: delete it once it is ready or has failed.")


def retry_trailer(*, trailer: Trailer) -> None:
    """Queue a failed trailer to be preprocessed again; a ServiceError (409, ``not_failed``) for one that has not
    failed, or was taken by a worker since."""
    if trailer.status == Trailer.Status.FAILED:
        queued, _ = request_preprocessing(trailer_ids=[trailer.pk])
        if queued:
            return
    raise ServiceError(f"“{trailer.title}” has not failed: there is nothing to try again.", code="not_failed",
                       status=409)
