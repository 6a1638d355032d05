"""Rows made directly, without a worker: trailers with subclips and small real files, runs (cross-validated ones
with their estimate), model versions and predictions. The fixtures of tests/web/conftest.py hand these out;
tests/selectors, tests/services and the browser tests call them too."""

from __future__ import annotations

import hashlib
import io
import itertools
from dataclasses import asdict

import numpy as np
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from trailers import selectors
from trailers.models import ModelVersion, Prediction, Rating, Subclip, Trailer, TrainingRun
from trailers.services import rate_trailer
from trailers.services.ratings import keep_errors

_serial = itertools.count(1)


def jpeg_bytes(color=(200, 60, 60), size=(64, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def create_trailer(*, title: str | None = None, status: str = Trailer.Status.READY, subclips: int = 2,
                   reference_score: float | None = None, uploaded_by=None, content: bytes | None = None,
                   duration: float = 4.0, enqueued: bool = True, error: str = "") -> Trailer:
    n = next(_serial)
    title = title or f"Trailer {n}"
    content = content or f"not really a video {n}".encode() * 64
    trailer = Trailer(title=title, original_name=f"{title}.mp4", sha256=hashlib.sha256(content).hexdigest(),
                      status=status, duration=duration, fps=12, width=64, height=48, codec="h264", container="mp4",
                      size_bytes=len(content), reference_score=reference_score, uploaded_by=uploaded_by,
                      enqueued_at=timezone.now() if enqueued else None, error=error)
    trailer.file.save(f"{title}.mp4", ContentFile(content), save=False)
    trailer.save()
    for index in range(subclips):
        subclip = Subclip(trailer=trailer, index=index, start=0.5 + 1.5 * index, duration=1.5, frame_count=4,
                          timestamps=[0.5 + 1.5 * index + 0.3 * k for k in range(4)],
                          sampling={"size": 32, "frames_per_subclip": 4, "n_subclips": 3, "subclip_duration": 1.5})
        buffer = io.BytesIO()
        np.save(buffer, np.zeros((4, 32, 32, 3), dtype=np.uint8))
        subclip.frames.save(f"{index}.npy", ContentFile(buffer.getvalue()), save=False)
        subclip.contact_sheet.save(f"{index}.jpg", ContentFile(jpeg_bytes()), save=False)
        subclip.save()
    return trailer


def create_run(*, status: str = TrainingRun.Status.SUCCEEDED, epochs: int = 3, user=None, **fields) -> TrainingRun:
    metrics = fields.pop("metrics", None)
    if metrics is None:
        metrics = [
            {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "val_mae": 2.0 - 0.3 * e, "val_rmse": 2.5 - 0.3 * e,
             "val_spearman": 0.1 * e, "baseline_mae": 2.1, "baseline_rmse": 2.6, "seconds": 1.5}
            for e in range(1, epochs + 1)
        ]
    now = timezone.now()
    defaults = {
        "created_by": user, "status": status, "progress": 1.0 if status == TrainingRun.Status.SUCCEEDED else 0.5,
        "epoch": len(metrics), "metrics": metrics, "model_config": {"frame_size": 32, "lstm_size": 8},
        "train_config": {"epochs": epochs, "batch_size": 4, "device": "cpu"},
        "dataset": [{"trailer": 1, "label": 5.0, "split": "train"}, {"trailer": 2, "label": 6.0, "split": "train"},
                    {"trailer": 3, "label": 7.0, "split": "val"}],
        "device": "cpu", "worker": "w@host", "started_at": now - timezone.timedelta(seconds=65),
        "heartbeat_at": now,
        "finished_at": now if status in TrainingRun.FINISHED else None,
    }
    defaults.update(fields)
    return TrainingRun.objects.create(**defaults)


def cross_validation_estimate(trailers: list[Trailer], *, folds: int = 3, predictions: dict | None = None,
                              groups: list[list[int]] | None = None, duplicates_checked: bool = True,
                              single_frame: bool = True, neighbours: bool = True,
                              neighbour_weight: float | None = None) -> dict:
    """A TrainingRun.cross_validation dict shaped as ml.crossval.CrossValResult.estimate() writes it: the trailers
    dealt into ``folds`` folds in order, made-up but distinct figures per fold. With ``neighbour_weight`` the
    model mixes its head with the neighbours: the version in that share, fold i in share 0.25 × i."""
    ids = [t.pk for t in trailers]
    tests = [ids[i::folds] for i in range(folds)]
    per_fold = []
    for index, test in enumerate(tests):
        fold = {"fold": index + 1, "trailers": len(test), "train_trailers": len(ids) - len(test), "test": test,
                "model": {"mae": 0.5 + 0.1 * index, "rmse": 0.7 + 0.1 * index, "spearman": 0.6 - 0.1 * index},
                "mean_baseline": {"mae": 1.2 + 0.05 * index, "rmse": 1.5 + 0.05 * index, "spearman": None}}
        if single_frame:
            fold["single_frame"] = {"mae": 0.9 + 0.02 * index, "rmse": 1.1 + 0.02 * index, "spearman": 0.3}
        if neighbours:
            fold["neighbours"] = {"mae": 1.0 - 0.03 * index, "rmse": 1.3, "spearman": 0.2}
        if neighbour_weight is not None:
            fold["head"] = {"mae": 0.8 + 0.1 * index, "rmse": 1.0, "spearman": 0.4}
            fold["neighbour_weight"] = 0.25 * index
        per_fold.append(fold)
    summary = {
        "model": {"mae": {"mean": 0.612, "sd": 0.041}, "rmse": {"mean": 0.803, "sd": 0.052},
                  "spearman": {"mean": 0.547, "sd": 0.098}},
        "mean_baseline": {"mae": {"mean": 1.234, "sd": 0.1}, "rmse": {"mean": 1.525, "sd": 0.05},
                          "spearman": {"mean": None, "sd": None}},
    }
    if single_frame:
        summary["single_frame"] = {"mae": {"mean": 0.921, "sd": 0.02}, "rmse": {"mean": 1.12, "sd": 0.02},
                                   "spearman": {"mean": 0.3, "sd": 0.0}}
    if neighbours:
        summary["neighbours"] = {"mae": {"mean": 0.97, "sd": 0.03}, "rmse": {"mean": 1.3, "sd": 0.0},
                                 "spearman": {"mean": 0.2, "sd": 0.0}}
    if neighbour_weight is not None:
        summary["head"] = {"mae": {"mean": 0.9, "sd": 0.1}, "rmse": {"mean": 1.0, "sd": 0.0},
                           "spearman": {"mean": 0.4, "sd": 0.0}}
    return {
        "folds": folds, "trailers": len(ids), "summary": summary, "per_fold": per_fold,
        **({"neighbour_weight": neighbour_weight} if neighbour_weight is not None else {}),
        "groups": groups if groups is not None else [], "duplicate_threshold": 0.97, "duplicate_standout": 1 / 3,
        "duplicates_checked": duplicates_checked, "embedded_on_demand": 0,
        "predictions": {str(k): v for k, v in (predictions or {pk: 5.0 for pk in ids}).items()},
        "stop_reason": "completed",
    }


def fold_metrics(folds: int = 3, epochs: int = 2) -> list[dict]:
    """Per-epoch metrics of a cross-validated run: epochs restart in every fold."""
    return [{"epoch": e, "fold": f, "train_loss": 1.0 / e + 0.1 * f, "val_loss": 1.2 / e + 0.1 * f,
             "val_mae": 1.0 - 0.1 * e + 0.1 * f, "val_rmse": 1.3 - 0.1 * e, "val_spearman": 0.2 * e,
             "baseline_mae": 1.25, "baseline_rmse": 1.5, "seconds": 0.5}
            for f in range(1, folds + 1) for e in range(1, epochs + 1)]


def create_cv_run(trailers: list[Trailer], labels: list[float], *, folds: int = 3, epochs: int = 2,
                  **fields) -> TrainingRun:
    """A succeeded cross-validated run over ``trailers`` (their labels given), with its estimate."""
    fields.setdefault("cross_validation", cross_validation_estimate(trailers, folds=folds))
    fields.setdefault("metrics", fold_metrics(folds, epochs))
    fields.setdefault("train_config", {"epochs": epochs, "batch_size": 4, "device": "cpu", "folds": folds,
                                       "restore_best": False})
    return create_run(
        epochs=epochs,
        dataset=[{"trailer": t.pk, "label": label, "split": "cv"} for t, label in zip(trailers, labels, strict=True)],
        **fields,
    )


def cv_version_metrics(folds: int = 3, trailers: int = 6, **extra) -> dict:
    """A cross-validated version's metrics, as trailers/services/training.py: version_metrics writes them."""
    return {"estimate": "cross-validated", "folds": folds, "ensemble": folds, "trailers": trailers,
            "val_mae": 0.612, "val_mae_sd": 0.041, "val_rmse": 0.803, "val_spearman": 0.547, "baseline_mae": 1.234,
            "baseline_rmse": 1.525, "single_frame_mae": 0.921, "single_frame_rmse": 1.12,
            "near_duplicate_groups": 0, **extra}


def create_version(*, number: int, active: bool = False, run: TrainingRun | None = None, **metrics) -> ModelVersion:
    run = run or create_run()
    version = ModelVersion(run=run, number=number, is_active=active,
                           metrics={"val_mae": 1.5, "baseline_mae": 2.0, **metrics},
                           activated_at=timezone.now() if active else None)
    version.weights.save("w.pt", ContentFile(b"weights"), save=False)
    version.save()
    return version


def create_prediction(version: ModelVersion, trailer: Trailer, score: float,
                      subclip_scores: list[float] | None = None, uncertainty: float = 0.0,
                      low: float | None = None, high: float | None = None,
                      novelty: float | None = None) -> Prediction:
    subclip_scores = subclip_scores if subclip_scores is not None else [score - 0.5, score + 0.5]
    spread = float(np.std(subclip_scores)) if subclip_scores else 0.0
    # What the version knew of the trailer, kept beside its score as scoring keeps it.
    standing = selectors.run_standing(version).of(trailer.pk)
    prediction = Prediction.objects.create(model_version=version, trailer=trailer, score=score,
                                           subclip_scores=subclip_scores, spread=spread, uncertainty=uncertainty,
                                           low=low, high=high, novelty=novelty,
                                           **asdict(standing))
    keep_errors(trailer_ids=[trailer.pk], model_version_id=version.pk)  # as scoring keeps it
    prediction.refresh_from_db(fields=["error"])
    return prediction


def rate(user, trailer, score) -> Rating:
    return rate_trailer(user=user, trailer=trailer, score=score)


def scored_by_an_ensemble(*, rater) -> dict:
    """Four ready trailers: the active 5-model version is most unsure of "Murky", which has the most ratings (one,
    by ``rater``). Returns the version and the trailers by title."""
    version = create_version(number=3, active=True, ensemble=5)
    trailers = {title: create_trailer(title=title) for title in ("Clear", "Murky", "Middling", "Fresh")}
    create_prediction(version, trailers["Clear"], 7.0, uncertainty=0.2)
    create_prediction(version, trailers["Murky"], 6.1, uncertainty=1.8)
    create_prediction(version, trailers["Middling"], 4.0, uncertainty=0.9)
    create_prediction(version, trailers["Fresh"], 5.0, uncertainty=0.4)
    rate_trailer(user=rater, trailer=trailers["Murky"], score=3)
    return {"version": version, **trailers}
