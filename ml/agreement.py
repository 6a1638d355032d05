"""Agreement between raters: Krippendorff's alpha (interval metric) and each rater's bias against the others.

Plain numbers in, plain numbers out: no Django, no torch. A rating table is a mapping
{rater: {item: score}}; an item rated by fewer than two raters tells nothing about agreement
and is left out of alpha, as Krippendorff's method leaves it out.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

Ratings = Mapping[Hashable, Mapping[Hashable, float]]


class RatingTable:
    """A rating table as arrays, one entry per rating: its rater (an index into ``raters``), its item (renumbered
    0…), its score; and per item, its count, sum and sum of squares. Every statistic below is a sum over these, taken
    with numpy in one pass: a million ratings in well under a second, where a loop per rater over everyone's ratings
    took minutes. Made from a mapping (``of``) or from the ratings' columns as a database gives them (``from_rows``:
    no dict per rater, a tenth of the memory)."""

    def __init__(self, raters: Sequence[Hashable], rater: np.ndarray, item: np.ndarray, score: np.ndarray):
        self.raters = list(raters)
        self.rater, self.score = np.asarray(rater, dtype=np.int64), np.asarray(score, dtype=np.float64)
        _, self.item = np.unique(np.asarray(item), return_inverse=True)
        self.item = self.item.reshape(-1)
        n_items = int(self.item.max()) + 1 if self.item.size else 0
        # The sums are of the scores less their mean: alpha, bias and correlation do not change with a shift, and
        # sums of squares of scores far from 0 (1e6 and more) would lose every digit that differs.
        self.centred = self.score - (self.score.mean() if self.score.size else 0.0)
        self.m = np.bincount(self.item, minlength=n_items)
        self.total = np.bincount(self.item, weights=self.centred, minlength=n_items)
        self.squares = np.bincount(self.item, weights=self.centred**2, minlength=n_items)

    @classmethod
    def of(cls, ratings: Ratings | RatingTable) -> RatingTable:
        """The table of a mapping {rater: {item: score}} (raters in its order)."""
        if isinstance(ratings, RatingTable):
            return ratings
        raters = list(ratings)
        counts = [len(ratings[r]) for r in raters]
        size = sum(counts)
        items = np.array(list(chain.from_iterable(ratings[r].keys() for r in raters)))
        if items.dtype.kind not in "iu":  # names other than whole numbers (1.5, "1", a tuple): numbered as met
            codes: dict[Hashable, int] = {}
            items = np.fromiter((codes.setdefault(i, len(codes)) for r in raters for i in ratings[r]),
                                dtype=np.int64, count=size)
        scores = np.fromiter(chain.from_iterable(ratings[r].values() for r in raters), dtype=np.float64, count=size)
        return cls(raters, np.repeat(np.arange(len(raters)), counts), items, scores)

    @classmethod
    def from_rows(cls, raters: np.ndarray, items: np.ndarray, scores: np.ndarray) -> RatingTable:
        """The table of one entry per rating: its rater's id, its item's id, its score (raters in id order)."""
        ids, rater = np.unique(np.asarray(raters), return_inverse=True)
        return cls(ids.tolist(), rater.reshape(-1), items, scores)

    def without(self, raters: Iterable[Hashable]) -> RatingTable:
        """The table less these raters' ratings (and less them among the raters)."""
        gone = set(raters)
        keep = np.array([r not in gone for r in self.raters], dtype=bool)
        rows = keep[self.rater] if self.rater.size else np.zeros(0, bool)
        renumber = np.cumsum(keep) - 1
        return RatingTable([r for r, k in zip(self.raters, keep, strict=True) if k], renumber[self.rater[rows]],
                           self.item[rows], self.score[rows])

    @property
    def size(self) -> int:
        return int(self.score.size)

    @property
    def items(self) -> int:
        return int(self.m.size)

    @property
    def multiply_rated(self) -> int:
        return int((self.m >= 2).sum())

    def per_rater(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.rater, weights=values, minlength=len(self.raters))


def _units(m: np.ndarray, total: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """Per item, what alpha sums: (pairable?, pairable values, their sum, their squares, within-item disagreement).
    An item rated once has no pair and counts for nothing, as Krippendorff leaves it out. Within one item the sum
    over ordered pairs of (a - b)² is 2 (m Σx² - (Σx)²), weighted 1 / (m - 1)."""
    pairable = m >= 2
    observed = np.where(pairable, 2 * (m * squares - total**2) / np.maximum(m - 1, 1), 0.0)
    return np.stack([pairable, m * pairable, total * pairable, squares * pairable, observed])


def _alpha(units, n, total, squares, observed):
    """Alpha from the sums over pairable items (arrays: one alpha each); NaN where it is undefined: fewer than two
    pairable items, or every value the same (to rounding)."""
    units, n = np.asarray(units, float), np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Expected: over every pair of pairable values, whatever their item (from their variance: no n×n matrix).
        expected = 2 * (n * squares - total**2) / (n * (n - 1))
        alpha = 1.0 - observed / n / expected
    undefined = (units < 2) | ~(expected > 1e-12 * np.maximum(1.0, squares / np.maximum(n, 1)))
    return np.where(undefined, np.nan, alpha)


def _number(value) -> float | None:
    return None if np.isnan(value) else float(value)


def krippendorff_alpha(ratings: Ratings | RatingTable) -> float | None:
    """Krippendorff's alpha with the interval (squared difference) metric: 1 is perfect agreement, 0 what chance
    gives, below 0 systematic disagreement. None when fewer than two items have two ratings or more, or when
    every rating is the same (no disagreement could be observed or expected)."""
    table = RatingTable.of(ratings)
    return _number(_alpha(*_units(table.m, table.total, table.squares).sum(axis=1)))


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


def rater_agreement(ratings: Ratings | RatingTable) -> list[RaterAgreement]:
    """One RaterAgreement per rater, in the order of ``ratings`` (a table's ``raters``)."""
    t = RatingTable.of(ratings)
    m, total, squares, x = t.m[t.item], t.total[t.item], t.squares[t.item], t.centred
    # Alpha without each rater: everyone's sums, less what each of their ratings adds to its item's.
    everyone = _units(t.m, t.total, t.squares).sum(axis=1)
    change = _units(m - 1, total - x, squares - x * x) - _units(m, total, squares)
    alpha_without = _alpha(*(everyone[:, None] + np.stack([t.per_rater(row) for row in change])))
    # Against the others: on each item someone else rated too, the mean of the others' scores there.
    shared = m > 1
    others = np.where(shared, (total - x) / np.maximum(m - 1, 1), 0.0)
    mine = np.where(shared, x, 0.0)
    n, sx, sy = t.per_rater(shared.astype(float)), t.per_rater(mine), t.per_rater(others)
    sxy, sxx, syy = t.per_rater(mine * others), t.per_rater(mine * mine), t.per_rater(others * others)
    count, sums = t.per_rater(np.ones_like(x)), t.per_rater(t.score)
    out = []
    for k, rater in enumerate(t.raters):
        out.append(RaterAgreement(
            rater=rater, count=int(count[k]), mean=float(sums[k] / count[k]) if count[k] else None,
            shared=int(n[k]), bias=float((sx[k] - sy[k]) / n[k]) if n[k] else None,
            correlation=_pearson(n[k], sx[k], sy[k], sxy[k], sxx[k], syy[k]),
            alpha_without=_number(alpha_without[k]),
        ))
    return out


def _pearson(n, sx, sy, sxy, sxx, syy) -> float | None:
    """Pearson's r from sums over n pairs; None with fewer than 3 pairs, or where either side does not vary."""
    if n < 3:
        return None
    vx, vy = n * sxx - sx * sx, n * syy - sy * sy
    if vx <= 1e-9 * max(1.0, n * sxx) or vy <= 1e-9 * max(1.0, n * syy):
        return None
    return float(np.clip((n * sxy - sx * sy) / np.sqrt(vx * vy), -1.0, 1.0))
