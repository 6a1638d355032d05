"""Reads for runs and versions: the runs list and its sorts, comparing runs, and model versions compared
trailer by trailer."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import F, FloatField, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, NullIf

from ml.metrics import mae

from . import selectors
from .models import ModelVersion, Prediction, TrainingRun
from .selectors import epoch_history, get_by_id, parse_id, run_duration_seconds, run_folds, run_list
from .standing import RunStanding

RUN_SORTS = {
    "-created": ("Newest first", F("created_at").desc()),
    "created": ("Oldest first", F("created_at").asc()),
    "mae": ("Held-out MAE, best first", F("mae").asc(nulls_last=True)),
    "-mae": ("Held-out MAE, worst first", F("mae").desc(nulls_last=True)),
}
DEFAULT_RUN_SORT = "-created"


def runs(*, sort: str = DEFAULT_RUN_SORT) -> QuerySet[TrainingRun]:
    """Runs with ``mae``: their version's held-out MAE (cross-validated, or the validation split's), sorted as
    asked (the list's filters: trailers.filters.RunFilterSet)."""
    # A version that measured nothing keeps val_mae null: SQLite reads JSON's null as the text "null", which casts
    # to 0.0, the best MAE of all, so it is made SQL's NULL first (PostgreSQL's ->> gives NULL already).
    text = NullIf(KeyTextTransform("val_mae", "model_version__metrics"), Value("null"))
    rows = run_list().annotate(mae=Cast(text, FloatField()))
    return sort_runs(rows, sort)


def sort_runs(rows: QuerySet[TrainingRun], sort: str) -> QuerySet[TrainingRun]:
    """``rows`` (from runs) in the order of a RUN_SORTS key (the default for an unknown one), newest first among
    equals."""
    _, order = RUN_SORTS.get(sort, RUN_SORTS[DEFAULT_RUN_SORT])
    return rows.order_by(order, "-pk")


def parse_ids(raw) -> list[int]:
    """Row ids from ``?runs=1,2&runs=3`` (repeated or comma-separated), in order, without repeats."""
    values = raw if isinstance(raw, list | tuple) else [raw]
    ids = [parse_id(part) for value in values for part in str(value).split(",") if part.strip()]
    return list(dict.fromkeys(i for i in ids if i is not None))


# --- comparing runs -----------------------------------------------------------------------------------------

COMPARED_FIGURES = [
    # (key, label, how to read it from a version's metrics or the run, lower is better?)
    ("val_mae", "Held-out MAE", True),
    ("val_mae_sd", "± over folds", None),
    ("val_rmse", "Held-out RMSE", True),
    ("val_spearman", "Spearman", False),
    ("baseline_mae", "Mean-rating baseline MAE", True),
    ("single_frame_mae", "Single-frame head MAE", True),
    ("neighbours_mae", "Nearest-neighbours MAE", True),
    ("head_mae", "Head alone MAE (before the neighbours are mixed in)", True),
]


@dataclass
class ComparedRun:
    run: TrainingRun
    history: list[dict]
    figures: dict[str, float | None]
    last: dict
    duration: float | None
    trailers: int
    estimate: str  # "cross-validated, 5 folds", "validation split", "—"


@dataclass
class RunComparison:
    runs: list[ComparedRun]
    differing: list[tuple[str, str, list]]  # (group, option, the value in each run)
    same: int  # options every run has alike
    best: dict[str, int] = field(default_factory=dict)  # figure -> index of the best run


def _options(run: TrainingRun) -> dict[tuple[str, str], object]:
    options = {("Run", "preset"): run.preset or "—", ("Run", "labels"): run.get_label_source_display(),
               ("Run", "min_ratings"): run.min_ratings if run.label_source == "user_mean" else "—",
               ("Run", "trailers"): run.dataset_trailers or "—"}
    options.update({("Model", k): v for k, v in run.model_config.items()})
    options.update({("Training", k): v for k, v in run.train_config.items()})
    return options


def compare_runs(ids: list[int]) -> RunComparison:
    """Side by side: each run's curves (averaged over folds), its figures, and the options that differ."""
    found = {run.pk: run for run in run_list().filter(pk__in=ids)}
    # Which have an estimate, in one query: neither the estimate nor the dataset (megabytes each at 50,000
    # trailers) is read, only its folds, which a column and the options say.
    estimated = set(TrainingRun.objects.filter(pk__in=ids).exclude(cross_validation={}).values_list("pk", flat=True))
    compared = []
    for pk in ids:
        run = found.get(pk)
        if run is None:
            continue
        version = getattr(run, "model_version", None)
        metrics = version.metrics if version else {}
        history = epoch_history(run)
        estimate = (f"cross-validated, {run_folds(run)} folds" if pk in estimated else
                    "validation split" if metrics.get("val_mae") is not None else "—")
        compared.append(ComparedRun(run=run, history=history, figures={k: metrics.get(k) for k, _, _ in COMPARED_FIGURES},
                                    last=history[-1] if history else {}, duration=run_duration_seconds(run),
                                    trailers=run.dataset_trailers, estimate=estimate))
    options = [_options(c.run) for c in compared]
    keys = list(dict.fromkeys(k for o in options for k in o))
    differing, same = [], 0
    for key in keys:
        values = [o.get(key, "—") for o in options]
        if len({repr(v) for v in values}) > 1:
            differing.append((key[0], key[1], values))
        else:
            same += 1
    best = {}
    for key, _, lower in COMPARED_FIGURES:
        values = [(c.figures[key], i) for i, c in enumerate(compared) if c.figures[key] is not None]
        if lower is not None and len(values) > 1:
            top = (min if lower else max)(v for v, _ in values)
            winners = [i for v, i in values if v == top]
            if len(winners) == 1:  # a tie marks none
                best[key] = winners[0]
    return RunComparison(runs=compared, differing=differing, same=same, best=best)


# --- model versions ---------------------------------------------------------------------------------------


def get_version(*, pk) -> ModelVersion:
    return get_by_id(ModelVersion.objects.select_related("run"), pk)


def previous_version() -> ModelVersion | None:
    """The version that was active before the active one (the latest activated of the others): rollback's."""
    return (ModelVersion.objects.filter(is_active=False, activated_at__isnull=False)
            .order_by("-activated_at", "-number").first())


# --- fair comparisons: two versions on the same held-out trailers ---------------------------------------


def held_out_predictions(version: ModelVersion, standing: RunStanding | None = None) -> dict[int, float]:
    """{trailer id: prediction} for every trailer ``version`` made a prediction of without having trained on it.

    A cross-validated version's own dataset counts through its run's held-out (out-of-fold) predictions;
    a version fit on a validation split, through its predictions of the validation trailers; any other
    trailer, through the version's stored prediction of it (it never saw that trailer). ``standing``: the version's
    run's, where the caller has read it already.
    """
    standing = standing if standing is not None else selectors.run_standing(version)
    out = dict(standing.held_out)
    for trailer_id, score in Prediction.objects.filter(model_version=version).values_list("trailer_id", "score"):
        if trailer_id not in out and trailer_id not in standing.trained:
            out[trailer_id] = score
    return out


def compare_versions(new: ModelVersion, old: ModelVersion) -> dict:
    """Both versions' MAE on the same trailers: those of ``new``'s run that both predicted held out.

    Labels are ``new``'s run's. Returns {"trailers": n, "new_mae", "old_mae", "label_source"} (the MAEs None when n is
    0; ``label_source``: what they measure against, the run's label source, as two runs may have trained on others).
    """
    return _measured(new, *_held_out_on_run(new, old))


def _held_out_on_run(new: ModelVersion, old: ModelVersion) -> tuple[dict, dict, dict]:
    """``new``'s run's labels and both versions' held-out predictions: what a comparison reads (once: the run's
    standing is megabytes at scale)."""
    standing = selectors.run_standing(new)
    return standing.labels, held_out_predictions(new, standing), held_out_predictions(old)


def _measured(new: ModelVersion, labels: dict, new_pred: dict, old_pred: dict) -> dict:
    common = sorted(t for t in labels if t in new_pred and t in old_pred)
    truth = [labels[t] for t in common]
    return {
        "label_source": new.run.label_source,
        "trailers": len(common),
        "new_mae": mae(truth, [new_pred[t] for t in common]) if common else None,
        "old_mae": mae(truth, [old_pred[t] for t in common]) if common else None,
    }


def compare_with_active(version: ModelVersion) -> dict:
    """Whether ``version`` should replace the active version: the comparison on the same held-out trailers,
    with a ``decision`` ("activate" or "keep") and the ``reason`` in words."""
    active = ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).select_related("run").first()
    if active is None:
        return {"active": None, "trailers": 0, "new_mae": None, "old_mae": None, "decision": "activate",
                "reason": "no version was active"}
    labels, new_pred, old_pred = _held_out_on_run(version, active)
    result = {"active": active.number, **_measured(version, labels, new_pred, old_pred)}
    if not result["trailers"]:
        lacking = active if any(t in labels for t in new_pred) else version
        return {**result, "decision": "keep",
                "reason": f"{lacking} has no held-out prediction for any trailer of this run, so they cannot be "
                          "compared fairly"}
    words = (f"on the same {result['trailers']} held-out trailers, MAE {result['new_mae']:.3f} against "
             f"{active}'s {result['old_mae']:.3f}")
    if _tied(result["new_mae"], result["old_mae"]):  # e.g. the same model trained twice: neither is worse
        return {**result, "decision": "keep", "tied": True, "reason": f"as good as {active} " + words}
    better = result["new_mae"] < result["old_mae"]
    return {**result, "decision": "activate" if better else "keep",
            "reason": ("better " if better else "not better ") + words}


def _tied(new_mae: float, old_mae: float) -> bool:
    """The same MAE to the 3 decimals every page and message shows: neither version is called better or worse."""
    return round(new_mae, 3) == round(old_mae, 3)


def is_worse(comparison: dict) -> bool:
    """Whether a comparison (compare_with_active) found the version worse than the active one on the same held-out
    trailers: activation then asks again. Versions that share no held-out trailer, or tie on them, cannot be called
    worse."""
    return comparison.get("decision") == "keep" and bool(comparison.get("trailers")) and not comparison.get("tied")


@dataclass(frozen=True)
class TrailerChange:
    trailer_id: int
    title: str
    a: float
    b: float
    rated: float | None  # the mean user rating
    count: int

    @property
    def change(self) -> float:
        return self.b - self.a

    @property
    def error_a(self) -> float | None:
        return None if self.rated is None else abs(self.a - self.rated)

    @property
    def error_b(self) -> float | None:
        return None if self.rated is None else abs(self.b - self.rated)


@dataclass
class VersionComparison:
    a: ModelVersion
    b: ModelVersion
    trailers: int
    rated: int
    mae_a: float | None
    mae_b: float | None
    biggest_changes: list[TrailerChange]
    worst_a: list[TrailerChange]
    worst_b: list[TrailerChange]
    held_out: dict  # services.versions.compare_versions(b, a): both on b's run's held-out trailers


def compare_versions_by_trailer(a: ModelVersion, b: ModelVersion, *, top: int = 20) -> VersionComparison:
    """Two versions' predictions of the trailers both scored: the biggest changes from ``a`` to ``b``, the worst
    predicted by each (against the mean user rating), their MAE on the same rated trailers, and the fair
    comparison on ``b``'s held-out trailers."""
    scores: dict[int, dict[int, float]] = defaultdict(dict)
    trailers: dict[int, tuple[str, float | None, int]] = {}
    # The mean user rating from the trailer's own counters (rating_sum / rating_count): reading every rating of
    # every scored trailer grew with the ratings (200-290 ms at 50,000).
    for version_id, trailer_id, score, *trailer in (Prediction.objects.filter(model_version__in=[a, b])
                                                    .values_list("model_version_id", "trailer_id", "score",
                                                                 "trailer__title", "trailer__mean_rating",
                                                                 "trailer__rating_count")):
        scores[trailer_id][version_id] = score
        trailers[trailer_id] = trailer
    both = [t for t, s in scores.items() if a.pk in s and b.pk in s]
    rows = [TrailerChange(trailer_id=t, title=trailers[t][0], a=scores[t][a.pk], b=scores[t][b.pk],
                          rated=trailers[t][1], count=trailers[t][2]) for t in both]
    rated = [r for r in rows if r.rated is not None]
    return VersionComparison(
        a=a, b=b, trailers=len(rows), rated=len(rated),
        mae_a=mae([r.rated for r in rated], [r.a for r in rated]) if rated else None,
        mae_b=mae([r.rated for r in rated], [r.b for r in rated]) if rated else None,
        biggest_changes=sorted(rows, key=lambda r: (-abs(r.change), r.trailer_id))[:top],
        worst_a=sorted(rated, key=lambda r: (-r.error_a, r.trailer_id))[:top],
        worst_b=sorted(rated, key=lambda r: (-r.error_b, r.trailer_id))[:top],
        held_out=compare_versions(b, a),
    )
