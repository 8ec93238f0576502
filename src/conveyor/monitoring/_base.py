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

Kind = Literal["numeric", "categorical"]
Statistic = Literal["p_value", "distance"]


@dataclass(frozen=True)
class FeatureWindow:
    """One feature of the window, summarised for the drift tests.

    Attributes:
        kind: ``"numeric"`` or ``"categorical"``.
        values: Sorted finite values (numeric features; empty otherwise).
        counts: ``{category: count}`` of non-null values (categorical features).
    """

    kind: Kind
    values: FloatArray = field(default_factory=lambda: np.empty(0))
    counts: dict[Any, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of values the tests see."""
        return int(self.values.size) if self.kind == "numeric" else sum(self.counts.values())


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
    values = window.values
    inner = reference.edges
    cuts = np.searchsorted(values, inner[1:-1], side="left")
    below = int(np.searchsorted(values, inner[0], side="left"))
    above = int(values.size - np.searchsorted(values, inner[-1], side="right"))
    counts = np.diff(np.concatenate(([below], cuts, [values.size - above]))).astype(np.float64)
    win = np.concatenate(([below], counts, [above])) / max(values.size, 1)
    ref = np.concatenate(([0.0], reference.bin_shares(), [0.0]))
    return ref, win
