"""The nearest neighbours: a trailer rated as the training trailers whose footage looks most like it, as a
baseline and as a part of the model.

Each trailer is one vector, its frames' encoder embeddings averaged over all its subclips. The vectors are
standardised with the training trailers' mean and sd per dimension, and a trailer's prediction is the mean
rating of the ``NEIGHBOURS`` training trailers nearest it (Euclidean distance). Nothing is trained and nothing
is chosen on the trailers it scores. Cross-validation scores it on the same folds as the model
(``ml.crossval``), beside the mean-rating baseline: a head that does no better than "rated like the trailers
that look like it" has learnt nothing the embeddings did not already say.

Why it is there: on bench/learn.py's sets, scored with folds that never share a photograph or a shape, the
neighbours beat the head where the rating follows what the pictures show (content: 0.47× the mean's MAE
against the head's 0.60×) and fail where it follows how things move (motion: 1.11× against 0.54×).

So a cross-validated run also mixes them into its model (``TrainConfig.neighbour_mix``): the head's
prediction and the neighbours', the neighbours weighing one of ``MIX_WEIGHTS`` (:func:`choose_weight`,
chosen on the run's held-out predictions; ``ml.crossval.mix_neighbours``). Measured the same way before it
was adopted, with the best share chosen inside the outer folds: content 0.51× (the head 0.60×), motion
0.56× (0.54×). The grid is coarse and the rule cautious on purpose: five choices, on a few dozen
trailers' predictions. bench/learn.py with it (bench/LEARNING.md): content 0.50× on unseen photographs (the head
alone 0.49×), its estimate nearer that figure; motion unchanged (share 0).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterator, Mapping, Sequence

import numpy as np

NEIGHBOURS = 5  # training trailers averaged per prediction (no torch here: the web process reads this)
CHUNK = 512  # test trailers whose distances to every training trailer are held at once
MIX_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the neighbours' shares a run chooses from (TrainConfig.neighbour_mix)
# A run mixes only with at least this many trailers: with fewer, each fold's share is chosen on a few dozen
# predictions at most, and even the one-standard-error rule then takes shares by chance (a 16-trailer demo:
# head 1.09, the mix 1.16, the mean 1.16; 40 gives each of 5 folds 32 predictions to choose on).
MIX_MIN_TRAILERS = 40


# How a trailer's frame embeddings become its one vector: the mean of log(1 + e) over its frames. The encoder's
# numbers run from 0 to 6 (ReLU6), and a few large ones dominated the plain mean's distances; the logarithm
# evens them out (the "power normalisation" of image retrieval). Chosen on bench/learn's training sides, with
# folds that never share a photograph or a shape (bench/LEARNING.md, stop 36): the default preset's source-out
# CV 0.608 → 0.575× the mean's on content, motion unchanged. A model file says which it used; those from before
# it used the plain mean ("mean"), and their trailers are still compared so.
POOLING = "log1p-mean"
POOLINGS = ("mean", POOLING)


def pooled(rows: np.ndarray, pooling: str = POOLING) -> np.ndarray:
    """A trailer's frame embeddings (T, D) → its vector (D,), float64, pooled as ``pooling`` says."""
    if pooling == "mean":
        return np.asarray(rows).mean(axis=0, dtype=np.float64)
    if pooling == POOLING:
        return np.log1p(np.clip(np.asarray(rows, dtype=np.float64), 0.0, None)).mean(axis=0)
    raise ValueError(f"unknown pooling {pooling!r}: one of {', '.join(POOLINGS)}")


def trailer_vectors(frames: Mapping[Hashable, np.ndarray], pooling: str = POOLING) -> dict[Hashable, np.ndarray]:
    """Each trailer's frame embeddings (``ml.embeddings.trailer_frames``: every subclip's) pooled into its vector
    (:func:`pooled`); {} unless they are all of one width."""
    vectors = {trailer: pooled(rows, pooling) for trailer, rows in frames.items()}
    if len({v.shape for v in vectors.values()}) > 1:
        return {}
    return vectors


def predict_neighbours(train: Mapping[Hashable, np.ndarray], ratings: Mapping[Hashable, float],
                       test: Mapping[Hashable, np.ndarray], k: int = NEIGHBOURS) -> dict[Hashable, float]:
    """Each test trailer's prediction: the mean rating of its ``k`` nearest training trailers (all of them when
    there are fewer), distances taken after standardising every dimension with the training trailers' mean and
    sd (a dimension that never changes there counts for nothing)."""
    if not train:
        raise ValueError("the neighbours baseline needs at least one training trailer")
    keys = list(train)
    near = NearestTrailers(np.stack([train[key] for key in keys]), np.array([float(ratings[key]) for key in keys]), k)
    test_keys = list(test)
    if not test_keys:
        return {}
    predicted = near.predict(np.stack([test[key] for key in test_keys]))
    return {key: float(value) for key, value in zip(test_keys, predicted, strict=True)}


class NearestTrailers:
    """Training trailers' vectors and ratings, ready to rate other trailers by their ``k`` nearest; ``weight``
    is the neighbours' share when a model's prediction is mixed with theirs (:func:`mixed`); ``keys`` name the
    trailers, where known."""

    def __init__(self, vectors: np.ndarray, ratings: np.ndarray, k: int = NEIGHBOURS, weight: float = 0.0,
                 keys: Sequence[Hashable] | None = None, pooling: str = POOLING) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}: one of {', '.join(POOLINGS)}")
        self.pooling = pooling  # how the vectors were made from frames, and how a trailer's must be
        vectors = np.asarray(vectors, dtype=np.float64)
        if vectors.ndim != 2 or not len(vectors) or len(vectors) != len(ratings):
            raise ValueError(f"expected one vector per rating, got vectors shaped {vectors.shape} for "
                             f"{len(ratings)} ratings")
        self.vectors, self.ratings = vectors, np.asarray(ratings, dtype=np.float64)
        self.k, self.weight = int(k), float(weight)
        self.keys = list(keys) if keys is not None else None
        self.shift, sd = vectors.mean(axis=0), vectors.std(axis=0)
        self.scale = np.where(sd > 1e-12, 1.0 / np.where(sd > 1e-12, sd, 1.0), 0.0)
        self._raw_norms = (vectors * vectors).sum(axis=1)

    @functools.cached_property
    def _standardised(self) -> tuple[np.ndarray, np.ndarray]:
        """The training vectors standardised, and their squared norms: made on the first prediction only (a
        member that keeps its training trailers just to measure distances never predicts from them)."""
        x = (self.vectors - self.shift) * self.scale
        return x, (x * x).sum(axis=1)

    @property
    def width(self) -> int:
        return self.vectors.shape[1]

    def distance(self, vectors: np.ndarray) -> np.ndarray:
        """(M, D) trailer vectors → (M,) how unlike the training trailers each looks: the mean Euclidean distance
        to its ``k`` nearest, on the vectors as they are (``ml.intervals`` widens an interval by it).

        Not standardised, as :meth:`predict` compares: a dimension the training trailers hardly vary on would
        then weigh thousands of times over for a trailer that differs on it. On bench/learn's motion set the
        held-out shapes sat 30× the folds' typical distance from their training trailers standardised (some
        400×), 2.5× as they are."""
        vectors = self._checked(vectors)
        k = min(self.k, len(self.ratings))
        out = np.empty(len(vectors))
        for rows, squared in self._squared_distances(vectors, standardised=False):
            out[rows] = np.sqrt(np.maximum(np.sort(squared, axis=1)[:, :k], 0.0)).mean(axis=1)
        return out

    def _checked(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        if vectors.shape[1] != self.width:
            raise ValueError(f"the neighbours compare vectors of width {self.width}, got {vectors.shape[1]}")
        return vectors

    def _squared_distances(self, vectors: np.ndarray, *, standardised: bool) -> Iterator[tuple[slice, np.ndarray]]:
        """A chunk of test trailers at a time (its rows of ``vectors``), their squared distances to every
        training trailer (chunk, train): standardised as :meth:`predict` compares, or as they are."""
        x, norms = self._standardised if standardised else (self.vectors, self._raw_norms)
        for start in range(0, len(vectors), CHUNK):
            t = vectors[start:start + CHUNK]
            if standardised:
                t = (t - self.shift) * self.scale
            yield slice(start, start + CHUNK), norms[None, :] - 2 * t @ x.T + (t * t).sum(axis=1)[:, None]

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        """(M, D) trailer vectors → (M,) ratings: each the mean rating of its nearest training trailers."""
        vectors = self._checked(vectors)
        k = min(self.k, len(self.ratings))
        out = np.empty(len(vectors))
        for rows, squared in self._squared_distances(vectors, standardised=True):
            out[rows] = self.ratings[np.argsort(squared, axis=1, kind="stable")[:, :k]].mean(axis=1)
        return out


def mixed(model: np.ndarray | float, near: np.ndarray | float, weight: float) -> np.ndarray | float:
    """A model's predictions mixed with the neighbours': ``weight`` is the neighbours' share (0: the model's)."""
    return (1.0 - weight) * np.asarray(model) + weight * np.asarray(near) if weight else model


def choose_weight(truth, model, near, weights: tuple[float, ...] = MIX_WEIGHTS) -> float:
    """The neighbours' share (one of ``weights``, smallest first) to mix with the model, from held-out
    predictions of both (``truth``, ``model``, ``near``: one value per trailer).

    The one-standard-error rule: the smallest share whose mean absolute error is within one standard error of
    the best share's, the error compared trailer by trailer (the sd of the paired differences over the square
    root of their count). On a few dozen predictions a share that looks best by a hair is chance, and choosing
    it makes the mix worse than either part (a 16-trailer demo did that: head 1.07, neighbours 1.13, the mix
    chosen on the best mean 1.30); the model alone needs the evidence to be clear before it shares.
    """
    truth, model, near = (np.asarray(v, dtype=np.float64) for v in (truth, model, near))
    if not (truth.shape == model.shape == near.shape) or not truth.size:
        raise ValueError("choosing the neighbours' share needs one truth, model and neighbours value per trailer")
    weights = tuple(sorted(weights))
    errors = np.stack([np.abs((1 - w) * model + w * near - truth) for w in weights])  # (weights, trailers)
    best = errors[int(np.argmin(np.round(errors.mean(axis=1), 12)))]

    def within_one_se(error: np.ndarray) -> bool:
        gap = error - best
        se = gap.std(ddof=1) / np.sqrt(gap.size) if gap.size > 1 else 0.0
        return gap.mean() <= se + 1e-12

    # The best share itself qualifies (its gap is 0), so some share always does.
    return next(float(w) for w, error in zip(weights, errors, strict=True) if within_one_se(error))
