"""Guard rails beside the sequential tests: latency and prediction-distribution shift.

They are thresholds, not tests with an error bound, and apply only once both variants have
:data:`GUARD_MIN_SAMPLES` values so that small-sample noise does not trip them. Latency is
evidence against a challenger (twice as slow); the prediction distribution is not (a
retrained model is meant to answer differently): see :mod:`._divergence`. The
Jensen-Shannon divergence is the one the gate measures
(:func:`conveyor.checks.model.jensen_shannon`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from conveyor.checks.model import jensen_shannon

__all__ = ["GUARD_MIN_SAMPLES", "NUMERIC_BINS", "binned", "jensen_shannon", "p95"]

#: Values each variant needs before a guard rail is evaluated.
GUARD_MIN_SAMPLES = 100
#: Bins of numeric predictions (quantiles of the champion's), and the distinct values above
#: which predictions count as numeric rather than categorical.
NUMERIC_BINS = 10
_MAX_CATEGORIES = 20


def p95(latencies_ms: npt.NDArray[np.float64]) -> float:
    """95th percentile latency (NaN when there are none)."""
    return float(np.percentile(latencies_ms, 95)) if len(latencies_ms) else math.nan


def binned(
    champion: npt.NDArray[Any], challenger: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str]:
    """Histograms of both prediction arrays on shared bins.

    Numeric predictions with many distinct values are cut at the champion's deciles;
    anything else is compared value by value (classes).

    Returns:
        The champion's counts, the challenger's counts, and ``"numeric"`` or
        ``"categorical"``.
    """
    numeric_h, numeric_c = _as_float(champion), _as_float(challenger)
    if numeric_h is not None and numeric_c is not None:
        both = np.concatenate([numeric_h, numeric_c])
        if len(np.unique(both[: 10 * _MAX_CATEGORIES])) > _MAX_CATEGORIES:
            inner = np.unique(np.quantile(numeric_h, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]))
            return (
                np.bincount(np.searchsorted(inner, numeric_h), minlength=len(inner) + 1).astype(
                    float
                ),
                np.bincount(np.searchsorted(inner, numeric_c), minlength=len(inner) + 1).astype(
                    float
                ),
                "numeric",
            )
        keys_h: npt.NDArray[Any] = numeric_h
        keys_c: npt.NDArray[Any] = numeric_c
    else:
        keys_h = np.array([str(value) for value in champion], dtype=object)
        keys_c = np.array([str(value) for value in challenger], dtype=object)
    values, codes = np.unique(np.concatenate([keys_h, keys_c]), return_inverse=True)
    counts_h = np.bincount(codes[: len(keys_h)], minlength=len(values))
    counts_c = np.bincount(codes[len(keys_h) :], minlength=len(values))
    return counts_h.astype(float), counts_c.astype(float), "categorical"


def _as_float(values: npt.NDArray[Any]) -> npt.NDArray[np.float64] | None:
    if values.dtype.kind in "biuf":
        return values.astype(float)
    if values.dtype.kind != "O":
        return None
    try:
        result = values.astype(float)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(result).any() else result
