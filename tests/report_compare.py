"""Two monitoring report bodies compared number by number, with stated tolerances.

Numbers computed from exact counts must agree within :data:`EXACT` (floating-point order
only); numbers read from the 0.1 %-accurate quantile sketch (Wasserstein results, and the
predictions' profile when they have many distinct values) within :data:`SKETCHED`
(absolute, in reference standard deviations for Wasserstein, and relative).
"""

from __future__ import annotations

import math
from typing import Any

EXACT = 1e-9
SKETCHED = 2e-3


def differences(expected: Any, actual: Any, path: str = "", tolerance: float = EXACT) -> list[str]:
    """Where ``actual`` differs from ``expected`` beyond the tolerance of each number."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(expected) != set(actual):
            return [f"{path}: keys {sorted(set(expected) ^ set(actual))}"]
        if expected.get("test") == "wasserstein" or path.endswith("prediction.profile"):
            tolerance = max(tolerance, SKETCHED)
        out: list[str] = []
        for key in expected:
            out += differences(expected[key], actual[key], f"{path}.{key}", tolerance)
        return out
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items against {len(actual)}"]
        out = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            out += differences(left, right, f"{path}[{index}]", tolerance)
        return out
    numbers = (int, float)
    if (
        isinstance(expected, numbers)
        and isinstance(actual, numbers)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
    ):
        if math.isclose(expected, actual, rel_tol=tolerance, abs_tol=tolerance):
            return []
        return [f"{path}: {expected!r} against {actual!r}"]
    return [] if expected == actual else [f"{path}: {expected!r} against {actual!r}"]
