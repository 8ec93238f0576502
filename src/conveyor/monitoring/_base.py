"""The drift-test contract: :class:`DriftTest`, its inputs and the :class:`FeatureDrift` result.

A drift test compares one feature of a window with that feature's reference (rebuilt from
the training profile) and returns one number: a p-value (drift when below the threshold)
or a distance (drift when at or above it). Tests are stateless and thread-safe; the window
side is summarised once per feature (sorted finite values, or category counts) and shared
by every test that looks at it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from conveyor.monitoring._reference import (
    OTHER,
    CategoricalReference,
    FloatArray,
    NumericReference,
    Reference,
)
from conveyor.monitoring._sketch import NumericSketch, Side

Kind = Literal["numeric", "categorical"]
Statistic = Literal["p_value", "distance"]


@dataclass(frozen=True)
class FeatureWindow:
    """One feature of the window, summarised for the drift tests.

    A numeric feature holds either its sorted finite ``values`` (one pass over the window)
    or a mergeable ``sketch`` of them (a window summarised partition by partition, see
    :mod:`._sketch`). Tests ask through :meth:`rank`, :meth:`quantiles`, :attr:`low` and
    :attr:`high`, which answer from either; a plug-in test reading ``values`` directly
    sees an empty array for a sketched window.

    Attributes:
        kind: ``"numeric"`` or ``"categorical"``.
        values: Sorted finite values (numeric features; empty otherwise).
        counts: ``{category: count}`` of non-null values (categorical features).
        sketch: The merged sketch of a numeric feature summarised by partitions.
    """

    kind: Kind
    values: FloatArray = field(default_factory=lambda: np.empty(0))
    counts: dict[Any, int] = field(default_factory=dict)
    sketch: NumericSketch | None = None

    @property
    def size(self) -> int:
        """Number of values the tests see."""
        if self.kind != "numeric":
            return sum(self.counts.values())
        return self.sketch.count if self.sketch is not None else int(self.values.size)

    @property
    def low(self) -> float:
        """The smallest value (numeric, non-empty)."""
        return self.sketch.min if self.sketch is not None else float(self.values[0])

    @property
    def high(self) -> float:
        """The largest value (numeric, non-empty)."""
        return self.sketch.max if self.sketch is not None else float(self.values[-1])

    @property
    def mean(self) -> float:
        """The mean value (numeric, non-empty)."""
        return self.sketch.mean if self.sketch is not None else float(self.values.mean())

    @property
    def std(self) -> float | None:
        """The sample standard deviation (``None`` below two values)."""
        if self.sketch is not None:
            return self.sketch.std
        return float(self.values.std(ddof=1)) if self.values.size > 1 else None

    def rank(self, points: Any, side: Side = "left") -> FloatArray:
        """How many values lie below (``left``) or at or below (``right``) each point."""
        if self.sketch is not None:
            return self.sketch.rank(np.atleast_1d(np.asarray(points, dtype=np.float64)), side)
        found = np.searchsorted(self.values, np.atleast_1d(points), side=side)
        return np.asarray(found, dtype=np.float64)

    def quantiles(self, probs: FloatArray) -> FloatArray:
        """Quantiles at ``probs`` by linear interpolation between order statistics."""
        if self.sketch is not None:
            return self.sketch.quantiles(probs)
        values, n = self.values, self.values.size
        # Values are sorted already: interpolate positions instead of np.quantile's re-sort.
        pos = probs * (n - 1)
        low = np.floor(pos).astype(np.int64)
        high = np.minimum(low + 1, n - 1)
        return np.asarray(values[low] + (values[high] - values[low]) * (pos - low))


@dataclass(frozen=True)
class FeatureDrift:
    """The verdict of one drift test on one feature.

    Attributes:
        feature: Feature name.
        test: Name of the test that ran.
        statistic: ``"p_value"`` or ``"distance"``.
        score: The p-value or distance.
        threshold: Drift when ``score < threshold`` (p-value) or ``>=`` (distance).
        drifted: Whether the feature drifted.
        window_size: Values in the window.
        reference_size: Values in the reference.
        details: Test-specific numbers (e.g. the KS statistic).
    """

    feature: str
    test: str
    statistic: Statistic
    score: float
    threshold: float
    drifted: bool
    window_size: int
    reference_size: int
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "feature": self.feature,
            "test": self.test,
            "statistic": self.statistic,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "window_size": self.window_size,
            "reference_size": self.reference_size,
            "details": self.details,
        }


class DriftTest(ABC):
    """Base of every drift test (built-in or plug-in through ``conveyor.drift_tests``).

    Subclasses set :attr:`name`, :attr:`kinds`, :attr:`statistic` and
    :attr:`default_threshold`, and implement :meth:`score`. :meth:`run` (written once
    here) applies the threshold. Implementations must be stateless: one instance may be
    used from several threads.
    """

    name: ClassVar[str]
    kinds: ClassVar[frozenset[Kind]]
    statistic: ClassVar[Statistic]
    default_threshold: ClassVar[float]

    @abstractmethod
    def score(self, reference: Reference, window: FeatureWindow) -> tuple[float, dict[str, Any]]:
        """Return ``(score, details)`` comparing the window with the reference.

        Called only with a non-empty window of a kind listed in :attr:`kinds`.
        """

    def run(
        self,
        feature: str,
        reference: Reference,
        window: FeatureWindow,
        *,
        threshold: float | None = None,
    ) -> FeatureDrift:
        """Score the feature and decide whether it drifted."""
        limit = self.default_threshold if threshold is None else float(threshold)
        value, details = self.score(reference, window)
        drifted = value < limit if self.statistic == "p_value" else value >= limit
        return FeatureDrift(
            feature=feature,
            test=self.name,
            statistic=self.statistic,
            score=float(value),
            threshold=limit,
            drifted=bool(drifted),
            window_size=window.size,
            reference_size=reference.count,
            details=details,
        )


def category_table(
    reference: CategoricalReference, window: FeatureWindow
) -> tuple[list[Any], FloatArray, FloatArray]:
    """Aligned counts over the reference's top values, unseen window values and ``other``.

    When the reference lists every category, window values outside it stay separate
    categories (each unseen); otherwise they join the reference's ``other`` bucket, since
    the sketch cannot tell them apart.
    """
    categories: list[Any] = list(reference.counts)
    ref = [float(reference.counts[c]) for c in categories]
    win = [float(window.counts.get(c, 0)) for c in categories]
    outside = {c: n for c, n in window.counts.items() if c not in reference.counts}
    if reference.complete:
        for category, count in outside.items():
            categories.append(category)
            ref.append(0.0)
            win.append(float(count))
    else:
        categories.append(OTHER)
        ref.append(float(reference.other))
        win.append(float(sum(outside.values())))
    return categories, np.asarray(ref), np.asarray(win)


def numeric_bins(reference: NumericReference, window: FeatureWindow) -> tuple[FloatArray, ...]:
    """Reference and window shares over the reference's histogram bins plus two tail bins.

    Returns:
        ``(reference_shares, window_shares)``; the first and last entries are the shares
        below ``min`` and above ``max`` (always 0 for the reference).
    """
    size = window.size
    inner = reference.edges
    cuts = window.rank(inner[1:-1], "left")
    below = int(window.rank(inner[0], "left")[0])
    above = int(size - window.rank(inner[-1], "right")[0])
    counts = np.diff(np.concatenate(([below], cuts, [size - above]))).astype(np.float64)
    win = np.concatenate(([below], counts, [above])) / max(size, 1)
    ref = np.concatenate(([0.0], reference.bin_shares(), [0.0]))
    return ref, win
