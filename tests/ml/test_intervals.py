"""The 80% interval from the folds' own errors (ml.intervals): its arithmetic, its refusals, that it holds the
rating about as often as it says for trailers like the training ones, and that it widens for trailers unlike
them (errors read relative to how far each trailer sat from its fold model's training trailers)."""

from __future__ import annotations

import numpy as np
import pytest

from ml.intervals import COVERAGE, COVERAGE_WORDS, FLOOR_SHARE, coverage_words, cv_plus
from ml.neighbours import NearestTrailers


def test_the_interval_is_the_ranked_fold_errors_around_each_fold_models_prediction():
    # Two members predict 5 and 6; the first's fold erred by 0.5, 1 and 2, the second's by 0.2 and 0.4.
    residuals = [np.array([0.5, 1.0, 2.0]), np.array([0.2, 0.4])]
    # Lower ends 4.5 4 3 5.8 5.6, upper ends 5.5 6 7 6.2 6.4; n = 5.
    assert cv_plus([5.0, 6.0], residuals, coverage=0.5) == pytest.approx((4.5, 6.2))  # the 3rd of each
    assert cv_plus([5.0, 6.0], residuals, coverage=0.8) == pytest.approx((3.0, 7.0))  # the 1st and the 5th
    assert COVERAGE == 0.8
    # Four errors are just enough for 80%: the widest of them (a rank that floating point must not miss).
    assert cv_plus([5.0, 6.0, 5.0, 6.0], [np.array([e]) for e in (1.0, 0.5, 0.25, 2.0)]) == pytest.approx((4.0, 8.0))


def test_no_interval_without_every_members_errors_or_with_too_few_of_them():
    # Nine members say 5 and one 0, each within 0.1 on its fold: CV+ alone gives 4.9–5.1, which would not hold
    # the ensemble's own 4.5; the interval is widened to hold it.
    assert cv_plus([5.0] * 9 + [0.0], [np.array([0.1] * 2)] * 10) == pytest.approx((4.5, 5.1))
    assert cv_plus([5.0, 6.0], [np.array([0.5, 1.0]), None]) is None  # a member from an older file
    assert cv_plus([5.0], [np.array([0.5, 1.0, 2.0, 3.0, 4.0])]) is None  # one model: no folds
    assert cv_plus([5.0, 6.0], [np.array([0.5]), np.array([0.2, 0.4])]) is None  # 3 errors cannot bound 80%
    with pytest.raises(ValueError, match="coverage must be between 0 and 1"):
        cv_plus([5.0, 6.0], [np.array([0.5]), np.array([0.2])], coverage=1.0)
    with pytest.raises(ValueError, match="2 member predictions for 3 members' errors"):
        cv_plus([5.0, 6.0], [np.array([0.5])] * 3)


def test_it_holds_about_four_ratings_in_five_like_the_training_ones():
    # 5 fold models of a noisy rating (each a little off in its own way), 100 training trailers: their
    # out-of-fold errors make the interval; 2,000 new trailers drawn the same way land in it about 80% of the time
    # (CV+ promises a little under 60%). The members' spread alone would hold hardly any.
    rng = np.random.default_rng(0)
    truth = lambda x: 2.0 + 6.0 * x  # noqa: E731
    bias = rng.normal(0, 0.2, size=5)
    slope = 1 + rng.normal(0, 0.05, size=5)
    predict = lambda k, x: truth(x) * slope[k] + bias[k] - 5 * (slope[k] - 1)  # noqa: E731
    x = rng.uniform(0, 1, size=100)
    y = truth(x) + rng.normal(0, 0.8, size=100)
    fold = np.arange(100) % 5
    residuals = [np.abs(y[fold == k] - predict(k, x[fold == k])) for k in range(5)]
    inside, spread_inside = 0, 0
    new_x = rng.uniform(0, 1, size=2000)
    new_y = truth(new_x) + rng.normal(0, 0.8, size=2000)
    for xi, yi in zip(new_x, new_y, strict=True):
        each = [predict(k, xi) for k in range(5)]
        low, high = cv_plus(each, residuals)
        inside += low <= yi <= high
        spread_inside += abs(np.mean(each) - yi) <= 1.28 * np.std(each)
    assert 0.75 <= inside / 2000 <= 0.87
    assert spread_inside / 2000 < 0.4


def test_each_error_counts_in_proportion_to_how_far_the_new_trailer_is_against_how_far_its_own_was():
    residuals = [np.array([0.5, 1.0, 2.0]), np.array([0.2, 0.4])]
    scales = [np.array([1.0, 1.0, 1.0]), np.array([2.0, 2.0])]
    # As far from each member's training trailers as that member's fold trailers were: plain CV+.
    assert cv_plus([5.0, 6.0], residuals, 0.8, scales=scales, distances=[1.0, 2.0]) == pytest.approx((3.0, 7.0))
    # Twice as far from both: every error doubled (lower ends 4 3 1 5.6 5.2, upper 6 7 9 6.4 6.8).
    assert cv_plus([5.0, 6.0], residuals, 0.8, scales=scales, distances=[2.0, 4.0]) == pytest.approx((1.0, 9.0))
    assert cv_plus([5.0, 6.0], residuals, 0.5, scales=scales, distances=[2.0, 4.0]) == pytest.approx((4.0, 6.8))
    # A fold trailer that was on top of a training one (distance 0) counts as FLOOR_SHARE of the median distance,
    # and so does a new trailer on top of one: no error counts without bound, no interval shrinks to a point.
    # Distances 0 1 1 2 2 (median 1): the first error, 0.5, counts as 0.5 / 0.1 = 5 and bounds both ends.
    far = cv_plus([5.0, 6.0], residuals, 0.8, scales=[np.array([0.0, 1.0, 1.0]), np.array([2.0, 2.0])],
                  distances=[1.0, 2.0])
    assert FLOOR_SHARE == 0.1 and far == pytest.approx((5.0 - 5.0, 5.0 + 5.0))
    # On top of both: distance 0.1 each, errors 0.05 0.1 0.2 (0.1 / 1) and 0.01 0.02 (0.1 / 2).
    assert cv_plus([5.0, 5.0], residuals, 0.8, scales=scales, distances=[0.0, 0.0]) == pytest.approx((4.8, 5.2))
    # Without every distance (a model file from before them) the interval is plain CV+.
    assert cv_plus([5.0, 6.0], residuals, 0.8, scales=[scales[0], None], distances=[9.0, 9.0]) == pytest.approx(
        (3.0, 7.0))
    assert cv_plus([5.0, 6.0], residuals, 0.8, scales=scales, distances=None) == pytest.approx((3.0, 7.0))
    with pytest.raises(ValueError, match="a member has 3 errors and 2 distances"):
        cv_plus([5.0, 6.0], residuals, scales=[np.array([1.0, 1.0]), np.array([2.0, 2.0])], distances=[1.0, 1.0])
    with pytest.raises(ValueError, match="2 members' errors with 2 members' distances and 1 of the trailer's"):
        cv_plus([5.0, 6.0], residuals, scales=scales, distances=[1.0])


def test_it_keeps_its_word_on_trailers_unlike_the_training_ones_where_plain_cv_plus_does_not():
    # A rating whose unexplained part grows with how far a trailer's vector lies from the training trailers'
    # (the way a model errs more the further it must reach). 5 fold models (least squares on 4 folds of 100
    # training trailers) and new trailers from a wider spread: plain CV+ holds far fewer than 80% of them; read
    # relative to each trailer's distance from the fold model's training trailers, the interval holds about its
    # 80% there, and still about 80% of new trailers like the training ones.
    rng = np.random.default_rng(1)
    width = 6
    weights = rng.normal(0, 1, size=width)
    x = rng.normal(0, 1, size=(100, width))
    reach = NearestTrailers(x, np.zeros(100))

    def rating(v):
        return v @ weights + rng.normal(0, 1, size=len(v)) * 0.5 * reach.distance(v)

    y = rating(x)
    fold = np.arange(100) % 5
    models, residuals, scales, nears = [], [], [], []
    for k in range(5):
        train = fold != k
        coef = np.linalg.lstsq(np.c_[x[train], np.ones(train.sum())], y[train], rcond=None)[0]
        models.append(coef)
        residuals.append(np.abs(y[~train] - np.c_[x[~train], np.ones((~train).sum())] @ coef))
        nears.append(NearestTrailers(x[train], y[train]))
        scales.append(nears[k].distance(x[~train]))

    def coverage(new_x, widened):
        new_y = rating(new_x)
        inside = 0
        for xi, yi in zip(new_x, new_y, strict=True):
            each = [float(np.r_[xi, 1.0] @ coef) for coef in models]
            distances = [float(n.distance(xi)[0]) for n in nears] if widened else None
            low, high = cv_plus(each, residuals, scales=scales if widened else None, distances=distances)
            inside += low <= yi <= high
        return inside / len(new_x)

    unlike = rng.normal(0, 2.0, size=(1000, width))
    like = rng.normal(0, 1, size=(1000, width))
    assert coverage(unlike, widened=False) < 0.6  # 0.53 measured
    assert 0.74 <= coverage(unlike, widened=True) <= 0.86  # 0.80
    assert 0.74 <= coverage(like, widened=True) <= 0.86  # 0.79


def test_pages_api_and_cli_name_the_interval_by_its_coverage():
    assert COVERAGE_WORDS == {"percent": "80%", "odds": "4 times in 5"} == coverage_words(COVERAGE)
    assert coverage_words(0.9) == {"percent": "90%", "odds": "9 times in 10"}
    assert coverage_words(0.95) == {"percent": "95%", "odds": "19 times in 20"}
