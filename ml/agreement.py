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


def krippendorff_alpha(ratings: Ratings) -> float | None:
    """Krippendorff's alpha with the interval (squared difference) metric: 1 is perfect agreement, 0 what chance
    gives, below 0 systematic disagreement. None when fewer than two items have two ratings or more, or when
    every rating is the same (no disagreement could be observed or expected)."""
    units = [np.fromiter(scores.values(), dtype=float) for scores in by_item(ratings).values() if len(scores) >= 2]
    if len(units) < 2:
        return None
    pairable = np.concatenate(units)
    n = pairable.size
    # Observed: within-unit squared differences, each unit weighted 1 / (m_u - 1).
    observed = sum(float(((u[:, None] - u[None, :]) ** 2).sum()) / (u.size - 1) for u in units) / n
    # Expected: over every pair of pairable values, whatever their unit (via the variance, without an n×n matrix).
    expected = 2 * n * float(((pairable - pairable.mean()) ** 2).sum()) / (n * (n - 1))
    if expected == 0:
        return None
    return 1.0 - observed / expected


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
    items = by_item(ratings)
    out = []
    for rater, scores in ratings.items():
        mine, others = [], []
        for item, score in scores.items():
            rest = [s for r, s in items[item].items() if r != rater]
            if rest:
                mine.append(float(score))
                others.append(sum(rest) / len(rest))
        values = [float(s) for s in scores.values()]
        out.append(RaterAgreement(
            rater=rater, count=len(values), mean=sum(values) / len(values) if values else None, shared=len(mine),
            bias=float(np.mean(np.subtract(mine, others))) if mine else None,
            correlation=_pearson(mine, others),
            alpha_without=krippendorff_alpha({r: s for r, s in ratings.items() if r != rater}),
        ))
    return out


def _pearson(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None
    x, y = np.asarray(a) - np.mean(a), np.asarray(b) - np.mean(b)
    denominator = float(np.sqrt((x**2).sum() * (y**2).sum()))
    return float((x * y).sum()) / denominator if denominator > 0 else None
