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
    """Add mean_rating, rating_count, my_score, and the active model's predicted_score, predicted_spread (over
    subclips) and predicted_uncertainty (over its ensemble's members) to each row."""
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
        predicted_uncertainty=Subquery(active.values("uncertainty")[:1], output_field=FloatField()),
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
        prediction.ensemble = ensemble_size(prediction.model_version)
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


def is_cross_validated(run: TrainingRun) -> bool:
    """Whether ``run`` cross-validates (K folds by trailer) rather than fitting one model on a validation split.

    Known from its estimate once it has succeeded, from its frozen dataset once a worker started it, and from
    its options before that (runs made before folds existed have no ``folds`` option: they are single splits).
    """
    if run.cross_validation:
        return True
    if run.dataset:
        return any(d.get("split") == "cv" for d in run.dataset)
    if any("fold" in m for m in run.metrics):
        return True
    return (run.train_config.get("folds") or 1) >= 2


def run_folds(run: TrainingRun) -> int | None:
    """How many folds ``run`` has (or will have); None for a run without folds."""
    if not is_cross_validated(run):
        return None
    if run.cross_validation.get("folds"):
        return run.cross_validation["folds"]
    folds = run.train_config.get("folds") or 5
    # ml.crossval makes fewer folds when there are fewer trailers than folds.
    return min(folds, len(run.dataset)) if run.dataset else folds


def current_fold(run: TrainingRun) -> int | None:
    """The fold of the run's last finished epoch (its live progress); None without folds or before any epoch."""
    folds = [m["fold"] for m in run.metrics if m.get("fold") is not None]
    return folds[-1] if folds else None


@dataclass(frozen=True)
class DatasetSplit:
    """The frozen dataset's size: ``train``/``val`` for a run fit on a validation split; ``cross_validated``
    for a run whose every trailer is held out once (and trained on by the other folds' models)."""

    total: int
    train: int
    val: int
    cross_validated: int = 0


def run_split(run: TrainingRun) -> DatasetSplit | None:
    if not run.dataset:
        return None
    splits = [d.get("split") for d in run.dataset]
    return DatasetSplit(total=len(splits), train=splits.count("train"), val=splits.count("val"),
                        cross_validated=splits.count("cv"))


def epoch_history(run: TrainingRun) -> list[dict]:
    """The run's per-epoch metrics as one curve: as stored for a run without folds; for a cross-validated run,
    each epoch averaged over the folds that have reached it (``folds`` says how many)."""
    if not any(m.get("fold") is not None for m in run.metrics):
        return list(run.metrics)
    return average_over_folds(run.metrics)


def average_over_folds(metrics: list[dict]) -> list[dict]:
    """Per-epoch metrics averaged over folds (numbers only; an epoch some folds lack averages the others).

    The same averaging as ml.crossval.average_histories, which the web process cannot import (it loads torch).
    """
    by_epoch: dict[int, list[dict]] = {}
    for entry in metrics:
        by_epoch.setdefault(entry["epoch"], []).append(entry)
    out = []
    for epoch in sorted(by_epoch):
        rows = by_epoch[epoch]
        merged: dict = {"epoch": epoch, "folds": len(rows)}
        names = [name for row in rows for name in row if name not in ("epoch", "fold")]
        for name in dict.fromkeys(names):
            values = [r[name] for r in rows if isinstance(r.get(name), int | float) and not isinstance(r[name], bool)]
            merged[name] = sum(values) / len(values) if values else None
        out.append(merged)
    return out


# The roles a cross-validation scores on the same folds, in the order the run page shows them: (name, what it is).
ESTIMATE_ROLES = {
    "model": ("This run's model", "the LRCN: the encoder, then an LSTM over the frames"),
    "mean_baseline": ("Mean-rating baseline", "always predicts the training folds' mean rating"),
    "single_frame": ("Single-frame head", "the same encoder, its frames averaged: no LSTM"),
}


@dataclass(frozen=True)
class EstimateRow:
    role: str
    name: str
    description: str
    mae: dict  # {"mean", "sd"}
    rmse: dict
    spearman: dict

    @property
    def label(self) -> str:
        return f"{self.name} ({self.description})"


@dataclass(frozen=True)
class FoldRow:
    fold: int
    trailers: int
    train_trailers: int
    model_mae: float | None
    baseline_mae: float | None
    single_frame_mae: float | None
    spearman: float | None


@dataclass(frozen=True)
class GroupMember:
    pk: int
    title: str | None  # None: the trailer has been deleted since


@dataclass(frozen=True)
class CrossValidation:
    """A cross-validated run's held-out estimate, ready to show."""

    folds: int
    trailers: int
    summary: list[EstimateRow]
    per_fold: list[FoldRow]
    groups: list[list[GroupMember]]
    duplicate_threshold: float | None
    duplicates_checked: bool
    embedded_on_demand: int
    stop_reason: str

    def role(self, name: str) -> EstimateRow | None:
        return next((row for row in self.summary if row.role == name), None)

    @property
    def model(self) -> EstimateRow | None:
        return self.role("model")

    @property
    def mean_baseline(self) -> EstimateRow | None:
        return self.role("mean_baseline")

    @property
    def single_frame(self) -> EstimateRow | None:
        return self.role("single_frame")

    @property
    def grouped_trailers(self) -> int:
        return sum(len(group) for group in self.groups)


def _spread(value) -> dict:
    value = value if isinstance(value, dict) else {}
    return {"mean": value.get("mean"), "sd": value.get("sd")}


def cross_validation(run: TrainingRun) -> CrossValidation | None:
    """The run's cross-validated estimate (``TrainingRun.cross_validation``), None for a run without one; the
    near-duplicate groups name their trailers (one query)."""
    estimate = run.cross_validation or {}
    if not estimate:
        return None
    summary = []
    for role, (name, description) in ESTIMATE_ROLES.items():
        figures = (estimate.get("summary") or {}).get(role)
        if figures:
            summary.append(EstimateRow(role=role, name=name, description=description, mae=_spread(figures.get("mae")),
                                       rmse=_spread(figures.get("rmse")), spearman=_spread(figures.get("spearman"))))
    per_fold = []
    for fold in estimate.get("per_fold") or []:
        def figure(role, name, fold=fold):
            return (fold.get(role) or {}).get(name)

        per_fold.append(FoldRow(
            fold=fold.get("fold"), trailers=fold.get("trailers", len(fold.get("test") or [])),
            train_trailers=fold.get("train_trailers"), model_mae=figure("model", "mae"),
            baseline_mae=figure("mean_baseline", "mae"), single_frame_mae=figure("single_frame", "mae"),
            spearman=figure("model", "spearman"),
        ))
    raw_groups = [list(g) for g in estimate.get("groups") or []]
    ids = {parse_id(pk) for group in raw_groups for pk in group} - {None}
    titles = dict(Trailer.objects.filter(pk__in=ids).values_list("pk", "title")) if ids else {}
    groups = [[GroupMember(pk=parse_id(pk) or 0, title=titles.get(parse_id(pk))) for pk in group]
              for group in raw_groups]
    return CrossValidation(
        folds=estimate.get("folds") or len(per_fold), trailers=estimate.get("trailers") or 0, summary=summary,
        per_fold=per_fold, groups=groups, duplicate_threshold=estimate.get("duplicate_threshold"),
        duplicates_checked=bool(estimate.get("duplicates_checked", True)),
        embedded_on_demand=estimate.get("embedded_on_demand") or 0, stop_reason=estimate.get("stop_reason", ""),
    )


@dataclass(frozen=True)
class RunFrames:
    """What the frames of a run's dataset are, as they are stored now: how many subclips its trailers have
    and how long they are (the plan in ``run.sampling`` is only the most a trailer may get)."""

    trailers: int
    subclips: int
    fewest: int  # subclips of the trailer with the fewest
    most: int
    shortest: float  # seconds
    longest: float


def run_frames(run: TrainingRun) -> RunFrames | None:
    """The subclips of the run's frozen dataset (one query); None before it is frozen or when none are left."""
    ids = [d.get("trailer") for d in run.dataset]
    rows = list(Subclip.objects.filter(trailer_id__in=ids).order_by().values_list("trailer_id", "duration"))
    if not rows:
        return None
    per_trailer: dict[int, int] = {}
    for trailer_id, _ in rows:
        per_trailer[trailer_id] = per_trailer.get(trailer_id, 0) + 1
    durations = [d for _, d in rows]
    return RunFrames(trailers=len(per_trailer), subclips=len(rows), fewest=min(per_trailer.values()),
                     most=max(per_trailer.values()), shortest=min(durations), longest=max(durations))


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
    "uncertainty": "uncertainty",
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


def ensemble_size(version: ModelVersion) -> int:
    """How many models ``version`` averages (its cross-validation's fold models); 1 for a single model."""
    return int(version.metrics.get("ensemble") or 1)


def is_cross_validated_version(version: ModelVersion) -> bool:
    return version.metrics.get("estimate") == "cross-validated" or is_cross_validated(version.run)


def training_labels(version: ModelVersion) -> dict[int, float]:
    """{trailer id: label} of the trailers ``version`` learned from: its run's training split, or, for a
    cross-validated run, its whole dataset (each trailer was trained on by K-1 of the K member models)."""
    return {d["trailer"]: d["label"] for d in version.run.dataset if d.get("split") in ("train", "cv")}


def held_out_predictions(version: ModelVersion) -> dict[int, float]:
    """{trailer id: prediction} of a cross-validated version's own dataset, each by the fold model that never
    trained on that trailer (its run's out-of-fold predictions); {} for a version without folds."""
    predictions = (version.run.cross_validation or {}).get("predictions") or {}
    out = {}
    for key, value in predictions.items():
        pk = parse_id(key)
        if pk is not None and isinstance(value, int | float):
            out[pk] = float(value)
    return out


def fold_baselines(version: ModelVersion) -> dict[int, float]:
    """{trailer id: the mean-rating baseline's prediction of it}: the mean label of the folds that trained the
    model that held it out, as the run's mean-rating baseline was scored."""
    labels = {d["trailer"]: d["label"] for d in version.run.dataset}
    out: dict[int, float] = {}
    for fold in (version.run.cross_validation or {}).get("per_fold") or []:
        test = {parse_id(pk) for pk in fold.get("test") or []}
        rest = [label for pk, label in labels.items() if pk not in test]
        if rest:
            mean = sum(rest) / len(rest)
            out.update({pk: mean for pk in test if pk is not None})
    return out
