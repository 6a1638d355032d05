"""Raters: taking back a rating, leaving a rater out of the labels, and ratings to and from CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from trailers.errors import ServiceError
from trailers.ids import parse_id
from trailers.models import ExcludedRater, Rating, Trailer
from trailers.selectors import from_spreadsheet

from .ratings import delete_rating, parse_rating, rate_trailer, save_ratings


class RatingChanged(ServiceError):
    """The rating to take back was changed or removed since it was given (another page, the API): it stays."""

    code = "rating_changed"
    status = 409


def undo_rating(*, user, trailer: Trailer, previous: int | None, given: int,
                given_at: str | None = None) -> Rating | None:
    """Take back ``user``'s rating ``given`` of ``trailer`` (written at ``given_at``, an ISO time, where known):
    their ``previous`` score again, or no rating when they had none. Returns the rating left (None when none is).
    RatingChanged, with nothing changed, when their rating of it is no longer that one (changed, or removed and
    given again, since, elsewhere, even to the same score): taking it back would undo that instead."""
    with transaction.atomic():
        now, written = (Rating.objects.select_for_update().filter(user=user, trailer=trailer)
                        .values_list("score", "updated_at").first() or (None, None))
        if now != given or (given_at is not None and written.isoformat() != given_at):
            since = f"is now {now}/10" if now is not None else "was removed"
            if now == given:
                since = f"was given again ({now}/10) elsewhere"
            raise RatingChanged(f"Your rating of “{trailer.title}” {since} since you gave it {given}/10 here, so "
                                "there is nothing to take back: it is left as it is.")
        if previous is None:
            delete_rating(user=user, trailer=trailer)
            return None
        return rate_trailer(user=user, trailer=trailer, score=previous)


REASON_MAX = 255  # ExcludedRater.reason


def set_rater_excluded(*, user, excluded: bool, by=None, reason: str | None = None) -> bool:
    """Leave ``user``'s ratings out of ``user_mean`` labels (or bring them back). True if that changed anything:
    a rater already left out gets the new ``reason`` where one is given (None keeps the one there). A reason over
    REASON_MAX characters is refused whole. Runs already started keep the labels they froze."""
    if excluded:
        reason = None if reason is None else reason.strip()
        if reason is not None and len(reason) > REASON_MAX:
            error = ServiceError(f"A reason is at most {REASON_MAX} characters; this one has {len(reason)}.",
                                 code="reason_too_long")
            error.field = "reason"
            raise error
        by = by if by is not None and by.is_authenticated else None
        with transaction.atomic():
            row, created = ExcludedRater.objects.select_for_update().get_or_create(
                user=user, defaults={"excluded_by": by, "reason": reason or ""})
            if created or reason is None or row.reason == reason:
                return created
            ExcludedRater.objects.filter(pk=row.pk).update(reason=reason, excluded_by=by)
            return True
    deleted, _ = ExcludedRater.objects.filter(user=user).delete()
    return bool(deleted)


@dataclass
class ImportReport:
    """What an import did: counts, and each refused row with its line number and the reason."""

    created: int = 0
    changed: int = 0
    unchanged: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (f"{self.created} new rating{'s' if self.created != 1 else ''}, {self.changed} changed, "
                f"{self.unchanged} unchanged, {len(self.refused)} row{'s' if len(self.refused) != 1 else ''} "
                "refused")


class RatingsImportError(ServiceError, ValueError):
    """The file cannot be read as a ratings CSV at all; the message says why."""

    code = "unreadable_ratings"
    field = "file"


IMPORT_MAX_BYTES = 20 * 1024 * 1024  # far more than any ratings file; read whole into memory


def refuse_too_large(*, size: int) -> None:
    """RatingsImportError before a file over IMPORT_MAX_BYTES is read."""
    if size > IMPORT_MAX_BYTES:
        raise RatingsImportError(f"it is over {IMPORT_MAX_BYTES // (1024 * 1024)} MB, too large to be a ratings "
                                 "file.", code="too_large")


def _first_line(last_line: int, row: dict) -> int:
    """The file's line a CSV record starts on, as an editor numbers it: the reader counts to the record's last line,
    and a quoted value may hold line breaks (blank lines between records are counted, not numbered)."""
    values = [v for value in row.values() for v in (value if isinstance(value, list) else [value])]
    return last_line - sum(v.count("\n") for v in values if isinstance(v, str))


KEY_COLUMNS = ("username", "score", "trailer_id", "sha256")


def _refuse_runaway_quote(number: int, row: dict, last_line: int) -> None:
    """A value the import reads never holds a line break: where one does, a quote opened in it never closed where it
    should have, and the reader took the lines after it into that one value. Every row from there would be lost
    unnoticed, so the whole file is refused."""
    for name in KEY_COLUMNS:
        if "\n" in row.get(name, "") or "\r" in row.get(name, ""):
            raise RatingsImportError(
                f"Line {number}: a quote in the {name} column opens a value that runs on to line {last_line}, "
                "so the lines between would be read as part of it. Close or remove the quote and send the file "
                "again; nothing was imported.")


def import_ratings(*, data: bytes) -> ImportReport:
    """Read a ratings CSV (as the export writes it: ``username``, ``score`` and ``trailer_id`` or ``sha256``;
    other columns are ignored) and save every row that names a known person, a known trailer and a rating the
    pages would take; refuse the others, each with its line and reason. Nobody's account is created."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RatingsImportError("The file is not UTF-8 text: save the CSV as UTF-8 and send it again.") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        columns = {(name or "").strip().lower() for name in reader.fieldnames or []}
    except csv.Error as error:
        raise RatingsImportError(f"Its first line cannot be read as CSV ({error}); a quote is probably missing. "
                                 "Nothing was imported.") from None
    if "username" not in columns or "score" not in columns or not columns & {"trailer_id", "sha256"}:
        raise RatingsImportError(f"A ratings CSV needs the columns username, score and trailer_id or sha256; this one has "
                           f"{', '.join(sorted(c for c in columns if c)) or 'none'}.")
    rows, read = [], reader.line_num
    try:
        for row in reader:
            number, read = _first_line(reader.line_num, row), reader.line_num
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k and isinstance(v, str | None)}
            _refuse_runaway_quote(number, row, reader.line_num)
            rows.append((number, row))
    except csv.Error as error:  # strict: a quote still open at the end of the file, or text right after a closing one
        raise RatingsImportError(f"After line {read}, the file cannot be read as CSV ({error}): a quote is probably "
                                 "missing or misplaced. Nothing was imported.") from None
    for _, row in rows:  # the export quotes a name a spreadsheet would read as a formula
        row["username"] = from_spreadsheet(row.get("username", ""))
    users = {u.username: u for u in get_user_model().objects.filter(username__in={r.get("username") for _, r in rows})}
    by_sha = dict(Trailer.objects.filter(sha256__in={r.get("sha256") for _, r in rows if r.get("sha256")})
                  .values_list("sha256", "pk"))
    ids = {parse_id(r["trailer_id"]) for _, r in rows if r.get("trailer_id")} - {None}
    known_ids = set(Trailer.objects.filter(pk__in=ids).values_list("pk", flat=True))
    report, seen, wanted = ImportReport(), {}, {}
    with transaction.atomic():
        for number, row in rows:
            user = users.get(row.get("username", ""))
            if user is None:
                report.refused.append((number, f"no account is called {row.get('username', '')!r}"))
                continue
            sha, raw_id = row.get("sha256", ""), row.get("trailer_id", "")
            trailer_id = by_sha.get(sha) if sha else parse_id(raw_id)
            if trailer_id is None or (not sha and trailer_id not in known_ids):
                what = f"sha256 {sha[:12]}…" if sha else f"id {raw_id!r}"
                report.refused.append((number, f"no trailer has the {what}"))
                continue
            try:
                score = parse_rating(row.get("score", ""))
            except ValidationError as error:
                report.refused.append((number, " ".join(error.message_dict["score"])))
                continue
            key = (user.pk, trailer_id)
            if key in seen:
                report.refused.append((number, f"{user.username} rated this trailer on line {seen[key]} already"))
                continue
            seen[key] = number
            wanted[key] = score
        before = {(u, t): s for u, t, s in Rating.objects.filter(
            user_id__in={u for u, _ in wanted}, trailer_id__in={t for _, t in wanted}).values_list(
            "user_id", "trailer_id", "score") if (u, t) in wanted}
        report.created = sum(key not in before for key in wanted)
        report.changed = sum(key in before and before[key] != score for key, score in wanted.items())
        report.unchanged = len(wanted) - report.created - report.changed
        # The ratings service writes them, so the trailers' rating counters move with them.
        save_ratings(ratings=[(u, t, score) for (u, t), score in wanted.items() if before.get((u, t)) != score])
    return report
