"""Anomalies of a dataset version against the reference profile.

The reference is the profile stored with the reference version (see
:func:`conveyor.data.compute_profile`), so no reference bytes are needed: new categories
(only judged when the reference's top-values list is complete), the share of numbers
outside the reference range, and an increase of the missing share, per column; plus
columns that disappeared.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from conveyor.checks.data._frames import column_kind
from conveyor.checks.data._outcome import Outcome, json_value, pct


def _new_categories(series: pd.Series, ref: dict[str, Any], limit: int) -> list[Any] | None:
    if ref.get("other", 1) != 0 or "top" not in ref:
        return None  # the reference lists only its most frequent values: cannot tell
    known = {entry["value"] for entry in ref["top"]}
    seen = series.dropna().astype("object").unique()
    new = sorted((v for v in seen if json_value(v) not in known), key=str)
    return [json_value(v) for v in new[:limit]] if new else []


def _out_of_range_share(series: pd.Series, ref: dict[str, Any]) -> float | None:
    lo, hi = ref.get("min"), ref.get("max")
    if lo is None or hi is None or column_kind(series) != "numeric":
        return None
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return 0.0
    return float(np.mean((values < float(lo)) | (values > float(hi))))


def find_anomalies(
    frame: pd.DataFrame,
    reference_profile: dict[str, Any],
    *,
    max_out_of_range_share: float = 0.01,
    max_missing_increase: float = 0.05,
    allow_new_categories: bool = False,
    max_examples: int = 5,
) -> Outcome:
    """Compare ``frame`` with a reference profile column by column.

    Args:
        frame: The new version's table.
        reference_profile: The reference version's profile.
        max_out_of_range_share: Largest accepted share of numbers outside the reference
            min..max.
        max_missing_increase: Largest accepted rise of a column's missing share (absolute).
        allow_new_categories: Accept category values the reference never had.
        max_examples: New categories listed per column.

    Returns:
        Failed when any column is anomalous; ``value`` is the number of anomalous columns.
    """
    ref_columns: dict[str, Any] = reference_profile.get("columns") or {}
    findings: dict[str, dict[str, Any]] = {}
    rows = len(frame)
    for name, ref in ref_columns.items():
        if name not in frame.columns:
            findings[name] = {"missing_column": True}
            continue
        series = frame[name]
        found: dict[str, Any] = {}
        new = (
            _new_categories(series, ref, max_examples) if ref.get("kind") == "categorical" else None
        )
        if new and not allow_new_categories:
            found["new_categories"] = new
        share = _out_of_range_share(series, ref) if ref.get("kind") == "numeric" else None
        if share is not None and share > max_out_of_range_share:
            found["out_of_range_share"] = share
            found["reference_range"] = [ref.get("min"), ref.get("max")]
        null_share = float(series.isna().mean()) if rows else 0.0
        ref_null = float(ref.get("null_share") or 0.0)
        if null_share - ref_null > max_missing_increase:
            found["missing_share"] = null_share
            found["reference_missing_share"] = ref_null
        if found:
            findings[name] = found
    threshold = {
        "max_out_of_range_share": max_out_of_range_share,
        "max_missing_increase": max_missing_increase,
        "allow_new_categories": allow_new_categories,
    }
    if not findings:
        return Outcome(
            True,
            0,
            threshold,
            f"No anomalies in {len(ref_columns)} columns against the reference profile: no "
            f"new categories, at most {pct(max_out_of_range_share)} out of range, missing "
            f"share up by at most {pct(max_missing_increase)}.",
            {"columns": {}},
        )
    parts = [f"{name!r} ({_describe(found)})" for name, found in findings.items()]
    return Outcome(
        False,
        len(findings),
        threshold,
        f"{len(findings)} of {len(ref_columns)} columns are anomalous against the reference "
        f"profile: {'; '.join(parts)}.",
        {"columns": findings},
    )


def _describe(found: dict[str, Any]) -> str:
    parts = []
    if found.get("missing_column"):
        parts.append("column missing")
    if "new_categories" in found:
        parts.append("new categories " + ", ".join(repr(v) for v in found["new_categories"]))
    if "out_of_range_share" in found:
        lo, hi = found["reference_range"]
        parts.append(f"{pct(found['out_of_range_share'])} outside the reference range {lo}..{hi}")
    if "missing_share" in found:
        parts.append(
            f"missing share {pct(found['missing_share'])} vs "
            f"{pct(found['reference_missing_share'])}"
        )
    return ", ".join(parts)
