"""Prediction intervals: the range a trailer's rating should fall in, from the cross-validation's own errors.

The members' spread (``Scores.uncertainty``) says how much the fold models disagree; it is no error bar. On
bench/learn's held-out trailers (fold seeds 0-4), the ensemble's prediction ± 1.28 of its spread held the rating
for 6 to 10 of 20 trailers on content and 1 to 3 of 20 on motion, where an 80% error bar should hold 16.

The interval here is CV+ (Barber, Candès, Ramdas and Tibshirani, "Predictive inference with the jackknife+",
Annals of Statistics 2021), which fits a K-fold ensemble as it is. Each training trailer ``i`` has its
out-of-fold error ``R_i``: how far the fold model that never saw it (as the version delivers it: mixed with
its neighbours where it is) was from its rating. For a new trailer, with ``mu_k`` the prediction of the fold
model that did not train on ``i``, the interval runs from the ``floor(a (n + 1))``-th smallest of
``mu_k - R_i`` to the ``ceil((1 - a) (n + 1))``-th smallest of ``mu_k + R_i`` over the ``n`` training
trailers, ``a`` being 1 − the coverage. For trailers exchangeable with the training ones the paper proves
a little under 1 − 2a (a term for the K folds' sizes less), and finds about 1 − a in practice; here the
neighbours' share was also chosen on the same errors, which makes them a little optimistic. The interval is
widened, where it must be, to hold the ensemble's own prediction (with unequal folds CV+ need not).

Plain CV+ cannot foresee trailers unlike any it trained on: on bench/learn's held-out trailers, made from
other photographs and other shapes, it held 70–100% of the content ratings and 45–60% of the motion ones. So
each error is read relative to how unlike its training trailers the trailer looked (a normalised, or
"locally weighted", score: Papadopoulos, Gammerman and Vovk 2008; Lei et al., "Distribution-free predictive
inference for regression", JASA 2018): ``s_i``, the distance of trailer ``i`` from the training trailers of
the fold model that did not see it (``ml.neighbours.NearestTrailers.distance``: the mean distance of its
frame embeddings' average to its 5 nearest), and ``s_k(x)``, the new trailer's from fold model ``k``'s. The
bounds are then the same ranks of ``mu_k - R_i s_k(x) / s_i`` and ``mu_k + R_i s_k(x) / s_i``: a trailer as
far from its training trailers as a typical fold trailer gets about the plain interval, one twice as far
one twice as wide. Each ``s`` is measured against the training trailers of one fold model alone, so the
errors stay about as exchangeable with a new trailer's as before, and the argument for the guarantee above
carries over, approximately, to trailers like the training ones (the floor below uses the median of every
fold's distances, and the neighbours' share was chosen on the same errors). It has no parameter fitted to
trailers, but its form (unscaled distances, no offset) was chosen after bench/learn's held-out coverage of
several forms had been seen, so those figures (bench/LEARNING.md) are no clean test of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

COVERAGE = 0.8  # the share of ratings the interval should hold: "4 times in 5"


def coverage_words(coverage: float = COVERAGE) -> dict[str, str]:
    """How pages, the API and the CLI name the interval: {"percent": "80%", "odds": "4 times in 5"}, so that
    their words follow ``COVERAGE``."""
    odds = Fraction(coverage).limit_denominator(20)
    return {"percent": f"{coverage:.0%}", "odds": f"{odds.numerator} times in {odds.denominator}"}


COVERAGE_WORDS = coverage_words()

# From this novelty on (``ml.crossval.trailer_novelty``: twice as far from the training trailers as a typical trailer
# of the run's cross-validation was), a trailer reads as unlike the ones the version learnt from. Chosen at stop 30
# as a round number between the median novelty of bench/learn's held-out content trailers (1.00: new photographs of
# known kinds) and motion's (2.46: new shapes), so with those figures in view, not on a set of its own: the trailer page
# says so, the dataset marks its active prediction, and the predictions page counts them and filters by it
# (trailers.models.Prediction.LOOKS_UNLIKE, the same rule as a query).
UNLIKE = 2.0


def looks_unlike(novelty: float | None) -> bool:
    """Whether a prediction's novelty says its trailer looks unlike the version's training trailers (``UNLIKE``);
    False for one without a novelty (a version that kept no distances)."""
    return novelty is not None and novelty >= UNLIKE


def cv_plus(member_predictions: Sequence[float], residuals: Sequence[np.ndarray | None],
            coverage: float = COVERAGE, *, scales: Sequence[np.ndarray | None] | None = None,
            distances: Sequence[float | None] | None = None) -> tuple[float, float] | None:
    """One trailer's interval from each member's prediction of it and each member's out-of-fold errors (the
    absolute errors on the trailers it did not train on). None when a member has no errors recorded (a model
    file made before them, or a single model) or when there are too few errors for this coverage.

    ``scales`` (each member's: how far each of its fold's trailers was from its training trailers) and
    ``distances`` (how far this trailer is from each member's training trailers) make the errors relative to
    that distance (see the module's notes); where any is missing (a model file made before them, a model
    without embeddings) the interval is plain CV+."""
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be between 0 and 1, got {coverage}")
    if len(member_predictions) != len(residuals):
        raise ValueError(f"{len(member_predictions)} member predictions for {len(residuals)} members' errors")
    if len(residuals) < 2 or any(r is None or not len(r) for r in residuals):
        return None
    centres = np.concatenate([np.full(len(r), float(p)) for p, r in zip(member_predictions, residuals, strict=True)])
    errors = np.concatenate([np.asarray(r, dtype=np.float64) for r in residuals])
    errors = errors * _widening(residuals, scales, distances)
    n, miss = len(errors), 1.0 - coverage
    prediction = float(np.mean(member_predictions))  # the ensemble's: the score shown beside the interval
    # Rounded first: 1 - 0.8 is 0.19999999999999996 in floating point, and 4 errors would bound nothing.
    low_rank, high_rank = math.floor(round(miss * (n + 1), 9)), math.ceil(round((1.0 - miss) * (n + 1), 9))
    if low_rank < 1 or high_rank > n:
        return None
    low, high = float(np.sort(centres - errors)[low_rank - 1]), float(np.sort(centres + errors)[high_rank - 1])
    return min(low, prediction), max(high, prediction)


FLOOR_SHARE = 0.1  # a fold trailer's distance counts as at least this share of the folds' median distance


def _widening(residuals: Sequence[np.ndarray], scales: Sequence[np.ndarray | None] | None,
              distances: Sequence[float | None] | None) -> np.ndarray | float:
    """Each error's factor ``s_k(x) / s_i``, in the order the errors are concatenated; 1 where the distances
    are not all known. A fold trailer that sat on top of a training one (a distance near 0) would make its
    error count without bound, and a trailer on top of one would get no interval at all: both distances are
    floored at ``FLOOR_SHARE`` of the fold trailers' median."""
    if scales is None or distances is None or any(s is None for s in scales) or any(d is None for d in distances):
        return 1.0
    if not (len(scales) == len(distances) == len(residuals)):
        raise ValueError(f"{len(residuals)} members' errors with {len(scales)} members' distances and "
                         f"{len(distances)} of the trailer's")
    for member_scales, member_errors in zip(scales, residuals, strict=True):
        if len(member_scales) != len(member_errors):
            raise ValueError(f"a member has {len(member_errors)} errors and {len(member_scales)} distances")
    each = np.concatenate([np.asarray(s, dtype=np.float64) for s in scales])
    if not np.all(np.isfinite(each)) or not all(np.isfinite(d) and d >= 0 for d in distances):
        return 1.0
    median = float(np.median(each))
    if median <= 0:
        return 1.0
    floored = np.maximum(each, FLOOR_SHARE * median)
    new = np.concatenate([np.full(len(s), float(d)) for s, d in zip(scales, distances, strict=True)])
    return np.maximum(new, FLOOR_SHARE * median) / floored
