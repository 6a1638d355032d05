"""The 80% interval from the folds' own errors (ml.intervals): its arithmetic, its refusals, and that it holds
the rating about as often as it says for trailers like the training ones."""

from __future__ import annotations

import numpy as np
import pytest

from ml.intervals import COVERAGE, COVERAGE_WORDS, coverage_words, cv_plus


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


def test_pages_api_and_cli_name_the_interval_by_its_coverage():
    assert COVERAGE_WORDS == {"percent": "80%", "odds": "4 times in 5"} == coverage_words(COVERAGE)
    assert coverage_words(0.9) == {"percent": "90%", "odds": "9 times in 10"}
    assert coverage_words(0.95) == {"percent": "95%", "odds": "19 times in 20"}
