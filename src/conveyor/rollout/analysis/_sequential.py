"""Always-valid confidence sequences for the difference of two means.

The boundary is the normal-mixture sequential probability ratio test (mSPRT) of Robbins
(1970), in the two-sample form of Johari, Koomen, Pekelis and Walsh, "Always valid
inference: continuous monitoring of A/B tests" (Operations Research, 2022). With
``theta`` the difference of the two sample means, ``V`` its estimated variance and a
normal mixing distribution of variance ``tau**2`` over the true difference, the mixture
likelihood ratio against a hypothesised difference ``d`` is::

    L(d) = sqrt(V / (V + tau2)) * exp(tau2 * (theta - d)**2 / (2 * V * (V + tau2)))

and ``{d : L(d) < 1 / a}`` is a confidence sequence: with probability at least ``1 - a``
it contains the true difference at every sample size simultaneously, so it may be looked
at after every request without inflating the error rate. Its half-width is
:func:`half_width`. The guarantee is asymptotic (the normal approximation of each mean,
with the variance estimated as data arrive); Bernoulli variances are estimated with half a
success added (``(x + 0.5) / (n + 1)``) so that a sample with no events yet is not taken
as having no variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: Smallest variance used for a mean of continuous values (keeps the boundary finite).
_VARIANCE_FLOOR = 1e-12


@dataclass(frozen=True)
class Sample:
    """Sufficient statistics of one variant's per-request values for a mean comparison.

    Attributes:
        n: Number of values.
        mean: Their mean (0 when ``n`` is 0).
        variance: Estimated variance of one value.
    """

    n: int
    mean: float
    variance: float

    @classmethod
    def bernoulli(cls, events: int, n: int) -> Sample:
        """A proportion of ``events`` in ``n`` trials (variance with half an event added)."""
        smoothed = (events + 0.5) / (n + 1)
        return cls(n, events / n if n else 0.0, smoothed * (1 - smoothed))

    @classmethod
    def of(cls, values: npt.NDArray[np.float64], *, binary: bool = False) -> Sample:
        """Statistics of an array of values (``binary``: values are 0/1 indicators)."""
        n = len(values)
        if binary:
            return cls.bernoulli(int(values.sum()), n)
        if n < 2:
            return cls(n, float(values.mean()) if n else 0.0, math.inf)
        return cls(n, float(values.mean()), max(float(values.var(ddof=1)), _VARIANCE_FLOOR))


@dataclass(frozen=True)
class Interval:
    """An always-valid interval for ``challenger mean - champion mean``.

    Attributes:
        estimate: The observed difference.
        lower: Lower end (at the level it was built for).
        upper: Upper end.
        variance: Estimated variance of the difference.
    """

    estimate: float
    lower: float
    upper: float
    variance: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly numbers (infinite ends become ``None``)."""
        return {
            key: (None if not math.isfinite(value) else round(value, 6))
            for key, value in (
                ("estimate", self.estimate),
                ("lower", self.lower),
                ("upper", self.upper),
            )
        }


def half_width(variance: float, tau2: float, level: float) -> float:
    """Half-width of the mixture confidence sequence at error probability ``level``.

    Args:
        variance: Estimated variance ``V`` of the difference of means.
        tau2: Variance of the normal mixing distribution (the effect size to be sensitive
            to, squared).
        level: Probability that the sequence ever misses the true difference.

    Returns:
        ``sqrt(V (V + tau2) / tau2 * (2 ln(1/level) + ln((V + tau2) / V)))``; infinite
        when the variance is.

    Example:
        >>> round(half_width(1e-4, 4e-4, 0.05), 4)
        0.0308
    """
    if not math.isfinite(variance):
        return math.inf
    if variance <= 0:
        return 0.0
    ratio = (variance + tau2) / variance
    scale = variance * (variance + tau2) / tau2
    return math.sqrt(scale * (2 * math.log(1 / level) + math.log(ratio)))


def difference(challenger: Sample, champion: Sample, *, tau2: float, level: float) -> Interval:
    """Always-valid interval for ``challenger.mean - champion.mean``.

    Infinite when either side has no values yet.
    """
    if challenger.n == 0 or champion.n == 0:
        return Interval(challenger.mean - champion.mean, -math.inf, math.inf, math.inf)
    variance = challenger.variance / challenger.n + champion.variance / champion.n
    estimate = challenger.mean - champion.mean
    width = half_width(variance, tau2, level)
    return Interval(estimate, estimate - width, estimate + width, variance)
