"""The drift reference rebuilt from a stored profile: no re-reading of the training data.

A dataset profile (see :func:`conveyor.data.compute_profile`) keeps, per numeric column, a
20-bin histogram, seven quantiles, min, max, mean and std, and per categorical column the
counts of its 20 most frequent values plus the count of all others. From these sketches:

* the reference CDF is known exactly at the histogram edges (cumulative bin counts) and
  closely at the quantiles; those points are the *knots* used by the KS test, so its
  statistic never includes interpolation error;
* a continuous CDF for distances (Wasserstein) and plots interpolates the knots with a
  monotone cubic (PCHIP), so it stays a valid, non-decreasing CDF between min and max;
* categories are the top values plus one ``other`` bucket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
#: The bucket of categories outside the reference's top values.
OTHER = "__other__"


@dataclass(frozen=True)
class NumericReference:
    """A numeric column's reference distribution, rebuilt from its profile sketch.

    Attributes:
        count: Finite values the profile was computed from.
        min: Smallest reference value.
        max: Largest reference value.
        mean: Reference mean.
        std: Reference sample standard deviation (``None`` for a single value).
        edges: Histogram edges (21 values).
        counts: Histogram counts (20 values).
        knots_x: Points where the reference CDF is known, increasing.
        knots_p: The reference CDF at ``knots_x``, non-decreasing, ending at 1.
        quantiles: ``(probability, value)`` pairs of the profile's quantiles.
    """

    count: int
    min: float
    max: float
    mean: float | None
    std: float | None
    edges: FloatArray
    counts: FloatArray
    knots_x: FloatArray
    knots_p: FloatArray
    quantiles: tuple[tuple[float, float], ...] = ()
    _grid: tuple[FloatArray, FloatArray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grid_x = np.linspace(self.min, self.max, 2049) if self.max > self.min else self.knots_x
        object.__setattr__(self, "_grid", (grid_x, self.cdf(grid_x)))

    def cdf(self, x: FloatArray) -> FloatArray:
        """The interpolated reference CDF at ``x`` (0 below ``min``, 1 at and above ``max``)."""
        x = np.asarray(x, dtype=np.float64)
        if self.knots_x.size < 2:
            return (x >= self.min).astype(np.float64)
        from scipy.interpolate import PchipInterpolator

        inside = PchipInterpolator(self.knots_x, self.knots_p, extrapolate=False)(x)
        out = np.where(x < self.knots_x[0], 0.0, np.where(x >= self.knots_x[-1], 1.0, inside))
        return np.asarray(np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0), dtype=np.float64)

    def quantile(self, u: FloatArray) -> FloatArray:
        """The inverse of :meth:`cdf` at probabilities ``u`` (by interpolation on a grid)."""
        grid_x, grid_p = self._grid
        if grid_x.size < 2:
            return np.full(np.shape(u), self.min, dtype=np.float64)
        return np.asarray(np.interp(u, grid_p, grid_x), dtype=np.float64)

    def bin_shares(self) -> FloatArray:
        """Share of the reference in each histogram bin (sums to 1)."""
        total = self.counts.sum()
        return self.counts / total if total else self.counts


@dataclass(frozen=True)
class CategoricalReference:
    """A categorical (or boolean) column's reference: top-value counts plus ``other``.

    Attributes:
        count: Non-null reference values.
        counts: ``{value: count}`` of the top values.
        other: Count of values outside the top values.
    """

    count: int
    counts: dict[Any, int]
    other: int

    @property
    def complete(self) -> bool:
        """Whether every reference category is listed (no ``other`` values).

        Only then is a window category outside :attr:`counts` known to be unseen.
        """
        return self.other == 0


Reference = NumericReference | CategoricalReference


def reference_from_profile(column: dict[str, Any]) -> Reference | None:
    """Rebuild one column's reference from its profile entry.

    Returns:
        The reference, or ``None`` when the column has no usable statistics (temporal,
        other kinds, or no non-null values).
    """
    kind = column.get("kind")
    if kind == "numeric":
        return _numeric(column)
    if kind in ("categorical", "boolean"):
        top = column.get("top") or []
        if not top and not column.get("other"):
            return None
        return CategoricalReference(
            count=int(column.get("count") or 0),
            counts={entry["value"]: int(entry["count"]) for entry in top},
            other=int(column.get("other") or 0),
        )
    return None


def _numeric(column: dict[str, Any]) -> NumericReference | None:
    histogram = column.get("histogram")
    if not histogram or column.get("min") is None or column.get("max") is None:
        return None
    edges = np.asarray(histogram["edges"], dtype=np.float64)
    counts = np.asarray(histogram["counts"], dtype=np.float64)
    total = counts.sum()
    if total <= 0 or not np.all(np.isfinite(edges)):
        return None
    lo, hi = float(column["min"]), float(column["max"])
    # Bins are [left, right): the cumulative count up to edge k is P(X < edge k).
    points = _quantile_points(column.get("quantiles") or {})
    x, p = build_knots(lo, hi, edges[1:-1], np.cumsum(counts)[:-1] / total, points)
    mean = column.get("mean")
    std = column.get("std")
    return NumericReference(
        count=int(total),
        min=lo,
        max=hi,
        mean=None if mean is None else float(mean),
        std=None if std is None else float(std),
        edges=edges,
        counts=counts,
        knots_x=x,
        knots_p=p,
        quantiles=points,
    )


def build_knots(
    lo: float,
    hi: float,
    edges: FloatArray,
    below_edges: FloatArray,
    quantiles: tuple[tuple[float, float], ...],
) -> tuple[FloatArray, FloatArray]:
    """Merge edge and quantile points into increasing knots of a non-decreasing CDF."""
    xs = [edges, np.array([lo, hi]), np.array([v for _, v in quantiles])]
    ps = [below_edges, np.array([0.0, 1.0]), np.array([q for q, _ in quantiles])]
    x = np.concatenate(xs)
    p = np.concatenate(ps)
    keep = (x >= lo) & (x <= hi)
    x, p = x[keep], p[keep]
    order = np.lexsort((p, x))
    x, p = x[order], np.maximum.accumulate(p[order])
    # One knot per x (the CDF is right-continuous: the largest probability wins).
    last = np.append(np.diff(x) > 0, True)
    x, p = x[last], p[last]
    p[-1] = 1.0
    return x, p


def window_sketch(reference: NumericReference, window: Any) -> NumericReference:
    """The same sketch of a numeric window (reference edges, same quantiles).

    ``window`` is a numeric :class:`~conveyor.monitoring.FeatureWindow` (sorted values or
    a merged sketch). Distances between two sketches built alike carry the same
    interpolation, so a window drawn from the reference distribution is close to it even
    for discrete values.
    """
    n = window.size
    inner = reference.edges[1:-1]
    probs = np.array([q for q, _ in reference.quantiles])
    quantile_values = window.quantiles(probs)
    points = tuple(zip(probs.tolist(), quantile_values.tolist(), strict=True))
    lo, hi = window.low, window.high
    at_edges = window.rank(inner, "left")
    x, p = build_knots(lo, hi, inner, at_edges / n, points)
    counts = np.diff(np.concatenate(([0], at_edges, [n]))).astype(float)
    return NumericReference(
        count=int(n),
        min=lo,
        max=hi,
        mean=window.mean,
        std=window.std,
        edges=reference.edges,
        counts=counts,
        knots_x=x,
        knots_p=p,
        quantiles=points,
    )


def _quantile_points(quantiles: dict[str, Any]) -> tuple[tuple[float, float], ...]:
    """``{"p05": v, ...}`` as sorted ``(0.05, v)`` pairs, skipping missing values."""
    points = [
        (int(key[1:]) / 100.0, float(value))
        for key, value in quantiles.items()
        if value is not None and key.startswith("p") and key[1:].isdigit()
    ]
    return tuple(sorted(points))
