"""Reads that the pages and the API share: each returns rows ready to show, in a fixed number of queries.

Per-trailer numbers (mean rating, rating count, your rating, the active model's
prediction) are correlated subqueries, so a page of the dataset is one query
for its rows (plus one to count them) whatever the size of the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Abs, Coalesce
from django.http import Http404

from .models import ModelVersion, Prediction, Rating, Subclip, Trailer, TrainingRun

MAX_ID = 2**63 - 1  # the largest id a database integer column holds


def parse_id(value) -> int | None:
    """``value`` (text from a URL, a query string or a form) as a row id, or None if it cannot be one."""
    text = str(value).strip()
    if not (text.isascii() and text.isdecimal()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def _get(queryset, pk):
    """The row with id ``pk``, or 404 (also when ``pk`` is not an id at all)."""
    number = parse_id(pk)
    row = queryset.filter(pk=number).first() if number is not None else None
    if row is None:
        raise Http404(f"No {queryset.model._meta.verbose_name} with id {str(pk)[:20]}.")
    return row

# --- the dataset ----------------------------------------------------------------------------

# Sort keys a page or the API may ask for, mapped to their expression (descending with a leading "-").
TRAILER_SORTS = {
    "uploaded": "uploaded_at",
    "title": "title",
    "status": "status",
    "duration": "duration",
    "mean": "mean_rating",
    "count": "rating_count",
    "mine": "my_score",
    "reference": "reference_score",
    "predicted": "predicted_score",
}
DEFAULT_TRAILER_SORT = "-uploaded"


@dataclass(frozen=True)
class TrailerFilters:
    """What the dataset page and the trailer API filter and sort by; every field optional."""

    status: str = ""
    rated: str = ""  # "yes": rated by me, "no": not rated by me
    predicted: str = ""  # "yes": the active model has a prediction, "no": it has none
    q: str = ""
    sort: str = DEFAULT_TRAILER_SORT


def _ratings_of_trailer():
    return Rating.objects.filter(trailer=OuterRef("pk")).order_by().values("trailer")


def annotate_trailers(trailers: QuerySet[Trailer], *, user) -> QuerySet[Trailer]:
    """Add mean_rating, rating_count, my_score, predicted_score and predicted_spread (active model) to each row."""
    ratings = _ratings_of_trailer()
    active = Prediction.objects.filter(trailer=OuterRef("pk"), model_version__is_active=True)
    return trailers.annotate(
        mean_rating=Subquery(ratings.annotate(v=Avg("score")).values("v"), output_field=FloatField()),
        rating_count=Coalesce(Subquery(ratings.annotate(v=Count("pk")).values("v"), output_field=IntegerField()),
                              Value(0)),
        my_score=Subquery(Rating.objects.filter(trailer=OuterRef("pk"), user=user).values("score")[:1],
                          output_field=IntegerField()),
        predicted_score=Subquery(active.values("score")[:1], output_field=FloatField()),
        predicted_spread=Subquery(active.values("spread")[:1], output_field=FloatField()),
    )


def _order(queryset: QuerySet, sort: str, sorts: dict[str, str], default: str) -> QuerySet:
    key = sort if sort.lstrip("-") in sorts else default
    expression = F(sorts[key.lstrip("-")])
    ordered = expression.desc(nulls_last=True) if key.startswith("-") else expression.asc(nulls_last=True)
    return queryset.order_by(ordered, "-pk")


def trailer_list(*, user, filters: TrailerFilters | None = None) -> QuerySet[Trailer]:
    """Every trailer with its numbers, filtered, searched and sorted as asked."""
    filters = filters or TrailerFilters()
    trailers = annotate_trailers(Trailer.objects.all(), user=user)
    if filters.status:
        trailers = trailers.filter(status=filters.status)
    if filters.rated in ("yes", "no"):
        mine = Exists(Rating.objects.filter(trailer=OuterRef("pk"), user=user))
        trailers = trailers.filter(mine if filters.rated == "yes" else ~mine)
    if filters.predicted in ("yes", "no"):
        has = Exists(Prediction.objects.filter(trailer=OuterRef("pk"), model_version__is_active=True))
        trailers = trailers.filter(has if filters.predicted == "yes" else ~has)
    if filters.q:
        trailers = trailers.filter(Q(title__icontains=filters.q) | Q(original_name__icontains=filters.q))
    return _order(trailers, filters.sort, TRAILER_SORTS, DEFAULT_TRAILER_SORT)


# --- one trailer ---------------------------------------------------------------------------


@dataclass
class TrailerPage:
    """Everything the trailer page shows."""

    trailer: Trailer
    subclips: list[Subclip]
    my_rating: Rating | None
    distribution: list[tuple[int, int]]  # (score, how many) for 1..10
    predictions: list[Prediction] = field(default_factory=list)  # newest version first

    @property
    def rating_count(self) -> int:
        return sum(n for _, n in self.distribution)

    @property
    def mean_rating(self) -> float | None:
        count = self.rating_count
        return sum(s * n for s, n in self.distribution) / count if count else None

    @property
    def distribution_max(self) -> int:
        return max((n for _, n in self.distribution), default=0)


def get_trailer(*, pk: int | str) -> Trailer:
    return _get(Trailer.objects.all(), pk)


def rating_distribution(*, trailer: Trailer) -> list[tuple[int, int]]:
    counts = dict(Rating.objects.filter(trailer=trailer).order_by().values("score").annotate(n=Count("pk"))
                  .values_list("score", "n"))
    return [(score, counts.get(score, 0)) for score in range(1, 11)]


def my_rating(*, user, trailer: Trailer) -> Rating | None:
    return Rating.objects.filter(user=user, trailer=trailer).first()


def trailer_page(*, pk: int, user) -> TrailerPage:
    trailer = get_trailer(pk=pk)
    predictions = list(
        Prediction.objects.filter(trailer=trailer).select_related("model_version").order_by("-model_version__number")
    )
    subclips = list(trailer.subclips.order_by("index"))
    for prediction in predictions:
        # Pair each subclip with its score (the scores follow the subclips' order).
        prediction.per_subclip = list(zip(subclips, prediction.subclip_scores, strict=False))
    return TrailerPage(trailer=trailer, subclips=subclips, my_rating=my_rating(user=user, trailer=trailer),
                       distribution=rating_distribution(trailer=trailer), predictions=predictions)


def first_contact_sheet(*, trailer_pk: int | str) -> Subclip | None:
    trailer_pk = parse_id(trailer_pk)
    if trailer_pk is None:
        return None
    return Subclip.objects.filter(trailer_id=trailer_pk).exclude(contact_sheet="").order_by("index").first()


def get_subclip(*, pk: int | str) -> Subclip:
    return _get(Subclip.objects.all(), pk)


def next_to_rate(*, user, skip: list[int] | tuple[int, ...] = ()) -> Trailer | None:
    """The ready trailer with the fewest ratings that ``user`` has not rated (oldest first among equals)."""
    count = Coalesce(Subquery(_ratings_of_trailer().annotate(v=Count("pk")).values("v"),
                              output_field=IntegerField()), Value(0))
    return (
        Trailer.objects.filter(status=Trailer.Status.READY)
        .exclude(Exists(Rating.objects.filter(trailer=OuterRef("pk"), user=user)))
        .exclude(pk__in=list(skip))
        .annotate(rating_count=count)
        .order_by("rating_count", "uploaded_at", "pk")
        .first()
    )


def unrated_count(*, user) -> int:
    return (Trailer.objects.filter(status=Trailer.Status.READY)
            .exclude(Exists(Rating.objects.filter(trailer=OuterRef("pk"), user=user))).count())


# --- runs --------------------------------------------------------------------------------------


def run_list() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("created_by", "model_version")


def get_run(*, pk: int | str) -> TrainingRun:
    return _get(TrainingRun.objects.select_related("created_by", "model_version"), pk)


def run_in_progress_exists() -> bool:
    return TrainingRun.objects.filter(status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]).exists()


@dataclass(frozen=True)
class DatasetSplit:
    total: int
    train: int
    val: int


def run_split(run: TrainingRun) -> DatasetSplit | None:
    if not run.dataset:
        return None
    val = sum(1 for d in run.dataset if d.get("split") == "val")
    return DatasetSplit(total=len(run.dataset), train=len(run.dataset) - val, val=val)


def run_duration_seconds(run: TrainingRun) -> float | None:
    from django.utils import timezone

    if run.started_at is None:
        return None
    end = run.finished_at or timezone.now()
    return max(0.0, (end - run.started_at).total_seconds())


# --- model versions and predictions ----------------------------------------------------------------


def model_versions() -> QuerySet[ModelVersion]:
    return (ModelVersion.objects.select_related("run").annotate(prediction_count=Count("predictions"))
            .order_by("-number"))


def get_model_version(*, pk: int | str) -> ModelVersion:
    return _get(ModelVersion.objects.select_related("run"), pk)


def active_model_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).select_related("run").first()


PREDICTION_SORTS = {
    "title": "trailer__title",
    "predicted": "score",
    "spread": "spread",
    "mean": "mean_rating",
    "count": "rating_count",
    "reference": "trailer__reference_score",
    "error": "abs_error",
}
DEFAULT_PREDICTION_SORT = "-predicted"


@dataclass(frozen=True)
class PredictionFilters:
    q: str = ""
    rated: str = ""  # "yes": has user ratings, "no": has none
    min_score: float | None = None
    max_score: float | None = None
    sort: str = DEFAULT_PREDICTION_SORT


def predictions(*, model_version: ModelVersion | int | None = None, trailer: Trailer | int | None = None,
                filters: PredictionFilters | None = None) -> QuerySet[Prediction]:
    """Predictions with their trailer, version and the trailer's mean user rating, filtered and sorted."""
    filters = filters or PredictionFilters()
    ratings = Rating.objects.filter(trailer=OuterRef("trailer_id")).order_by().values("trailer")
    rows = Prediction.objects.select_related("trailer", "model_version").annotate(
        mean_rating=Subquery(ratings.annotate(v=Avg("score")).values("v"), output_field=FloatField()),
        rating_count=Coalesce(Subquery(ratings.annotate(v=Count("pk")).values("v"), output_field=IntegerField()),
                              Value(0)),
    ).annotate(abs_error=Abs(F("score") - F("mean_rating")))
    if model_version is not None:
        rows = rows.filter(model_version=model_version)
    if trailer is not None:
        rows = rows.filter(trailer=trailer)
    if filters.q:
        rows = rows.filter(trailer__title__icontains=filters.q)
    if filters.rated == "yes":
        rows = rows.filter(rating_count__gt=0)
    elif filters.rated == "no":
        rows = rows.filter(rating_count=0)
    if filters.min_score is not None:
        rows = rows.filter(score__gte=filters.min_score)
    if filters.max_score is not None:
        rows = rows.filter(score__lte=filters.max_score)
    return _order(rows, filters.sort, PREDICTION_SORTS, DEFAULT_PREDICTION_SORT)


def scored_and_ready_counts(*, model_version: ModelVersion) -> tuple[int, int]:
    """How many ready trailers (with subclips, so scorable) the version has scored, and how many there are."""
    ready = Trailer.objects.filter(status=Trailer.Status.READY, subclips__isnull=False).distinct()
    return ready.filter(predictions__model_version=model_version).count(), ready.count()


def predicted_against_rated(rows: QuerySet[Prediction]) -> list[tuple[float, float, str, int]]:
    """(mean user rating, predicted score, trailer title, trailer id) of every row whose trailer has ratings."""
    return list(rows.filter(rating_count__gt=0).order_by()
                .values_list("mean_rating", "score", "trailer__title", "trailer_id"))


def training_labels(version: ModelVersion) -> dict[int, float]:
    """{trailer id: label} of the trailers ``version`` learned from (its run's training split)."""
    return {d["trailer"]: d["label"] for d in version.run.dataset if d.get("split") == "train"}
