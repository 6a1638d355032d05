"""Ingest: take a file from an upload, the API or `import_trailers`, and make it a queued Trailer.

The file is hashed and probed from a local file (an upload Django already streamed to disk is used
where it lies; anything else is copied, hashing as it goes) and refused with the probe's message if it
cannot serve as a trailer; nothing of a refused file is kept. An accepted file goes to the media store
under a generated name (an object store gets it in 8 MB parts, never the whole file in memory), and only
then is its row written. Preprocessing is enqueued only once the row is committed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat

from ml.files import out_of_room
from ml.video import VideoError, probe
from trailers import store
from trailers.errors import NO_ROOM, ServiceError
from trailers.models import Trailer, trailer_upload_to
from trailers.signals import delete_stored
from trailers.uploads import incoming_folder

from .preprocess import sampling_config
from .queue import enqueue_preprocessing
from .trailers import distinct_title

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024


class IngestError(ServiceError):
    """A file refused at upload; ``message`` says why in plain words, ``duplicate_of`` the trailer it repeats."""

    field = "file"

    def __init__(self, message: str, *, code: str = "invalid", duplicate_of: Trailer | None = None):
        super().__init__(message, code=code, status={"throttled": 429, "no_space": 503}.get(code, 400))
        self.duplicate_of = duplicate_of

    def details(self) -> dict:
        return {} if self.duplicate_of is None else {"duplicate_of": self.duplicate_of.pk}


def too_large_message(size: int | None = None) -> str:
    """What a person reads when a file is over TRAILER_MAX_BYTES (its size, where known)."""
    limit = filesizeformat(settings.TRAILER_MAX_BYTES)
    if size:
        return f"The file is too large: {filesizeformat(size)}, and the limit is {limit}."
    return f"The file is too large: the limit is {limit}."


def check_size(size: int | None) -> None:
    """Refuse a file larger than TRAILER_MAX_BYTES (before any of it is read)."""
    if size is not None and size > settings.TRAILER_MAX_BYTES:
        raise IngestError(too_large_message(size), code="too_large")


def ingest_trailer(
    *,
    source: BinaryIO | str | os.PathLike,
    original_name: str,
    user=None,
    title: str | None = None,
    reference_score: float | None = None,
    size: int | None = None,
) -> Trailer:
    """Store, probe and register one trailer; raise IngestError (keeping nothing) if it is refused.

    ``source`` is an open binary file (an upload) or a path (an import). A file whose
    sha256 matches a stored trailer is refused as a duplicate, naming that trailer.
    """
    if isinstance(source, str | os.PathLike):
        size = os.path.getsize(source) if size is None else size
    check_size(size)
    original_name = os.path.basename(str(original_name))[:255] or "trailer"
    _check_reference_score(reference_score)

    try:
        temp_path, digest, copied, ours = _local_file(source, original_name)
    except OSError as exc:
        if out_of_room(exc):  # each file of a batch is told apart: the ones stored before it stay, and say so
            log.error("no room to keep an upload (%s): %s", original_name, exc)
            raise IngestError(NO_ROOM, code="no_space") from exc
        raise
    try:
        if copied == 0:
            raise IngestError(f"{original_name}: the file is empty (0 bytes).", code="empty")
        duplicate = Trailer.objects.filter(sha256=digest).first()
        if duplicate:
            raise _duplicate(duplicate)
        try:
            info = probe(temp_path)
        except VideoError as exc:
            # The probe names the file it read: the temporary copy. People know it by its own name.
            raise IngestError(exc.naming(original_name), code="not_a_video") from exc
        try:
            sampling_config().plan(info.duration)  # the rule preprocessing would fail it by, known now
        except VideoError as exc:
            raise IngestError(f"{original_name} cannot be sampled: {exc}.", code="too_short") from exc

        trailer = Trailer(
            original_name=original_name,
            uploaded_by=user if user is not None and user.is_authenticated else None,
            duration=info.duration, fps=info.fps, width=info.width, height=info.height,
            codec=info.codec[:50], container=info.container[:50], has_audio=info.has_audio,  # the columns hold 50
            size_bytes=copied, sha256=digest,
            reference_score=float(reference_score) if reference_score is not None else None,
        )  # fmt: skip
        name = trailer_upload_to(trailer, original_name)
        try:
            # In the store before its row exists: a row never names a file that is not there.
            trailer.file.name = store.publish(temp_path, name, cache=False)
        except store.StoreUnavailable as exc:
            raise IngestError("The file could not be stored: the media store cannot be reached just now. "
                              "Please try again in a moment.", code="storage_unavailable") from exc
        try:
            with transaction.atomic():
                # Chosen where it is saved: uploads of good.mp4 and good.mkv at the same moment each get their own.
                trailer.title = distinct_title(title or Path(original_name).stem, original_name)
                trailer.save()
                transaction.on_commit(lambda: _enqueue(trailer.pk))
        except IntegrityError:
            # Another upload of the same file won the race.
            delete_stored(default_storage, name)
            raise _duplicate(Trailer.objects.get(sha256=digest)) from None
        except BaseException:
            delete_stored(default_storage, name)
            raise
        return trailer
    finally:
        if ours and os.path.exists(temp_path):
            os.unlink(temp_path)


def set_reference_score(*, trailer: Trailer, score: float | None) -> bool:
    """Give an already stored trailer a reference score (markup read after it came in), or take it away (None);
    True if it changed."""
    _check_reference_score(score)
    value = None if score is None else float(score)
    rows = Trailer.objects.filter(pk=trailer.pk)
    rows = rows.exclude(reference_score__isnull=True) if value is None else rows.exclude(reference_score=value)
    changed = bool(rows.update(reference_score=value))
    trailer.reference_score = value
    return changed


def _check_reference_score(score: float | None) -> None:
    if score is not None and not 0 <= float(score) <= 10:
        raise IngestError(f"The reference score {score} is outside 0–10.", code="invalid_score")


def _enqueue(trailer_id: int) -> None:
    enqueue_preprocessing(trailer_id=trailer_id)


def _duplicate(existing: Trailer) -> IngestError:
    return IngestError(f"This file was already uploaded as “{existing.title}” (trailer #{existing.pk}).",
                       code="duplicate", duplicate_of=existing)


def _local_file(source, original_name: str) -> tuple[str, str, int, bool]:
    """A local file holding the upload: (its path, sha256, size, whether it is a copy of ours to remove).

    An upload Django streamed to a temporary file is hashed where it lies (Django removes that file after
    the request, if it was not moved into the store); a path (an import: the person's own file, never moved)
    or an upload held in memory is copied, hashing as it goes. Either way an oversized file is refused as
    it is read.
    """
    temporary = getattr(source, "temporary_file_path", None)
    if callable(temporary):
        path = temporary()
        digest, size = _hash(path)
        return path, digest, size, False
    incoming = incoming_folder()
    fd, temp_path = tempfile.mkstemp(dir=incoming, suffix=Path(original_name).suffix.lower()[:10])
    try:
        digest, copied = _copy_and_hash(source, fd)
    except BaseException:
        os.unlink(temp_path)
        raise
    return temp_path, digest, copied, True


def _hash(path: str) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            if size > settings.TRAILER_MAX_BYTES:
                check_size(size)
            sha.update(chunk)
    return sha.hexdigest(), size


def _copy_and_hash(source, fd: int) -> tuple[str, int]:
    sha = hashlib.sha256()
    copied = 0
    limit = settings.TRAILER_MAX_BYTES
    own = isinstance(source, str | os.PathLike)
    reader = open(source, "rb") if own else source
    try:
        if hasattr(reader, "seek"):
            reader.seek(0)
        with os.fdopen(fd, "wb") as out:
            while chunk := reader.read(CHUNK):
                copied += len(chunk)
                if copied > limit:
                    check_size(copied)
                sha.update(chunk)
                out.write(chunk)
    finally:
        if own:
            reader.close()
    return sha.hexdigest(), copied
