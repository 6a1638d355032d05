"""What a model version knew of each trailer: whether it learned from it, its held-out prediction, its baseline.

A version's figures split its predictions by what its run froze (the dataset: which trailers it trained on, with
which labels) and estimated (the cross-validation: each of its trailers predicted by the fold model that never
saw it, and the mean-rating baseline of that fold). Those are megabytes of JSON on the run at 50,000 trailers,
so they are read once, when the version scores, and kept on each prediction (``Prediction.trained``,
``held_out_score``, ``baseline``): the predictions page then computes its figures over any filtered rows from
the rows alone. Pure: migration 0014 fills the predictions made before with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ids import parse_id

TRAINED_SPLITS = ("train", "cv")  # a dataset entry's split the version learned from (cv: K-1 of its K models)


@dataclass(frozen=True)
class Standing:
    """One trailer, as a version sees it."""

    trained: bool  # the version learned from it
    held_out_score: float | None  # a cross-validated version's own trailer: the fold model's that never saw it
    baseline: float | None  # what the mean-rating baseline predicts of it, as the version's estimate scored it


class RunStanding:
    """Every trailer's :class:`Standing` for the version of a run, from the run's dataset and cross-validation."""

    def __init__(self, dataset: list[dict] | None, cross_validation: dict | None):
        dataset = dataset or []
        estimate = cross_validation or {}
        self.labels = {d["trailer"]: d["label"] for d in dataset}
        self.trained = {d["trailer"]: d["label"] for d in dataset if d.get("split") in TRAINED_SPLITS}
        # Its run's baseline predicted the mean label of what it trained on.
        self.training_mean = sum(self.trained.values()) / len(self.trained) if self.trained else None
        self.held_out = {}
        for key, value in (estimate.get("predictions") or {}).items():
            pk = parse_id(key)
            if pk is not None and isinstance(value, int | float) and not isinstance(value, bool):
                self.held_out[pk] = float(value)
        self.fold_baselines = self._fold_baselines(estimate.get("per_fold") or [])

    def _fold_baselines(self, folds: list[dict]) -> dict[int, float]:
        """{trailer id: the mean label of the folds that trained the model that held it out}, as the run's
        mean-rating baseline was scored."""
        total = sum(self.labels.values())
        out: dict[int, float] = {}
        for fold in folds:
            test = {parse_id(pk) for pk in fold.get("test") or []} & self.labels.keys()
            rest = len(self.labels) - len(test)
            if rest:
                mean = (total - sum(self.labels[pk] for pk in test)) / rest
                out.update(dict.fromkeys(test, mean))
        return out

    def of(self, trailer_id: int) -> Standing:
        held_out = self.held_out.get(trailer_id)
        baseline = self.fold_baselines.get(trailer_id) if held_out is not None else None
        return Standing(trained=trailer_id in self.trained, held_out_score=held_out,
                        baseline=baseline if baseline is not None else self.training_mean)


def keep_on_predictions(prediction_model, *, model_version_id: int, standing: RunStanding,
                        batch_size: int = 1000) -> None:
    """Write ``standing`` onto the predictions ``model_version_id`` made already (``prediction_model``: the
    Prediction model, or a migration's historical one): a few statements, whatever the number of rows."""
    rows = prediction_model.objects.filter(model_version_id=model_version_id)
    rows.update(trained=False, held_out_score=None, baseline=standing.training_mean)
    trained = sorted(standing.trained)
    for start in range(0, len(trained), batch_size):
        rows.filter(trailer_id__in=trained[start:start + batch_size]).update(trained=True)
    held = sorted(standing.held_out)
    for start in range(0, len(held), batch_size):
        chunk = list(rows.filter(trailer_id__in=held[start:start + batch_size]).only("pk", "trailer_id"))
        for row in chunk:
            kept = standing.of(row.trailer_id)
            row.held_out_score, row.baseline = kept.held_out_score, kept.baseline
        prediction_model.objects.bulk_update(chunk, ["held_out_score", "baseline"], batch_size=batch_size)
