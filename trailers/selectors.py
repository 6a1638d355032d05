"""Reads that the pages and the API share: each returns rows ready to show, in a fixed number of queries.

Per-trailer numbers are columns or one-row lookups, never aggregates per row: the mean rating and count are the
trailer's counters (kept by trailers/services/ratings.py); your rating and the active model's prediction are read
for the rows shown, and joined only to sort by them. Pages fetch a page's ids first (in an order an index holds,
trailers.models) and then only those rows (trailers/paging.py), so the hundredth page costs about what the first
does, and a list's query count is the same at 50 trailers or 50,000.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import connections
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    Func,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from ml.config import LRCNConfig, TrainConfig, cross_validation_fits
from ml.metrics import ESTIMATE_ROLES, far_worse, mae, model_words, rmse, spearman

from .ids import MAX_ID, parse_id  # noqa: F401 - MAX_ID: the filters and the API read selectors.MAX_ID
from .models import ModelVersion, Prediction, PredictionSummary, Rating, Subclip, Trailer, TrainingRun
from .permissions import REFUSALS, can_change_trailer
from .standing import RunStanding


def get_by_id(queryset, pk):
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
    "count": ("rating_count", "uploaded_at"),
    "mine": "mine__score",
    "reference": "reference_score",
    "predicted": "active__score",
}
DEFAULT_TRAILER_SORT = "-uploaded"
# Sorted without NULLS LAST, which would keep the database off these columns' indexes (they are never null).
NEVER_NULL = {"pk", "uploaded_at", "title", "status", "rating_count", "trailer__title", "trailer__rating_count",
              "trailer__uploaded_at", "trailer_id", "score", "uncertainty", "spread"}


def active_version_id() -> Subquery:
    """The active model version's id, as a subquery (NULL when none is active)."""
    return Subquery(ModelVersion.objects.filter(is_active=True).values("pk")[:1])


def annotate_trailers(trailers: QuerySet[Trailer], *, user) -> QuerySet[Trailer]:
    """Add my_score, and the active model's predicted_score, predicted_spread (over subclips),
    predicted_uncertainty (over its ensemble's members), its 80% interval (predicted_low, predicted_high) and how
    unlike the version's training trailers the trailer looks (predicted_novelty) to each row (mean_rating and
    rating_count are columns).

    Subqueries on one-row indexes, each run only for the rows shown: a page's ids are read without them (they
    are not in its filters or order), and its count too."""
    mine = Rating.objects.filter(trailer=OuterRef("pk"), user=user)
    active = Prediction.objects.filter(trailer=OuterRef("pk"), model_version=active_version_id())
    return trailers.annotate(
        my_score=Subquery(mine.values("score")[:1]),
        predicted_score=Subquery(active.values("score")[:1]),
        predicted_spread=Subquery(active.values("spread")[:1]),
        predicted_uncertainty=Subquery(active.values("uncertainty")[:1]),
        predicted_low=Subquery(active.values("low")[:1]),
        predicted_high=Subquery(active.values("high")[:1]),
        predicted_novelty=Subquery(active.values("novelty")[:1]),
    )


def _order(queryset: QuerySet, sort: str, sorts: dict, default: str) -> QuerySet:
    """Order by the sort key's column(s), ties broken by id in the same direction: each order is then one index
    read forwards (ascending) or backwards (descending). Rows without a value come last either way."""
    key = sort if sort.lstrip("-") in sorts else default
    descending = key.startswith("-")
    names = sorts[key.lstrip("-")]
    ordered = []
    for name in (names if isinstance(names, tuple) else (names,)) + ("pk",):
        expression = F(name) if isinstance(name, str) else name
        if isinstance(name, str) and name in NEVER_NULL:
            ordered.append(expression.desc() if descending else expression.asc())
        else:
            ordered.append(expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True))
    return queryset.order_by(*ordered)


def trailer_list(*, user, sort: str = DEFAULT_TRAILER_SORT) -> QuerySet[Trailer]:
    """Every trailer with its numbers, sorted as asked (the dataset's filters: trailers.filters.TrailerFilterSet)."""
    # Sorting by your rating or the active prediction joins them (one row each), rather than running a subquery
    # for every trailer; the join is made only when the order asks for it.
    trailers = annotate_trailers(Trailer.objects.select_related("uploaded_by"), user=user).alias(
        mine=FilteredRelation("ratings", condition=Q(ratings__user=user)),
        active=FilteredRelation("predictions", condition=Q(predictions__model_version=active_version_id())),
    )
    return sort_trailers(trailers, sort)


def sort_trailers(trailers: QuerySet[Trailer], sort: str) -> QuerySet[Trailer]:
    """``trailers`` (from trailer_list) in the order of a TRAILER_SORTS key (the default for an unknown one)."""
    return _order(trailers, sort, TRAILER_SORTS, DEFAULT_TRAILER_SORT)


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
    return get_by_id(Trailer.objects.all(), pk)


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


def own_trailer(*, pk: int | str, user, permission: str) -> Trailer:
    """The trailer ``pk`` for ``user`` to change (``permission``: CHANGE_TRAILER, DELETE_TRAILER): 404 when there is
    none, PermissionDenied with the reason unless it is theirs or they hold the permission (the page and the API)."""
    trailer = get_trailer(pk=pk)
    if not can_change_trailer(user, trailer, permission):
        raise PermissionDenied(REFUSALS[permission])
    return trailer


# Every stored file a row names, by the model whose rows name it.
STORED_FILES = {Trailer: ("file", "browser_copy"), Subclip: ("frames", "contact_sheet", "embeddings"),
                ModelVersion: ("weights",)}


def stored_file_owner(name: str) -> type[Model] | None:
    """The model one of whose rows names the stored file ``name``; None where no row does (a left-over)."""
    for model, fields in STORED_FILES.items():
        named = Q()
        for field_name in fields:
            named |= Q(**{field_name: name})
        if model.objects.filter(named).exists():
            return model
    return None


def get_subclip(*, pk: int | str) -> Subclip:
    return get_by_id(Subclip.objects.all(), pk)


# --- runs --------------------------------------------------------------------------------------


def run_list() -> QuerySet[TrainingRun]:
    """Runs without their dataset or estimate (megabytes at 50,000 trailers), for lists and for one run alike: a list
    shows the split's sizes, which are columns; ``run_estimate`` reads the estimate less what grows with the dataset,
    and the API pages through the dataset (``run_dataset``)."""
    return TrainingRun.objects.select_related("created_by", "model_version").defer(*TrainingRun.LARGE_FIELDS)


def get_run(*, pk: int | str) -> TrainingRun:
    return get_by_id(run_list(), pk)


def find_run(*, pk: int | str) -> TrainingRun | None:
    """The run with id ``pk`` (text from a query string too), or None when there is none."""
    number = parse_id(pk)
    return run_list().filter(pk=number).first() if number is not None else None


def run_page(*, pk: int | str) -> tuple[TrainingRun, dict]:
    """A run for its page, and its estimate without what grows with the dataset (every trailer's held-out
    prediction): the page shows figures per fold and the near-duplicate groups, not 50,000 predictions."""
    run = get_by_id(run_list(), pk)
    return run, run_estimate(run_id=run.pk)


def run_estimate(*, run_id: int) -> dict:
    """Run ``run_id``'s cross-validation estimate ({} before it has one) without what grows with its dataset: every
    trailer's held-out prediction and each fold's list of trailers. Those are in its dataset, a page at a time,
    beside each trailer (``run_dataset``)."""
    keys = [key for key in ESTIMATE_KEYS if key != "predictions"]
    values = TrainingRun.objects.filter(pk=run_id).values_list(*(f"cross_validation__{key}" for key in keys)).first()
    estimate = {key: value for key, value in zip(keys, values or (), strict=False) if value is not None}
    if "per_fold" in estimate:
        estimate["per_fold"] = [{k: v for k, v in fold.items() if k != "test"} for fold in estimate["per_fold"]]
    return estimate


# The keys of TrainingRun.cross_validation (ml.crossval.CrossValResult.estimate()).
ESTIMATE_KEYS = ("folds", "trailers", "summary", "per_fold", "groups", "duplicate_threshold", "duplicate_standout",
                 "duplicates_checked",
                 "embedded_on_demand", "predictions", "stop_reason", "neighbour_weight", "refit")


def get_run_sizes(*, pk: int | str) -> TrainingRun:
    """A run with its split's sizes and little else."""
    return get_by_id(TrainingRun.objects.only("pk", *TrainingRun.split_sizes([])), pk)


def run_dataset(*, run: TrainingRun) -> RunDataset:
    """The run's frozen dataset, [{"trailer", "label", "split", "fold", "held_out_prediction"}, ...], as a sequence
    a paginator slices: each slice is cut from the stored array by the database, and a cross-validated run's fold
    and held-out prediction of each trailer are read for that slice only, so a page never decodes the whole
    (megabytes) in Python."""
    return RunDataset(run)


class RunDataset:
    def __init__(self, run: TrainingRun):
        self.run = run

    def __len__(self) -> int:
        return self.run.dataset_trailers

    def __getitem__(self, index: slice) -> list[dict]:
        start, stop, _ = index.indices(len(self))
        if stop <= start:
            return []
        connection = connections[TrainingRun.objects.db]
        table = connection.ops.quote_name(TrainingRun._meta.db_table)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT jsonb_path_query_array(dataset, ('$[' || %s || ' to ' || %s || ']')::jsonpath) "
                               f"FROM {table} WHERE id = %s", [start, stop - 1, self.run.pk])
                [rows] = cursor.fetchone() or [[]]
                entries = json.loads(rows) if isinstance(rows, str) else rows
            else:
                cursor.execute(f"SELECT value FROM {table}, json_each({table}.dataset) WHERE {table}.id = %s "
                               "ORDER BY CAST(key AS INTEGER) LIMIT %s OFFSET %s", [self.run.pk, stop - start, start])
                entries = [json.loads(value) for (value,) in cursor.fetchall()]
        held_out = self._held_out([entry["trailer"] for entry in entries]) if self.run.dataset_cross_validated else {}
        out = []
        for entry in entries:
            fold, prediction = held_out.get(entry["trailer"], (None, None))
            out.append({**entry, "fold": fold, "held_out_prediction": prediction})
        return out

    def _held_out(self, ids: list[int]) -> dict[int, tuple[int | None, float | None]]:
        """{trailer id: (its fold, its held-out prediction)} for these trailers of the run's estimate: one query,
        which reads the stored estimate once (the folds' lists are expanded once, then matched to these ids)."""
        if not ids:
            return {}
        connection = connections[TrainingRun.objects.db]
        table = connection.ops.quote_name(TrainingRun._meta.db_table)
        if connection.vendor == "postgresql":
            marks = ", ".join(["%s"] * len(ids))
            parameters = [self.run.pk, *ids]
            sql = (f"WITH cv AS MATERIALIZED (SELECT cross_validation->'per_fold' AS folds, "
                   f"cross_validation->'predictions' AS predictions FROM {table} WHERE id = %s), "
                   f"ids AS (SELECT unnest(ARRAY[{marks}]::bigint[]) AS id), "
                   "folds AS (SELECT (f->>'fold')::int AS fold, k.value::bigint AS id FROM cv, "
                   "jsonb_array_elements(cv.folds) f, jsonb_array_elements_text(f->'test') k "
                   "WHERE k.value::bigint IN (SELECT id FROM ids)), "
                   # Expanded once too: a key looked up in the (megabyte) object per id copies the object each time.
                   "held AS (SELECT p.key::bigint AS id, p.value::float AS prediction FROM cv, "
                   "jsonb_each_text(cv.predictions) p WHERE p.key::bigint IN (SELECT id FROM ids)) "
                   "SELECT ids.id, folds.fold, held.prediction FROM ids LEFT JOIN folds ON folds.id = ids.id "
                   "LEFT JOIN held ON held.id = ids.id")
        else:  # the ids as one JSON text: SQLite's json_array() takes at most 127 arguments (a page is up to 500)
            parameters = [self.run.pk, json.dumps([int(pk) for pk in ids])]
            sql = (f"WITH cv AS (SELECT cross_validation AS estimate FROM {table} WHERE id = %s), "
                   "ids AS (SELECT value AS id FROM json_each(%s)), "
                   "folds AS (SELECT json_extract(f.value, '$.fold') AS fold, k.value AS id FROM cv, "
                   "json_each(cv.estimate, '$.per_fold') f, json_each(f.value, '$.test') k "
                   "WHERE k.value IN (SELECT id FROM ids)) "
                   "SELECT ids.id, folds.fold, json_extract(cv.estimate, '$.predictions.\"' || ids.id || '\"') "
                   "FROM cv, ids LEFT JOIN folds ON folds.id = ids.id")
        with connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            return {int(pk): (fold, prediction) for pk, fold, prediction in cursor.fetchall()}


def is_cross_validated(run: TrainingRun) -> bool:
    """Whether ``run`` cross-validates (K folds by trailer) rather than fitting one model on a validation split.

    Known from its estimate once it has succeeded, from its frozen dataset once a worker started it, and from
    its options before that (runs made before folds existed have no ``folds`` option: they are single splits).
    """
    if run.dataset_trailers:
        return run.dataset_cross_validated > 0
    if _loaded(run, "cross_validation") and run.cross_validation:
        return True
    if any("fold" in m for m in run.metrics):
        return True
    return (run.train_config.get("folds") or 1) >= 2


def run_folds(run: TrainingRun, estimate: dict | None = None) -> int | None:
    """How many folds ``run`` has (or will have); None for a run without folds."""
    if not is_cross_validated(run):
        return None
    if estimate is None and _loaded(run, "cross_validation"):
        estimate = run.cross_validation
    if (estimate or {}).get("folds"):
        return estimate["folds"]
    folds = run.train_config.get("folds") or 5
    # ml.crossval makes fewer folds when there are fewer trailers than folds.
    return min(folds, run.dataset_trailers) if run.dataset_trailers else folds


def _loaded(row, name: str) -> bool:
    """Whether ``row`` holds field ``name`` already (reading a deferred one would cost a query)."""
    return name not in row.get_deferred_fields()


def in_refit(run: TrainingRun, folds: int | None) -> bool:
    """Whether the run's progress has reached its last fit, the refit on every trailer (``TrainConfig.refit``),
    after its ``folds`` folds (:func:`run_folds`)."""
    if not folds or not run.train_config.get("refit"):
        return False
    try:
        fits = cross_validation_fits(TrainConfig.saved(run.train_config), LRCNConfig.saved(run.model_config or {}),
                                     folds)
    except (TypeError, ValueError):  # a config no longer valid: say nothing of a refit
        return False
    return run.progress >= (fits - 1) / fits


def current_fold(run: TrainingRun) -> int | None:
    """The fold of the run's last finished epoch (its live progress); None without folds or before any epoch."""
    folds = [m["fold"] for m in run.metrics if m.get("fold") is not None]
    return folds[-1] if folds else None


@dataclass(frozen=True)
class DatasetSplit:
    """The frozen dataset's size: ``train``/``val`` for a run fit on a validation split; ``cross_validated``
    for a run whose every trailer is held out once (and trained on by the other folds' models) in ``folds``."""

    total: int
    train: int
    val: int
    cross_validated: int = 0
    folds: int | None = None

    def __str__(self) -> str:
        if self.cross_validated:
            return f"{self.total} trailers, cross-validated in {self.folds} folds (each held out once)"
        return f"{self.total} trailers: {self.train} train, {self.val} validation"


NOT_FROZEN = "not frozen yet (frozen when a worker starts the run)"
NEVER_FROZEN = "never frozen (the run ended before its trailers were)"


def run_split(run: TrainingRun, estimate: dict | None = None) -> DatasetSplit | None:
    """The run's frozen dataset's size (None before a worker froze it); ``estimate`` as for run_folds."""
    if not run.dataset_trailers:
        return None
    return DatasetSplit(total=run.dataset_trailers, train=run.dataset_train, val=run.dataset_val,
                        cross_validated=run.dataset_cross_validated,
                        folds=run_folds(run, estimate) if run.dataset_cross_validated else None)


def dataset_summary(split: DatasetSplit | None, run: TrainingRun | None = None) -> str:
    """A run's dataset in words, as the run page and the admin say it: its split, or that it is not frozen yet
    (or never was: ``run`` ended without it)."""
    if split is not None:
        return str(split)
    return NEVER_FROZEN if run is not None and run.is_finished else NOT_FROZEN


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
    neighbours_mae: float | None
    spearman: float | None
    model_rmse: float | None = None
    baseline_rmse: float | None = None
    head_mae: float | None = None
    neighbour_weight: float | None = None  # the neighbours' share in this fold's predictions

    @property
    def neighbour_percent(self) -> int | None:
        return None if self.neighbour_weight is None else round(100 * self.neighbour_weight)


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
    neighbour_weight: float | None = None  # the neighbours' share in the version's predictions (None: unmixed)
    duplicate_standout: float | None = None  # near-duplicates also within this share of the typical distance
    refit: bool = False  # one more model fit on every trailer makes the version's predictions

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
    def neighbours(self) -> EstimateRow | None:
        return self.role("neighbours")

    @property
    def far_worse_than_mean(self) -> bool:
        """Whether the model did over ml.metrics.FAR_WORSE times worse than predicting the mean rating (mean MAE over
        the folds): its training most likely went astray."""
        model, mean = self.model, self.mean_baseline
        return model is not None and mean is not None and far_worse(model.mae["mean"], mean.mae["mean"])

    @property
    def beaten_by_neighbours(self) -> bool:
        """Whether the nearest neighbours' mean MAE over the folds is below the model's, to the 3 decimals the page
        shows (the same figure twice is no warning)."""
        model, near = self.model, self.neighbours
        if model is None or near is None or model.mae["mean"] is None or near.mae["mean"] is None:
            return False
        return round(near.mae["mean"], 3) < round(model.mae["mean"], 3)

    @property
    def neighbour_percent(self) -> int | None:
        """The neighbours' share in the version's predictions, in percent (None: the model is the head alone)."""
        return None if self.neighbour_weight is None else round(100 * self.neighbour_weight)

    @property
    def grouped_trailers(self) -> int:
        return sum(len(group) for group in self.groups)


def _spread(value) -> dict:
    value = value if isinstance(value, dict) else {}
    return {"mean": value.get("mean"), "sd": value.get("sd")}


def cross_validation(run: TrainingRun, estimate: dict | None = None) -> CrossValidation | None:
    """The run's cross-validated estimate (``TrainingRun.cross_validation``, or ``estimate`` read apart: see
    run_page), None for a run without one; the near-duplicate groups name their trailers (one query)."""
    estimate = (run.cross_validation if estimate is None else estimate) or {}
    if not estimate:
        return None
    summary = []
    for role, declared in ESTIMATE_ROLES.items():
        name, description = declared.name, declared.description
        if role == "model":
            description = model_words(run.model_config or {})
            if estimate.get("neighbour_weight") is not None:
                description += ", mixed with the nearest neighbours"
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
            neighbours_mae=figure("neighbours", "mae"),
            spearman=figure("model", "spearman"), model_rmse=figure("model", "rmse"),
            baseline_rmse=figure("mean_baseline", "rmse"), head_mae=figure("head", "mae"),
            neighbour_weight=fold.get("neighbour_weight"),
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
        neighbour_weight=estimate.get("neighbour_weight"), duplicate_standout=estimate.get("duplicate_standout"),
        refit=bool(estimate.get("refit")),
    )


@dataclass(frozen=True)
class RunFrames:
    """What the frames of a run's dataset were when its worker read them: how many subclips its trailers had
    and how long they were (the plan in ``run.sampling`` is only the most a trailer may get)."""

    trailers: int
    subclips: int
    fewest: int  # subclips of the trailer with the fewest
    most: int
    shortest: float  # seconds
    longest: float


def run_frames(run: TrainingRun) -> RunFrames | None:
    """The subclips of the run's frozen dataset, as kept when its worker read them (``run.frames``); None before
    then, or when none were left."""
    return RunFrames(**run.frames) if run.frames else None


def measure_run_frames(run_id: int) -> dict:
    """The subclips the trailers of run ``run_id``'s frozen dataset have now, as ``TrainingRun.frames`` keeps
    them ({} when none): what the worker keeps when it reads them, so that pages need not measure them.

    One query, aggregated by the database from the trailer ids it reads out of the stored dataset itself: the
    dataset (megabytes at 50,000 trailers) is never decoded here, nor its ids sent back as parameters."""
    connection = connections[TrainingRun.objects.db]
    runs = connection.ops.quote_name(TrainingRun._meta.db_table)
    subclips = connection.ops.quote_name(Subclip._meta.db_table)
    if connection.vendor == "postgresql":
        ids = f"SELECT (item->>'trailer')::bigint FROM {runs}, jsonb_array_elements({runs}.dataset) item WHERE {runs}.id = %s"
    else:
        ids = (f"SELECT CAST(json_extract(value, '$.trailer') AS INTEGER) FROM {runs}, json_each({runs}.dataset) "
               f"WHERE {runs}.id = %s")
    with connection.cursor() as cursor:
        cursor.execute(f"WITH per AS (SELECT trailer_id, COUNT(*) AS n, MIN(duration) AS lo, MAX(duration) AS hi "
                       f"FROM {subclips} WHERE trailer_id IN ({ids}) GROUP BY trailer_id) "
                       "SELECT COUNT(*), SUM(n), MIN(n), MAX(n), MIN(lo), MAX(hi) FROM per", [run_id])
        trailers, count, fewest, most, shortest, longest = cursor.fetchone()
    if not trailers:
        return {}
    return {"trailers": trailers, "subclips": int(count), "fewest": fewest, "most": most, "shortest": shortest,
            "longest": longest}


def run_duration_seconds(run: TrainingRun) -> float | None:
    if run.started_at is None:
        return None
    end = run.finished_at or timezone.now()
    return max(0.0, (end - run.started_at).total_seconds())


# --- model versions and predictions ----------------------------------------------------------------


def _versions() -> QuerySet[ModelVersion]:
    # With their run's sizes and options (is_cross_validated reads them), never its dataset or estimate.
    return ModelVersion.objects.select_related("run").defer(*(f"run__{name}" for name in TrainingRun.LARGE_FIELDS))


def model_versions() -> QuerySet[ModelVersion]:
    """Every version, newest first, with how many predictions it has made: as its kept figures counted them
    (brought up to date by the sweep after it scores), else counted now."""
    # COUNT without GROUP BY: one walk of the (model_version, trailer) index for the version asked.
    counts = Prediction.objects.filter(model_version=OuterRef("pk")).order_by().values(
        n=Func(F("pk"), function="COUNT", output_field=IntegerField()))
    return ModelVersion.objects.annotate(
        prediction_count=Coalesce(F("summary__predictions"), Subquery(counts), 0)).order_by("-number")


def get_model_version(*, pk: int | str) -> ModelVersion:
    return get_by_id(_versions(), pk)


def active_model_version() -> ModelVersion | None:
    return _versions().filter(is_active=True).first()


# Orders on the trailer's columns break ties by trailer as its indexes do, so that a page is read walking a trailer
# index and looking each prediction up (no sort of the version's every prediction); only the error has no index.
PREDICTION_SORTS = {
    "title": ("trailer__title", "trailer_id"),
    "predicted": "score",
    "uncertainty": "uncertainty",
    "spread": "spread",
    "novelty": "novelty",  # how unlike the version's training trailers (empty for versions without it: last)
    "mean": ("trailer__mean_rating", "trailer_id"),
    "count": ("trailer__rating_count", "trailer__uploaded_at", "trailer_id"),
    "reference": ("trailer__reference_score", "trailer_id"),
    "error": "error",  # |score - mean rating|, kept on the prediction (trailers/services/ratings.py: keep_errors)
}
DEFAULT_PREDICTION_SORT = "-predicted"


def predictions(*, model_version: ModelVersion | int | None = None, trailer: Trailer | int | None = None,
                sort: str = DEFAULT_PREDICTION_SORT) -> QuerySet[Prediction]:
    """Predictions with their trailer (whose counters give each its mean rating, count and error: see Prediction)
    and their version (without its configuration and metrics), sorted as asked (the list's filters:
    trailers.filters.PredictionFilterSet). The trailer is joined for a page's ids and count only when a filter or
    the order reads it."""
    rows = Prediction.objects.select_related("trailer", "model_version").defer("model_version__config",
                                                                             "model_version__metrics")
    if model_version is not None:
        rows = rows.filter(model_version=model_version)
    if trailer is not None:
        rows = rows.filter(trailer=trailer)
    return sort_predictions(rows, sort)


def sort_predictions(rows: QuerySet[Prediction], sort: str) -> QuerySet[Prediction]:
    """``rows`` (from predictions) in the order of a PREDICTION_SORTS key (the default for an unknown one)."""
    return _order(rows, sort, PREDICTION_SORTS, DEFAULT_PREDICTION_SORT)


def prediction_rows_for_export(rows: QuerySet[Prediction]):
    """The CSV's columns of ``rows``, in their order, as plain tuples (no model instances, no version JSON):
    trailer id, title, version number, score, spread, uncertainty, the interval's low and high, novelty, subclip
    scores, mean rating, rating count, reference score, status."""
    return rows.values_list("trailer_id", "trailer__title", "model_version__number", "score", "spread",
                            "uncertainty", "low", "high", "novelty", "subclip_scores", "trailer__mean_rating", "trailer__rating_count",
                            "trailer__reference_score", "trailer__status")


PREDICTION_CSV_COLUMNS = ["trailer_id", "title", "model_version", "predicted", "spread", "uncertainty", "low",
                          "high", "novelty", "subclip_scores", "mean_rating", "rating_count", "error", "reference_score", "status"]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet shows as text: a leading = + - @ (or tab, CR) would make a title a formula."""
    return f"'{text}" if text[:1] in FORMULA_STARTS else text


def from_spreadsheet(text: str) -> str:
    """The text :func:`spreadsheet_safe` was given, from what it wrote (a file read back in)."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_STARTS else text


def prediction_csv_rows(rows: QuerySet[Prediction]) -> Iterator[list]:
    """The predictions CSV's lines after its header (PREDICTION_CSV_COLUMNS), one per row of ``rows`` in their
    order: read as plain tuples, in chunks."""
    for (trailer_id, title, number, score, spread, uncertainty, low, high, novelty, subclip_scores, mean, count,
         reference, status) in prediction_rows_for_export(rows).iterator(chunk_size=2000):
        yield [
            trailer_id, spreadsheet_safe(title), number, f"{score:.4f}", f"{spread:.4f}", f"{uncertainty:.4f}",
            *("" if value is None else f"{value:.4f}" for value in (low, high, novelty)),
            ";".join(f"{s:.4f}" for s in subclip_scores), "" if mean is None else f"{mean:.4f}", count,
            "" if mean is None else f"{abs(score - mean):.4f}",  # the table's Error: |predicted - mean rating|
            "" if reference is None else reference, status,
        ]


def scored_and_ready_counts(*, model_version: ModelVersion) -> tuple[int, int]:
    """How many ready trailers (with subclips, so scorable) the version has scored, and how many there are: one
    aggregate, with semi-joins rather than a join and DISTINCT."""
    has_subclips = Exists(Subclip.objects.filter(trailer=OuterRef("pk")))
    scored = Exists(Prediction.objects.filter(trailer=OuterRef("pk"), model_version=model_version))
    counts = Trailer.objects.filter(has_subclips, status=Trailer.Status.READY).aggregate(
        ready=Count("pk"), scored=Count("pk", filter=Q(scored)))
    return counts["scored"], counts["ready"]


@dataclass(frozen=True)
class ScoringProgress:
    """How many of the ready trailers a version has scored."""

    scored: int
    ready: int
    active: bool

    @property
    def scoring(self) -> bool:
        """Whether the active version is still scoring ready trailers (what the predictions page follows)."""
        return self.active and self.scored < self.ready


def scoring_counts(*, model_version: ModelVersion) -> ScoringProgress:
    """How far ``model_version`` has scored the ready trailers, counted now."""
    scored, ready = scored_and_ready_counts(model_version=model_version)
    return ScoringProgress(scored=scored, ready=ready, active=model_version.is_active)


def scoring_progress(*, model_version: ModelVersion) -> ScoringProgress | None:
    """How far the active version has scored, while it has not yet scored every ready trailer since it was
    activated (its ``scored_at`` is empty); None otherwise. The counts read every ready trailer, so they are read
    only then."""
    if not model_version.is_active or model_version.scored_at is not None:
        return None
    return scoring_counts(model_version=model_version)


def has_predictions(*, model_version: ModelVersion) -> bool:
    """Whether ``model_version`` has scored any trailer (one indexed query)."""
    return Prediction.objects.filter(model_version=model_version).exists()


def unscored_trailers(*, model_version: ModelVersion) -> QuerySet[Trailer]:
    """Ready trailers with subclips that ``model_version`` has no prediction of."""
    return Trailer.objects.filter(Exists(Subclip.objects.filter(trailer=OuterRef("pk"))),
                                  status=Trailer.Status.READY).exclude(
        Exists(Prediction.objects.filter(trailer=OuterRef("pk"), model_version=model_version)))


def ensemble_size(version: ModelVersion) -> int:
    """How many models ``version`` averages (its cross-validation's fold models); 1 for a single model."""
    return int(version.metrics.get("ensemble") or 1)


def is_cross_validated_version(version: ModelVersion) -> bool:
    return version.metrics.get("estimate") == "cross-validated" or is_cross_validated(version.run)


def run_standing(version: ModelVersion) -> RunStanding:
    """What ``version`` knew of each trailer, from its run's dataset and cross-validation (one query; megabytes
    at 50,000 trailers: scoring reads it once and keeps each trailer's on its prediction)."""
    run = version.run
    if _loaded(run, "dataset") and _loaded(run, "cross_validation"):
        return RunStanding(run.dataset, run.cross_validation)
    dataset, estimate = TrainingRun.objects.filter(pk=version.run_id).values_list(
        "dataset", "cross_validation").first() or ([], {})
    return RunStanding(dataset, estimate)


SCATTER_POINTS = 2000  # the plot's most dots; every rated trailer counts in the figures


def figures(rated: list[tuple], *, baseline: float | dict | None = None) -> dict:
    """MAE, RMSE and Spearman of (truth, predicted, title, trailer id) rows, and the MAE of the mean-rating
    baseline: always predicting ``baseline`` (by default the rows' own mean rating), or, given a
    {trailer id: baseline} mapping, each trailer's own (a cross-validation's folds each have theirs)."""
    truth = [row[0] for row in rated]
    predicted = [row[1] for row in rated]
    if isinstance(baseline, dict):
        baselines = [baseline.get(row[3]) for row in rated]
        pairs = [(t, b) for t, b in zip(truth, baselines, strict=True) if b is not None]
        baseline_mae = mae([t for t, _ in pairs], [b for _, b in pairs]) if pairs else None
    else:
        mean = baseline if baseline is not None else (sum(truth) / len(truth) if truth else None)
        baseline_mae = mae(truth, [mean] * len(truth)) if truth else None
    return {
        "n": len(rated), "mae": mae(truth, predicted), "rmse": rmse(truth, predicted),
        "spearman": spearman(truth, predicted), "baseline_mae": baseline_mae,
    }


def kept_prediction_summary(*, model_version: ModelVersion) -> PredictionSummary | None:
    """The figures kept for ``model_version`` over every rated trailer it scored; None until first made."""
    return PredictionSummary.objects.filter(model_version=model_version).exclude(figures={}).first()


def prediction_figures(version: ModelVersion, rows: QuerySet[Prediction]) -> dict:
    """The predictions page's figures for ``rows`` of ``version``: over every rated trailer ("all"), over those the
    version never learned from ("unseen"), and for a cross-validated version over its run's trailers through their
    held-out predictions ("held_out", else None); and the scatter plot's even sample ("points").

    Reads every rated row, and nothing else: what the version knew of each trailer is kept on its prediction
    (trailers/standing.py). The page reads these kept (``PredictionSummary``) unless filters narrow the rows.
    Also gives how many rows there are in all, rated or not ("matched": None when none is rated), from the same
    scan: the page's paginator need not count them again."""
    rated, matched = _rated_rows(rows)
    baseline = {row[3]: row[6] for row in rated}
    # The honest figures: trailers the model never learned from. Without folds: its validation split and newer
    # ones. Cross-validated: every trailer newer than the run (no member saw it) and, apart, the run's own
    # trailers through their held-out predictions (each by the fold model that never saw it), each against its
    # fold's mean-rating baseline.
    held_out = None
    if is_cross_validated_version(version):
        held_out = figures([(row[0], row[5], *row[2:4]) for row in rated if row[5] is not None], baseline=baseline)
    step = max(1, -(-len(rated) // SCATTER_POINTS))
    return {
        "all": figures([row[:4] for row in rated]),
        "unseen": figures([row[:4] for row in rated if not row[4]], baseline=baseline),
        "held_out": held_out,
        "points": [list(row[:4]) for row in rated[::step]],
        "matched": matched,
    }


RATED_COLUMNS = ("trailer__mean_rating", "score", "trailer__title", "trailer_id", "trained", "held_out_score",
                 "baseline")


def _rated_rows(rows: QuerySet[Prediction]) -> tuple[list[tuple], int | None]:
    """The RATED_COLUMNS of the rated ones of ``rows``, and how many ``rows`` there are in all (None when none is
    rated): one query, in which the database counts every row (a window over them all) and sends the rated only."""
    inner = rows.order_by().annotate(matched=Window(Count("pk"))).values_list(
        *RATED_COLUMNS, "trailer__rating_count", "matched")
    sql, params = inner.query.sql_with_params()
    connection = connections[rows.db]
    count = connection.ops.quote_name("trailer__rating_count")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({sql}) matching WHERE matching.{count} > 0", params)
        fetched = cursor.fetchall()
    return [row[:len(RATED_COLUMNS)] for row in fetched], (fetched[0][-1] if fetched else None)


@dataclass(frozen=True)
class PredictionsReport:
    """What the predictions page shows of a version's predictions beside their rows: the figures (kept, or
    computed for the rows the filters leave), the scatter plot's points and how far scoring has got."""

    version: ModelVersion
    figures: dict  # "all", "unseen", "held_out" (None for a version without folds): see prediction_figures
    points: list  # the scatter plot's even sample: [mean rating, predicted, title, trailer id]
    kept: PredictionSummary | None  # the kept figures shown, None when they were computed now
    progress: ScoringProgress | None  # while the active version scores after its activation
    cross_validated: bool
    ensemble: int  # how many models the version averages
    matched: int | None = None  # how many rows the filters leave, when the figures were computed over them
    # Of the rows, how many carry a novelty and how many of those look unlike the version's training trailers
    # (novelty ≥ ml.intervals.UNLIKE, rated or not): the figures above were measured on trailers like them.
    novelty: dict = field(default_factory=lambda: {"measured": 0, "unlike": 0})

    @property
    def summary(self) -> dict:
        return self.figures["all"]

    @property
    def unseen(self) -> dict:
        return self.figures["unseen"]

    @property
    def held_out(self) -> dict | None:
        return self.figures["held_out"]

    @property
    def plotted(self) -> int:
        return len(self.points)

    @property
    def scatter_points(self) -> list[tuple]:
        """(mean rating, predicted, title) of each plotted trailer."""
        return [tuple(point[:3]) for point in self.points]


def predictions_report(*, model_version: ModelVersion, rows: QuerySet[Prediction],
                       narrowed: bool) -> PredictionsReport:
    """The predictions page's report on ``rows``, predictions of ``model_version`` as filtered. Over every rated
    trailer the figures are the ones kept for the version (made when it scored, and by the sweep once ratings
    change); when the filters leave any rated trailer out (``narrowed``), they are computed now over ``rows``."""
    progress = scoring_progress(model_version=model_version)
    kept = None if narrowed else kept_prediction_summary(model_version=model_version)
    matched = None
    if kept is not None:
        figures, points = kept.figures, kept.points
    else:
        figures = prediction_figures(model_version, rows)
        points, matched = figures.pop("points"), figures.pop("matched")
    return PredictionsReport(version=model_version, figures=figures, points=points, kept=kept, progress=progress,
                             cross_validated=is_cross_validated_version(model_version),
                             ensemble=ensemble_size(model_version), matched=matched, novelty=novelty_counts(rows))


def keeps_novelty(*, model_version: ModelVersion) -> bool:
    """Whether any of the version's predictions has a novelty (none for a run without embeddings, or a version
    made before novelty was kept): the unlike filter can match nothing else."""
    return Prediction.objects.filter(model_version=model_version, novelty__isnull=False).exists()


def novelty_counts(rows: QuerySet[Prediction]) -> dict[str, int]:
    """How many of ``rows`` carry a novelty ("measured") and how many of those look unlike the version's training
    trailers ("unlike": ``Prediction.LOOKS_UNLIKE``): one count, over the version's novelty index."""
    return rows.order_by().aggregate(measured=Count("novelty"), unlike=Count("pk", filter=Prediction.LOOKS_UNLIKE))

