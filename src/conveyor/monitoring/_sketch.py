"""Mergeable sketches of a numeric window column: exact at the reference's points, close elsewhere.

A window summarised partition by partition must give the drift tests what one pass over
all its values gives them. The tests ask two kinds of questions:

* how many window values lie below (or at or below) a point the reference knows: its
  histogram edges, its quantiles, its minimum and maximum. Those points are fixed before
  any partition is read, so each partition counts them exactly and counts add up: KS,
  chi-square, Jensen-Shannon, PSI, the plot overlay and the out-of-range share come out
  equal to the single-pass engine's;
* the window's own quantiles (Wasserstein reduces the window to the reference's sketch).
  Those are read from a relative-error quantile sketch in the manner of DDSketch
  (Masson et al., 2019): each finite value falls in the logarithmic bucket
  ``(g**(k-1), g**k]`` with ``g = (1 + a) / (1 - a)``, mirrored for negative values, plus
  a bucket for zero. Bucket counts add up under merging, and the value returned for any
  rank is within a relative error ``a`` (:data:`RELATIVE_ACCURACY`, 0.1 %) of the exact
  order statistic, clamped to the exact minimum and maximum.

A column with few distinct values (counts, codes, a classifier's classes: at most
:data:`DISTINCT_KEPT`) also keeps its exact value counts, so its quantiles are exact too;
the interpolated CDFs of discrete values are too sensitive to knots moved by 0.1 % for
anything else. Count, minimum, maximum, mean and the sum of squared deviations merge
exactly (Chan's pairwise update), up to floating-point rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Side = Literal["left", "right"]

#: Relative error bound of the window quantiles read from the sketch.
RELATIVE_ACCURACY = 1e-3
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
#: Distinct values up to which a sketch keeps exact value counts.
DISTINCT_KEPT = 10_000
#: Values a partition's first look at its distinctness takes.
_PROBE = 4096
#: Distinct values in that look beyond which the column is taken as continuous.
_PROBE_DISTINCT = 512
#: Up to this many points, ranks are counted by comparisons rather than searches.
_COMPARED_POINTS = 64
#: Offset separating positive bucket ids from zero (0) and negative ones (below 0).
_OFFSET = 1 << 40


def _empty_ints() -> IntArray:
    return np.zeros(0, dtype=np.int64)


def _empty_floats() -> FloatArray:
    return np.zeros(0, dtype=np.float64)


@dataclass
class NumericSketch:
    """The mergeable summary of a numeric column's finite values (see the module docstring).

    Attributes:
        points: Sorted distinct points whose ranks are counted exactly.
        left: Values below each point.
        right: Values at or below each point.
        count: Finite values.
        min: Smallest value (``inf`` when empty).
        max: Largest value (``-inf`` when empty).
        mean: Mean of the values.
        m2: Sum of squared deviations from the mean.
        buckets: Bucket ids, increasing with the values they hold.
        counts: Values per bucket.
        distinct: Sorted distinct values, while there are at most :data:`DISTINCT_KEPT`
            (``None`` beyond: then quantiles come from the buckets).
        distinct_counts: How many times each distinct value occurs.
    """

    points: FloatArray = field(default_factory=_empty_floats)
    left: IntArray = field(default_factory=_empty_ints)
    right: IntArray = field(default_factory=_empty_ints)
    count: int = 0
    min: float = math.inf
    max: float = -math.inf
    mean: float = 0.0
    m2: float = 0.0
    buckets: IntArray = field(default_factory=_empty_ints)
    counts: IntArray = field(default_factory=_empty_ints)
    distinct: FloatArray | None = field(default_factory=_empty_floats)
    distinct_counts: IntArray | None = field(default_factory=_empty_ints)

    @classmethod
    def of(cls, values: FloatArray, points: FloatArray, *, probe: bool = True) -> NumericSketch:
        """Sketch finite ``values`` (any order), counting ranks at the sorted ``points``.

        With ``probe`` a glance at the first values decides whether exact value counts are
        worth a sort (few distinct values); without, they are kept up to the limit.
        """
        values = np.asarray(values, dtype=np.float64)
        n = int(values.size)
        size = points.size
        if n == 0:
            zeros = np.zeros(size, dtype=np.int64)
            return cls(points=points, left=zeros, right=zeros.copy())
        if size <= _COMPARED_POINTS:
            # Vectorised comparisons: faster than a binary search per value for a few
            # points, and they release the GIL, so threads summarise side by side.
            left = np.array([np.count_nonzero(values < p) for p in points], dtype=np.int64)
            right = np.array([np.count_nonzero(values <= p) for p in points], dtype=np.int64)
        else:
            # A value is below point i when i >= (points at or below it), and at or below
            # point i when i >= (points below it): count, then accumulate over i.
            below = np.searchsorted(points, values, side="left")
            at_or_below = below + (points[np.minimum(below, size - 1)] == values)
            left = np.cumsum(np.bincount(at_or_below, minlength=size + 1))[:size]
            right = np.cumsum(np.bincount(below, minlength=size + 1))[:size]
        mean = float(values.mean())
        buckets, counts = _bucketize(values)
        distinct, distinct_counts = _distinct(values, probe=probe)
        return cls(
            points=points,
            left=left.astype(np.int64),
            right=right.astype(np.int64),
            count=n,
            min=float(values.min()),
            max=float(values.max()),
            mean=mean,
            m2=float(np.square(values - mean).sum()),
            buckets=buckets,
            counts=counts,
            distinct=distinct,
            distinct_counts=distinct_counts,
        )

    def merge(self, other: NumericSketch) -> NumericSketch:
        """The sketch of both sketches' values (they must share their points)."""
        if not np.array_equal(self.points, other.points):
            raise ValueError("Sketches counted at different points cannot be merged.")
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        delta = other.mean - self.mean
        unique, summed = _add_counts(self.buckets, self.counts, other.buckets, other.counts)
        distinct, distinct_counts = None, None
        if self.distinct is not None and other.distinct is not None:
            assert self.distinct_counts is not None
            assert other.distinct_counts is not None
            distinct, distinct_counts = _add_counts(
                self.distinct, self.distinct_counts, other.distinct, other.distinct_counts
            )
            if distinct.size > DISTINCT_KEPT:
                distinct, distinct_counts = None, None
        return NumericSketch(
            points=self.points,
            left=self.left + other.left,
            right=self.right + other.right,
            count=n,
            min=min(self.min, other.min),
            max=max(self.max, other.max),
            mean=self.mean + delta * other.count / n,
            m2=self.m2 + other.m2 + delta * delta * self.count * other.count / n,
            buckets=unique.astype(np.int64),
            counts=summed,
            distinct=distinct,
            distinct_counts=distinct_counts,
        )

    @property
    def std(self) -> float | None:
        """Sample standard deviation (``None`` below two values)."""
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else None

    def rank(self, points: FloatArray, side: Side) -> FloatArray:
        """Values below (``left``) or at or below (``right``) each of ``points``.

        Exact for the sketch's own points; elsewhere read from the buckets (a value's
        bucket decides its side, so the error is at most the values within ``a`` of the
        point in relative terms).
        """
        points = np.asarray(points, dtype=np.float64)
        exact = self.left if side == "left" else self.right
        at = np.searchsorted(self.points, points)
        known = np.zeros(points.shape, dtype=bool)
        if self.points.size:
            inside = at < self.points.size
            known[inside] = self.points[at[inside]] == points[inside]
        out = np.empty(points.shape, dtype=np.float64)
        out[known] = exact[at[known]]
        unknown = ~known
        if unknown.any():
            out[unknown] = self._approximate_rank(points[unknown], side)
        return out

    def _approximate_rank(self, points: FloatArray, side: Side) -> FloatArray:
        if self.count == 0:
            return np.zeros(points.shape)
        if self.distinct is not None and self.distinct_counts is not None:
            cumulative = np.concatenate(([0], np.cumsum(self.distinct_counts)))
            found = np.searchsorted(self.distinct, points, side=side)
            return np.asarray(cumulative[found], dtype=np.float64)
        values = _representatives(self.buckets)
        cumulative = np.concatenate(([0], np.cumsum(self.counts)))
        out = cumulative[np.searchsorted(values, points, side=side)].astype(np.float64)
        if side == "left":
            out[points <= self.min] = 0.0
            out[points > self.max] = float(self.count)
        else:
            out[points < self.min] = 0.0
            out[points >= self.max] = float(self.count)
        return out

    def order_statistics(self, ranks: IntArray) -> FloatArray:
        """Values of the given 0-based ranks: exact with exact value counts, else within the
        relative accuracy (and exact at the first and last)."""
        if self.distinct is not None and self.distinct_counts is not None:
            at = np.searchsorted(np.cumsum(self.distinct_counts), ranks, side="right")
            return np.asarray(self.distinct[np.minimum(at, self.distinct.size - 1)])
        values = np.clip(_representatives(self.buckets), self.min, self.max)
        cumulative = np.cumsum(self.counts)
        found = np.searchsorted(cumulative, ranks, side="right")
        out = values[np.minimum(found, values.size - 1)]
        out = np.where(ranks <= 0, self.min, out)
        return np.asarray(np.where(ranks >= self.count - 1, self.max, out), dtype=np.float64)

    def quantiles(self, probs: FloatArray) -> FloatArray:
        """Quantiles by linear interpolation between order statistics, as numpy's default."""
        n = self.count
        pos = np.asarray(probs, dtype=np.float64) * (n - 1)
        low = np.floor(pos).astype(np.int64)
        high = np.minimum(low + 1, n - 1)
        lo_values, hi_values = self.order_statistics(low), self.order_statistics(high)
        return np.asarray(lo_values + (hi_values - lo_values) * (pos - low), dtype=np.float64)


def _bucketize(values: FloatArray) -> tuple[IntArray, IntArray]:
    """Bucket ids (increasing with value) and counts of finite ``values``."""
    magnitude = np.abs(values)
    nonzero = magnitude > 0
    exponent = np.ceil(np.log(magnitude[nonzero]) / _LOG_GAMMA).astype(np.int64)
    positive = values[nonzero] > 0
    ids: list[IntArray] = []
    counts: list[IntArray] = []
    for side, sign in ((~positive, -1), (positive, 1)):
        found, tally = _tally(exponent[side])
        if sign < 0:  # larger magnitudes are smaller values
            found, tally = -_OFFSET - found[::-1], tally[::-1]
        else:
            found = _OFFSET + found
        ids.append(found)
        counts.append(tally)
        if sign < 0 and values.size > int(nonzero.sum()):
            ids.append(np.zeros(1, dtype=np.int64))
            counts.append(np.array([values.size - int(nonzero.sum())], dtype=np.int64))
    return np.concatenate(ids), np.concatenate(counts)


def _tally(keys: IntArray) -> tuple[IntArray, IntArray]:
    """Sorted distinct ``keys`` and their counts, by counting when their range is compact."""
    if keys.size == 0:
        return _empty_ints(), _empty_ints()
    lowest = int(keys.min())
    span = int(keys.max()) - lowest + 1
    if span <= 4 * keys.size + 1024:  # counting beats sorting
        tally = np.bincount(keys - lowest, minlength=span)
        present = np.flatnonzero(tally)
        return (present + lowest).astype(np.int64), tally[present].astype(np.int64)
    unique, counts = np.unique(keys, return_counts=True)
    return unique.astype(np.int64), counts.astype(np.int64)


def _distinct(values: FloatArray, *, probe: bool) -> tuple[FloatArray | None, IntArray | None]:
    """Exact value counts of a column with few distinct values, else ``(None, None)``."""
    if probe and np.unique(values[:_PROBE]).size > _PROBE_DISTINCT:
        return None, None
    distinct, counts = np.unique(values, return_counts=True)
    if distinct.size > DISTINCT_KEPT:
        return None, None
    return distinct.astype(np.float64), counts.astype(np.int64)


def _add_counts(
    keys: NDArray[Any], counts: IntArray, other_keys: NDArray[Any], other_counts: IntArray
) -> tuple[NDArray[Any], IntArray]:
    """Sorted keys of both, with their counts added."""
    unique, where = np.unique(np.concatenate([keys, other_keys]), return_inverse=True)
    summed = np.bincount(where, weights=np.concatenate([counts, other_counts]))
    return unique, summed.astype(np.int64)


def _representatives(ids: IntArray) -> FloatArray:
    """The value standing for each bucket: within the relative accuracy of its members."""
    out = np.zeros(ids.shape, dtype=np.float64)
    positive = ids > 0
    negative = ids < 0
    scale = 2.0 / (1.0 + _GAMMA)
    out[positive] = scale * np.exp((ids[positive] - _OFFSET) * _LOG_GAMMA)
    out[negative] = -scale * np.exp((-ids[negative] - _OFFSET) * _LOG_GAMMA)
    return out
