"""Distribution drift between two versions of a table, column by column.

Numeric columns are compared with the two-sample Kolmogorov-Smirnov test, categorical and
boolean ones (strings, categoricals, booleans, missing values left out) with a chi-square
test of homogeneity over the union of their categories. Datetime columns are not tested
(each new version moves forward in time, so they always "drift"), nor columns with no
values on one side; the result lists them with the reason under ``details["skipped"]``. A
column drifted when its p-value is below ``alpha``; the check fails when the share of
drifted columns exceeds ``max_drift_share``. Large tables are sampled (reproducibly) so the
tests stay fast and do not flag negligible differences only because of sample size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

from conveyor.checks.data._frames import column_kind, sample_rows
from conveyor.checks.data._outcome import Outcome, fmt, pct


def _ks(current: pd.Series, reference: pd.Series) -> tuple[float, float] | None:
    cur = current.to_numpy(dtype="float64", na_value=np.nan)
    ref = reference.to_numpy(dtype="float64", na_value=np.nan)
    cur, ref = cur[np.isfinite(cur)], ref[np.isfinite(ref)]
    if cur.size == 0 or ref.size == 0:
        return None
    result = stats.ks_2samp(cur, ref)
    return float(result.statistic), float(result.pvalue)


def _chi2(current: pd.Series, reference: pd.Series) -> tuple[float, float] | None:
    cur = current.dropna().astype("object").astype(str).value_counts()
    ref = reference.dropna().astype("object").astype(str).value_counts()
    if cur.sum() == 0 or ref.sum() == 0:
        return None
    categories = sorted(set(cur.index) | set(ref.index))
    if len(categories) < 2:
        return 0.0, 1.0
    table = np.array([[cur.get(c, 0) for c in categories], [ref.get(c, 0) for c in categories]])
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def column_drift(current: pd.Series, reference: pd.Series) -> dict[str, Any] | None:
    """The test, statistic and p-value for one column (``None`` when not testable)."""
    kind = column_kind(reference)
    if kind == "numeric" and column_kind(current) == "numeric":
        measured, test = _ks(current, reference), "ks"
    elif kind in ("categorical", "boolean"):
        measured, test = _chi2(current, reference), "chi2"
    else:
        return None
    if measured is None:
        return None
    return {"test": test, "statistic": measured[0], "p_value": measured[1]}


def _skip_reason(current: pd.Series, reference: pd.Series) -> str:
    kinds = {column_kind(reference), column_kind(current)}
    if "temporal" in kinds:
        return "datetime column: new versions move forward in time, so it is not tested"
    if kinds - {"numeric", "categorical", "boolean"}:
        return f"values of dtype {reference.dtype} cannot be tested"
    if len(kinds) > 1:
        return f"type changed from {reference.dtype} to {current.dtype}"
    return "no values to compare on one side"


def measure_drift(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    alpha: float = 0.05,
    max_drift_share: float = 0.25,
    columns: list[str] | None = None,
    max_rows: int = 5000,
    seed: int = 0,
) -> Outcome:
    """Test every shared column for drift from ``reference`` to ``current``.

    Args:
        current: The new version's table.
        reference: The reference version's table.
        alpha: A column drifted when its test's p-value is below this.
        max_drift_share: Largest accepted share of drifted columns.
        columns: Only these columns (default: every column both tables have).
        max_rows: Rows sampled from each table at most.
        seed: Seed of the sampling.

    Returns:
        ``value`` is the share of drifted columns; ``details["columns"]`` has the test,
        statistic, p-value and verdict per column; ``details["skipped"]`` the columns not
        tested with the reason; ``details["plot"]`` the p-values.
    """
    names = columns or [c for c in reference.columns if c in current.columns]
    cur = sample_rows(current, max_rows, seed)
    ref = sample_rows(reference, max_rows, seed)
    per_column: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for name in names:
        if name not in cur.columns or name not in ref.columns:
            continue
        measured = column_drift(cur[name], ref[name])
        if measured is None:
            skipped[str(name)] = _skip_reason(cur[name], ref[name])
            continue
        measured["drifted"] = measured["p_value"] < alpha
        per_column[str(name)] = measured
    drifted = [name for name, m in per_column.items() if m["drifted"]]
    share = len(drifted) / len(per_column) if per_column else 0.0
    passed = share <= max_drift_share
    listed = ", ".join(
        f"{name!r} ({per_column[name]['test']} p={fmt(per_column[name]['p_value'])})"
        for name in drifted
    )
    explanation = (
        f"{len(drifted)} of {len(per_column)} columns drifted at alpha={fmt(alpha)} "
        f"({pct(share)}; at most {pct(max_drift_share)} allowed)"
        + (f": {listed}." if drifted else ".")
        + (f" Not tested: {', '.join(repr(n) for n in skipped)}." if skipped else "")
    )
    details = {
        "columns": per_column,
        "drifted": drifted,
        "skipped": skipped,
        "plot": {
            "kind": "bar",
            "title": "Drift p-value per column",
            "x": list(per_column),
            "y": [m["p_value"] for m in per_column.values()],
            "threshold": alpha,
        },
    }
    return Outcome(
        passed, share, {"alpha": alpha, "max_drift_share": max_drift_share}, explanation, details
    )
