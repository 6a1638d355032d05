"""Rater statistics: Krippendorff's alpha (interval) and each rater's bias against the others."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml.agreement import krippendorff_alpha, rater_agreement

# Krippendorff's own worked example (3 coders, 15 units, values 1–4, gaps). 0.810845 is what the reference
# implementation (the `krippendorff` package, 0.9.0, level_of_measurement="interval") gives on it.
EXAMPLE = {
    "A": {5: 3, 6: 4, 7: 1, 8: 2, 9: 1, 10: 1, 11: 3, 12: 3, 14: 3},
    "B": {0: 1, 2: 2, 3: 1, 4: 3, 5: 3, 6: 4, 7: 3},
    "C": {2: 2, 3: 1, 4: 3, 5: 4, 6: 4, 8: 2, 9: 1, 10: 1, 11: 3, 12: 3, 14: 4},
}


def test_alpha_matches_the_reference_on_krippendorffs_example():
    assert krippendorff_alpha(EXAMPLE) == pytest.approx(0.810845, abs=1e-6)


def test_perfect_agreement_is_one_and_a_constant_offset_lowers_it():
    same = {"a": {1: 2, 2: 5, 3: 9}, "b": {1: 2, 2: 5, 3: 9}}
    assert krippendorff_alpha(same) == pytest.approx(1.0)
    shifted = {"a": {1: 2, 2: 5, 3: 9}, "b": {1: 4, 2: 7, 3: 10}}
    assert krippendorff_alpha(shifted) < 0.95


def test_alpha_needs_two_items_rated_twice_and_some_variation():
    assert krippendorff_alpha({"a": {1: 5, 2: 6}, "b": {1: 5}}) is None  # one item rated twice
    assert krippendorff_alpha({"a": {1: 5, 2: 5}, "b": {1: 5, 2: 5}}) is None  # nothing varies
    assert krippendorff_alpha({}) is None


def test_opposite_raters_disagree_below_zero():
    assert krippendorff_alpha({"a": {1: 1, 2: 10, 3: 1, 4: 10}, "b": {1: 10, 2: 1, 3: 10, 4: 1}}) < 0


def test_bias_is_the_mean_difference_from_the_others_on_shared_trailers():
    ratings = {
        "ana": {1: 5, 2: 7, 3: 6, 4: 9},           # 4 has no other rater: not shared
        "ben": {1: 4, 2: 5, 3: 4},                 # rates lower
        "cat": {1: 6, 2: 7, 3: 8},
    }
    rows = {row.rater: row for row in rater_agreement(ratings)}
    ana, ben, cat = rows["ana"], rows["ben"], rows["cat"]
    assert (ana.count, ana.shared) == (4, 3) and ana.mean == pytest.approx(27 / 4)
    # ana against the others' mean: 5 - 5, 7 - 6, 6 - 6.
    assert ana.bias == pytest.approx((0 + 1 + 0) / 3)
    # ben: 4 - 5.5, 5 - 7, 4 - 7.
    assert ben.bias == pytest.approx((-1.5 - 2 - 3) / 3)
    assert cat.bias == pytest.approx(((6 - 4.5) + (7 - 6) + (8 - 5)) / 3)
    assert ben.alpha_without == pytest.approx(krippendorff_alpha({"ana": ratings["ana"], "cat": ratings["cat"]}))
    assert math.isfinite(ana.correlation) and -1 <= ana.correlation <= 1


def test_a_lone_rater_has_no_bias_and_no_correlation():
    (row,) = rater_agreement({"solo": {1: 3, 2: 4}})
    assert row.shared == 0 and row.bias is None and row.correlation is None and row.alpha_without is None


def _alpha_by_definition(ratings) -> float | None:
    """Krippendorff's interval alpha from its definition, every pair of values counted out (small tables only)."""
    units = {}
    for scores in ratings.values():
        for item, score in scores.items():
            units.setdefault(item, []).append(float(score))
    units = [u for u in units.values() if len(u) >= 2]
    values = [v for u in units for v in u]
    n = len(values)
    if len(units) < 2:
        return None
    observed = sum(sum((a - b) ** 2 for i, a in enumerate(u) for j, b in enumerate(u) if i != j) / (len(u) - 1)
                   for u in units) / n
    expected = sum((a - b) ** 2 for i, a in enumerate(values) for j, b in enumerate(values) if i != j) / (n * (n - 1))
    return None if expected == 0 else 1 - observed / expected


def test_each_raters_alpha_without_them_is_alpha_over_the_others_counted_out():
    rng = np.random.default_rng(3)
    for _ in range(5):
        truth = rng.uniform(1, 10, size=30)
        ratings = {f"r{k}": {item: float(np.clip(round(truth[item] + rng.normal(0, 1.5)), 1, 10))
                             for item in range(30) if rng.uniform() < 0.6} for k in range(8)}
        ratings["once"] = {99: 4.0}  # an item nobody else rated
        assert krippendorff_alpha(ratings) == pytest.approx(_alpha_by_definition(ratings), abs=1e-9)
        for row in rater_agreement(ratings):
            others = {r: s for r, s in ratings.items() if r != row.rater}
            assert row.alpha_without == pytest.approx(_alpha_by_definition(others), abs=1e-9)
            # Bias and correlation against the mean of the others' scores on each trailer both rated, counted out.
            pairs = [(score, np.mean([s[item] for s in others.values() if item in s]))
                     for item, score in ratings[row.rater].items() if any(item in s for s in others.values())]
            assert row.shared == len(pairs) and row.count == len(ratings[row.rater])
            if pairs:
                mine, theirs = np.array(pairs).T
                assert row.bias == pytest.approx(float(np.mean(mine - theirs)), abs=1e-9)
            if len(pairs) >= 3:
                assert row.correlation == pytest.approx(float(np.corrcoef(mine, theirs)[0, 1]), abs=1e-9)
    # Two raters: without either, no item has two ratings left.
    assert all(row.alpha_without is None for row in rater_agreement({"a": {1: 2, 2: 3}, "b": {1: 4, 2: 5}}))


def test_a_table_from_a_databases_columns_agrees_with_one_from_a_mapping():
    from ml.agreement import RatingTable

    rows = [(7, 100, 5.0), (7, 101, 6.0), (3, 100, 4.0), (3, 101, 8.0), (3, 102, 2.0), (9, 102, 3.0), (9, 100, 5.0)]
    mapping: dict = {}
    for rater, item, score in rows:
        mapping.setdefault(rater, {})[item] = score
    table = RatingTable.from_rows(*map(np.array, zip(*rows, strict=True)))
    assert table.raters == [3, 7, 9] and table.size == 7 and table.items == 3 and table.multiply_rated == 3
    assert krippendorff_alpha(table) == pytest.approx(krippendorff_alpha(mapping))
    by_rater = {row.rater: row for row in rater_agreement(mapping)}
    for row in rater_agreement(table):
        same = by_rater[row.rater]
        assert (row.count, row.shared) == (same.count, same.shared)
        assert (row.bias, row.alpha_without) == pytest.approx((same.bias, same.alpha_without))
    # Leaving raters out: as if they had never rated.
    kept = table.without({7})
    assert kept.raters == [3, 9] and kept.size == 5
    assert krippendorff_alpha(kept) == pytest.approx(krippendorff_alpha({r: s for r, s in mapping.items() if r != 7}))
    assert krippendorff_alpha(table.without({3, 7, 9})) is None


def test_items_named_otherwise_than_by_whole_numbers_and_scores_far_from_zero():
    # Items named 1.5 and 1.7 were read as one item 1 (and "1", "01" and 1 as one): alpha -0.14 for two raters who
    # agree exactly.
    same = {1.5: 1, 1.7: 9, 3: 5, 4: 6}
    assert krippendorff_alpha({"a": same, "b": dict(same)}) == pytest.approx(1.0)
    named = {"a": {"1": 1, 1: 9, "01": 5}, "b": {"1": 2, 1: 9, "01": 4}}
    assert krippendorff_alpha(named) == pytest.approx(_alpha_by_definition(named))
    # A shift changes nothing (scores around 1e8 read as all alike: None).
    near = {"a": {1: 1.0, 2: 9.0, 3: 5.0}, "b": {1: 2.0, 2: 9.0, 3: 4.0}}
    far = {r: {i: v + 1e8 for i, v in s.items()} for r, s in near.items()}
    assert krippendorff_alpha(far) == pytest.approx(krippendorff_alpha(near))
    assert [row.bias for row in rater_agreement(far)] == pytest.approx([row.bias for row in rater_agreement(near)])
