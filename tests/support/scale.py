"""Many rows, fast: ready trailers with subclips, their ratings and predictions made with bulk_create (the ratings
through the ratings service's bulk import, so the trailers' counters hold), as bench/scale.py makes them. The
query-count tests (tests/web/test_query_counts.py, tests/selectors/) measure lists at two sizes made by these."""

from __future__ import annotations

from django.utils import timezone

from trailers.models import ModelVersion, Prediction, Subclip, Trailer
from trailers.services import save_ratings
from trailers.services.ratings import keep_errors


def grow(n: int, users, versions: list[ModelVersion]) -> list[Trailer]:
    """``n`` more ready trailers with subclips, rated by every user but the first (who rates every other one:
    "rated by me" and "rate next" both have rows), predicted by every version."""
    start = Trailer.objects.count()
    now = timezone.now()
    trailers = Trailer.objects.bulk_create(
        Trailer(title=f"Bulk {i:05d}", original_name=f"b{i}.mp4", file=f"trailers/b{i}.mp4", sha256=f"{i:064x}",
                status=Trailer.Status.READY, duration=30.0, uploaded_at=now, uploaded_by=users[i % len(users)],
                reference_score=5.0 if i % 2 else None)
        for i in range(start, start + n))
    Subclip.objects.bulk_create(Subclip(trailer=t, index=k, start=1.5 * k, duration=1.5, frame_count=4,
                                        frames=f"subclips/{t.pk}/{k}.npy", contact_sheet=f"subclips/{t.pk}/{k}.jpg")
                                for t in trailers for k in range(2))
    save_ratings(ratings=[(u.pk, t.pk, 1 + (t.pk + k) % 10) for t in trailers for k, u in enumerate(users)
                            if k or t.pk % 2])
    predict(trailers, versions)
    return trailers


def predict(trailers: list[Trailer], versions: list[ModelVersion]) -> None:
    """A prediction of every trailer by every version (with its subclips' scores and an ensemble's uncertainty)."""
    for version in versions:
        Prediction.objects.bulk_create(Prediction(model_version=version, trailer=t, score=1 + t.pk % 9,
                                                  subclip_scores=[5.0, 6.0], uncertainty=0.2) for t in trailers)
        keep_errors(trailer_ids=[t.pk for t in trailers], model_version_id=version.pk)  # as scoring keeps them
