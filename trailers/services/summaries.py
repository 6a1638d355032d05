"""The predictions page's kept figures: made once per version when it has scored, again when they go stale.

Figures over every rated trailer a version scored read every one of its predictions (50,000 at scale, with the
run's dataset and estimate): too much for each view of the page. They are kept in ``PredictionSummary``; a
rating written or removed, a trailer deleted or a trailer scored marks them stale in its own transaction, and the
sweep (every worker, every SWEEP_INTERVAL_SECONDS) makes them again.
"""

from __future__ import annotations

import logging

from django.db.models import Q
from django.utils import timezone

from trailers import selectors
from trailers.models import ModelVersion, Prediction, PredictionSummary

log = logging.getLogger(__name__)


def mark_summaries_stale(*, model_version_id: int | None = None) -> None:
    """Ratings, trailers or predictions changed: the kept figures (of one version, or of all) no longer hold.
    Only rows not yet stale are written, so concurrent writers do not queue on them."""
    rows = PredictionSummary.objects.filter(stale=False)
    if model_version_id is not None:
        rows = rows.filter(model_version_id=model_version_id)
    rows.update(stale=True)


def keep_prediction_summary(*, model_version: ModelVersion) -> PredictionSummary:
    """Compute ``model_version``'s figures over every rated trailer it scored, and keep them.

    The summary is marked fresh before it is computed: a rating that arrives meanwhile marks it stale again,
    so the next sweep takes it in rather than the figures silently missing it.
    """
    started = timezone.now()
    PredictionSummary.objects.update_or_create(model_version=model_version, defaults={"stale": False})
    figures = selectors.prediction_figures(model_version, selectors.predictions(model_version=model_version))
    points, count = figures.pop("points"), figures.pop("matched")  # the same scan counted every prediction...
    if count is None:  # ...unless none is rated
        count = Prediction.objects.filter(model_version=model_version).count()
    PredictionSummary.objects.filter(model_version=model_version).update(figures=figures, points=points,
                                                                         predictions=count, computed_at=started)
    return PredictionSummary.objects.get(model_version=model_version)


def refresh_prediction_summaries() -> int:
    """Make again every stale summary, and the first of every version without one (new versions, and versions
    from before summaries: the version list reads their prediction counts from them); returns how many. A summary
    another worker is making is not made twice."""
    wanted = (ModelVersion.objects.filter(Q(summary__stale=True) | Q(summary__isnull=True))
              .select_related("run").defer("run__dataset", "run__cross_validation").order_by("-is_active", "-number"))
    made = 0
    for version in wanted:
        claimed = PredictionSummary.objects.filter(model_version=version, stale=True).update(stale=False)
        if not claimed and PredictionSummary.objects.filter(model_version=version).exists():
            continue  # another worker took it since
        keep_prediction_summary(model_version=version)
        made += 1
    return made
