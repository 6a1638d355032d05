"""Trailers through the real pipeline: ingested from synthetic files, waited for until a worker has processed
them, rated by their hidden rating."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from tests.support.processes import wait_for
from trailers.models import Trailer
from trailers.services import ingest_trailer, rate_trailer


def ingest(synthetic, user=None) -> list[Trailer]:
    return [ingest_trailer(source=t.path, original_name=t.path.name, user=user, reference_score=t.rating)
            for t in synthetic]


def clear_leftovers(trailer: Trailer) -> None:
    """Delete the published frames another test's trailer left under this trailer's id: transactional tests
    empty the tables but not the session's shared media folder, and SQLite gives a deleted row's id again, so
    a test that asserts "nothing was published" would find the other trailer's."""
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "subclips" / str(trailer.pk), ignore_errors=True)


def wait_until_processed(trailers, timeout: float = 90) -> list[Trailer]:
    ids = [t.pk for t in trailers]

    def done():
        rows = list(Trailer.objects.filter(pk__in=ids))
        return rows if all(t.status in (Trailer.Status.READY, Trailer.Status.FAILED) for t in rows) else None

    return wait_for(done, timeout=timeout, message=f"trailers {ids} to be processed")


def rate_by_hidden_rating(trailers, synthetic, users) -> None:
    for trailer, truth in zip(trailers, synthetic, strict=False):
        for offset, user in enumerate(users):
            rate_trailer(user=user, trailer=trailer, score=max(1, min(10, round(truth.rating) + offset % 2)))
