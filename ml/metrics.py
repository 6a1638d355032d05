"""Regression metrics for ratings: MAE, RMSE, Spearman, and the mean-rating baseline.

Everything here takes plain sequences or numpy arrays of ratings (not
standardised) and returns plain floats, so results can be stored as JSON.
A metric that is undefined (no values, or a constant series for Spearman)
is ``None`` rather than NaN, because NaN is not valid JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ml.neighbours import NEIGHBOURS


@dataclass(frozen=True)
class Role:
    """One thing a cross-validation scores on every fold: its label in the CLI's table, its name and what it is
    on the run page."""

    label: str
    name: str
    description: str


# The roles a cross-validation scores on the same folds (ml.crossval), in the order they are shown; a role a fold
# lacks is left out. "head" is the learnt head alone, where the model mixes it with the neighbours.
ESTIMATE_ROLES: dict[str, Role] = {
    "model": Role("model", "This run's model", "the LRCN: the encoder, then an LSTM over the frames"),  # a run: model_words
    "head": Role("head alone", "Head alone", "the model before the neighbours are mixed in"),
    "mean_baseline": Role("mean rating", "Mean-rating baseline", "always predicts the training folds' mean rating"),
    "single_frame": Role("single-frame", "Single-frame head", "the same encoder, its frames averaged: no LSTM"),
    "neighbours": Role("neighbours", "Nearest neighbours", f"the mean rating of the {NEIGHBOURS} training trailers "
                       "whose frames' embeddings are nearest: nothing learnt"),
}


def model_words(model_config: dict) -> str:
    """What a run's model is, in a line, from its options (a run's stored ``model_config``): "the LRCN: the encoder,
    then an LSTM over the frames" is no single_frame run's."""
    encoder = "a CNN learnt from scratch" if model_config.get("encoder", "scratch") == "scratch" else "the encoder"
    if model_config.get("temporal", "lstm") == "lstm":
        return f"the LRCN: {encoder}, then an LSTM over the frames"
    return f"{encoder}, its frames averaged: no LSTM"


def mae(y_true: Sequence[float], y_pred: Sequence[float]) -> float | None:
    """Mean absolute error."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(p - t))) if t.size else None


def rmse(y_true: Sequence[float], y_pred: Sequence[float]) -> float | None:
    """Root mean squared error."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((p - t) ** 2))) if t.size else None


FAR_WORSE = 3  # a held-out MAE this many times the mean baseline's: training went astray, most likely


def far_worse(model_mae: float | None, mean_mae: float | None) -> bool:
    """Whether a model's held-out MAE is over FAR_WORSE times predicting the mean rating's: a run says so (CLI and
    run page), since such a model's training most likely went astray (a learning rate too high)."""
    return model_mae is not None and bool(mean_mae) and model_mae > FAR_WORSE * mean_mae


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman rank correlation (ties get their average rank); None when undefined, or over fewer than 3 pairs."""
    x, y = _pair(a, b)
    if x.size < 3:  # two points are always ranked alike or opposite: ±1 says nothing
        return None
    rx, ry = _rank(x), _rank(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = np.sqrt((rx**2).sum() * (ry**2).sum())
    if denom == 0:
        return None
    return float((rx * ry).sum() / denom)


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float], *, baseline: float) -> dict[str, float | None]:
    """MAE, RMSE and Spearman of ``y_pred``, and MAE and RMSE of always predicting ``baseline``."""
    t, p = _pair(y_true, y_pred)
    constant = np.full_like(t, float(baseline))
    return {
        "mae": mae(t, p),
        "rmse": rmse(t, p),
        "spearman": spearman(t, p),
        "baseline_mae": mae(t, constant),
        "baseline_rmse": rmse(t, constant),
    }


def _pair(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(b, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"length mismatch: {x.size} true values, {y.size} predictions")
    return x, y


def _rank(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.arange(x.size, dtype=np.float64)
    # Average the ranks of tied values.
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]
