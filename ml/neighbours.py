"""The nearest-neighbours baseline: a trailer rated as the training trailers whose footage looks most like it.

Each trailer is one vector, its frames' encoder embeddings averaged over all its subclips. The vectors are
standardised with the training trailers' mean and sd per dimension, and a trailer's prediction is the mean
rating of the ``NEIGHBOURS`` training trailers nearest it (Euclidean distance). Nothing is trained and nothing
is chosen on the trailers it scores. Cross-validation scores it on the same folds as the model
(``ml.crossval``), beside the mean-rating baseline: a head that does no better than "rated like the trailers
that look like it" has learnt nothing the embeddings did not already say.

Why it is there: on bench/learn.py's sets, scored with folds that never share a photograph or a shape, the
neighbours beat the head where the rating follows what the pictures show (content: 0.47× the mean's MAE
against the head's 0.60×) and fail where it follows how things move (motion: 1.11× against 0.54×).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np

NEIGHBOURS = 5  # training trailers averaged per prediction (no torch here: the web process reads this)
CHUNK = 512  # test trailers whose distances to every training trailer are held at once


def trailer_vectors(frames: Mapping[Hashable, np.ndarray]) -> dict[Hashable, np.ndarray]:
    """Each trailer's frame embeddings (``ml.embeddings.trailer_frames``: every subclip's) averaged; {} unless
    they are all of one width."""
    vectors = {trailer: rows.mean(axis=0, dtype=np.float64) for trailer, rows in frames.items()}
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
    x = np.stack([train[key] for key in keys])
    y = np.array([float(ratings[key]) for key in keys])
    shift, sd = x.mean(axis=0), x.std(axis=0)
    scale = np.where(sd > 1e-12, 1.0 / np.where(sd > 1e-12, sd, 1.0), 0.0)
    x = (x - shift) * scale
    k = min(k, len(keys))
    norms = (x * x).sum(axis=1)
    test_keys = list(test)
    out = {}
    for start in range(0, len(test_keys), CHUNK):  # a chunk of test trailers against every training one at once
        chunk = test_keys[start:start + CHUNK]
        t = (np.stack([test[key] for key in chunk]) - shift) * scale
        squared = norms[None, :] - 2 * t @ x.T + (t * t).sum(axis=1)[:, None]  # squared distances, (chunk, train)
        nearest = np.argsort(squared, axis=1, kind="stable")[:, :k]
        out.update({key: float(y[row].mean()) for key, row in zip(chunk, nearest, strict=True)})
    return out
