"""Anomalies of a dataset version against the reference profile.

The reference is the profile stored with the reference version (see
:func:`conveyor.data.compute_profile`), so no reference bytes are needed: new categories
(only judged when the reference's top-values list is complete), the share of numbers
outside the reference range (widened like the schema's ranges, by a quarter of its span on
each side by default, so a new sample's natural extremes are not anomalies), and an
increase of the missing share, per column; plus columns that disappeared.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from conveyor.checks.data._frames import column_kind
from conveyor.checks.data._outcome import Outcome, json_value, pct
from conveyor.checks.data._schema_infer import DEFAULT_TOLERANCE, widen_range


def _new_categories(series: pd.Series, ref: dict[str, Any], limit: int) -> list[Any] | None:
    if ref.get("other", 1) != 0 or "top" not in ref:
        return None  # the reference lists only its most frequent values: cannot tell
    known = {entry["value"] for entry in ref["top"]}
    seen = series.dropna().astype("object").unique()
    new = sorted((v for v in seen if json_value(v) not in known), key=str)
    return [json_value(v) for v in new[:limit]] if new else []


def _accepted_range(ref: dict[str, Any], tolerance: float) -> tuple[float, float] | None:
    lo, hi = ref.get("min"), ref.get("max")
    if lo is None or hi is None:
        return None
    integral = isinstance(lo, int) and isinstance(hi, int)
    return widen_range(float(lo), float(hi), tolerance, integral)


def _out_of_range_share(series: pd.Series, accepted: tuple[float, float] | None) -> float | None:
    if accepted is None or column_kind(series) != "numeric":
        return None
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return 0.0
    lo, hi = accepted
    return float(np.mean((values < lo) | (values > hi)))


def find_anomalies(
    frame: pd.DataFrame,
    reference_profile: dict[str, Any],
    *,
    max_out_of_range_share: float = 0.01,
    max_missing_increase: float = 0.05,
    allow_new_categories: bool = False,
    max_examples: int = 5,
    range_tolerance: float = DEFAULT_TOLERANCE,
) -> Outcome:
    """Compare ``frame`` with a reference profile column by column.

    Args:
        frame: The new version's table.
        reference_profile: The reference version's profile.
        max_out_of_range_share: Largest accepted share of numbers outside the reference
            min..max widened by ``range_tolerance``.
        max_missing_increase: Largest accepted rise of a column's missing share (absolute).
        allow_new_categories: Accept category values the reference never had.
        max_examples: New categories listed per column.
        range_tolerance: Widen each reference range by this share of its span on each
            side (integer ranges outwards to whole numbers); 0 keeps the observed min..max.

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
        accepted = _accepted_range(ref, range_tolerance) if ref.get("kind") == "numeric" else None
        share = _out_of_range_share(series, accepted)
        if share is not None and share > max_out_of_range_share and accepted is not None:
            found["out_of_range_share"] = share
            found["reference_range"] = [ref.get("min"), ref.get("max")]
            found["accepted_range"] = [json_value(accepted[0]), json_value(accepted[1])]
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
        "range_tolerance": range_tolerance,
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
        alo, ahi = found["accepted_range"]
        parts.append(
            f"{pct(found['out_of_range_share'])} outside the reference range {lo}..{hi} "
            f"widened to {alo:g}..{ahi:g}"
        )
    if "missing_share" in found:
        parts.append(
            f"missing share {pct(found['missing_share'])} vs "
            f"{pct(found['reference_missing_share'])}"
        )
    return ", ".join(parts)
