"""Agreement between raters: Krippendorff's alpha (interval metric) and each rater's bias against the others.

Plain numbers in, plain numbers out: no Django, no torch. A rating table is a mapping
{rater: {item: score}}; an item rated by fewer than two raters tells nothing about agreement
and is left out of alpha, as Krippendorff's method leaves it out.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

Ratings = Mapping[Hashable, Mapping[Hashable, float]]


def by_item(ratings: Ratings) -> dict[Hashable, dict[Hashable, float]]:
    """{rater: {item: score}} turned round: {item: {rater: score}}."""
    items: dict[Hashable, dict[Hashable, float]] = {}
    for rater, scores in ratings.items():
        for item, score in scores.items():
            items.setdefault(item, {})[rater] = float(score)
    return items


@dataclass
class _Pairable:
    """What alpha needs of the items rated twice or more, as sums: how many such items, their values' count, sum
    and sum of squares, and the within-item disagreement (each item's squared differences over its pairs of values,
    weighted 1 / (m - 1)). Alpha without one rater is then these sums less that rater's items' share: one pass over
    the ratings for every rater together, where computing it afresh per rater took raters × ratings."""

    units: int = 0
    n: int = 0
    total: float = 0.0
    squares: float = 0.0
    observed: float = 0.0

    def add(self, m: int, total: float, squares: float, sign: int = 1) -> None:
        if m < 2:
            return  # rated once: no pair, left out as Krippendorff leaves it out
        self.units += sign
        self.n += sign * m
        self.total += sign * total
        self.squares += sign * squares
        # Within one item: the sum over ordered pairs of (a - b)² is 2 (m Σx² - (Σx)²).
        self.observed += sign * 2 * (m * squares - total**2) / (m - 1)

    def alpha(self) -> float | None:
        if self.units < 2:
            return None
        n = self.n
        # Expected: over every pair of pairable values, whatever their item (via their variance, no n×n matrix).
        expected = 2 * (n * self.squares - self.total**2) / (n * (n - 1))
        if expected <= 1e-12 * max(1.0, self.squares / n):  # every value the same, to rounding
            return None
        return 1.0 - self.observed / n / expected


def _item_sums(items: Mapping[Hashable, Mapping[Hashable, float]]) -> dict[Hashable, tuple[int, float, float]]:
    return {item: (len(scores), sum(scores.values()), sum(v * v for v in scores.values()))
            for item, scores in items.items()}


def _pairable(sums: Mapping[Hashable, tuple[int, float, float]]) -> _Pairable:
    pairable = _Pairable()
    for m, total, squares in sums.values():
        pairable.add(m, total, squares)
    return pairable


def krippendorff_alpha(ratings: Ratings) -> float | None:
    """Krippendorff's alpha with the interval (squared difference) metric: 1 is perfect agreement, 0 what chance
    gives, below 0 systematic disagreement. None when fewer than two items have two ratings or more, or when
    every rating is the same (no disagreement could be observed or expected)."""
    return _pairable(_item_sums(by_item(ratings))).alpha()


@dataclass(frozen=True)
class RaterAgreement:
    """How one rater compares with the others on the items they share.

    ``bias``: the mean of (their score − the mean of the others' scores) over shared items (positive: they rate
    higher than the others); ``correlation``: Pearson's r between their scores and the others' means (None with
    fewer than 3 shared items, or no variation); ``alpha_without``: the alpha of every other rater together.
    """

    rater: Hashable
    count: int
    mean: float | None
    shared: int
    bias: float | None
    correlation: float | None
    alpha_without: float | None


def rater_agreement(ratings: Ratings) -> list[RaterAgreement]:
    """One RaterAgreement per rater, in the order of ``ratings``."""
    sums = _item_sums(by_item(ratings))
    everyone = _pairable(sums)
    out = []
    for rater, scores in ratings.items():
        mine, others = [], []
        without = _Pairable(everyone.units, everyone.n, everyone.total, everyone.squares, everyone.observed)
        for item, score in scores.items():
            score = float(score)
            m, total, squares = sums[item]
            if m > 1:
                mine.append(score)
                others.append((total - score) / (m - 1))
            without.add(m, total, squares, sign=-1)
            without.add(m - 1, total - score, squares - score * score)
        values = [float(s) for s in scores.values()]
        out.append(RaterAgreement(
            rater=rater, count=len(values), mean=sum(values) / len(values) if values else None, shared=len(mine),
            bias=float(np.mean(np.subtract(mine, others))) if mine else None,
            correlation=_pearson(mine, others),
            alpha_without=without.alpha(),
        ))
    return out


def _pearson(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None
    x, y = np.asarray(a) - np.mean(a), np.asarray(b) - np.mean(b)
    denominator = float(np.sqrt((x**2).sum() * (y**2).sum()))
    return float((x * y).sum()) / denominator if denominator > 0 else None
