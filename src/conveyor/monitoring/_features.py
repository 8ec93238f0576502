"""One pass over each window column: its summary for the drift tests and its data quality.

A column is converted to Arrow once, classified like the profile classifies columns
(numeric, categorical, boolean), and compared with the reference's kind: a missing column
or one of another type is reported for that column and skipped by the drift tests, never
raised. Numbers are reduced to sorted finite values, categories to value counts. Datetime
columns are not tested for drift (time moves on, and the profile keeps only their range):
they are reported ``untested`` with the share of the window before and after the
reference's range, parsed from ISO 8601 text when the log stored them as strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.monitoring._base import FeatureWindow
from conveyor.monitoring._reference import CategoricalReference, NumericReference, Reference

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: How many unseen category values a quality entry lists by name.
UNSEEN_SHOWN = 10


@dataclass
class ColumnSummary:
    """What one pass over a window column found.

    Attributes:
        feature: Column name.
        status: ``"ok"``, ``"missing"``, ``"type_mismatch"``, ``"no_reference"`` or
            ``"untested"`` (a datetime column: range only, see the module docstring).
        quality: Missingness, out-of-range share, unseen categories, types.
        window: The summary the drift tests use (``None`` unless status is ``"ok"``).
    """

    feature: str
    status: str
    quality: dict[str, Any] = field(default_factory=dict)
    window: FeatureWindow | None = None


def column_kind(arrow_type: pa.DataType) -> str:
    """``numeric``, ``categorical``, ``boolean``, ``null`` or ``other``, as profiles classify."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numeric"
    if pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "categorical"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_null(arrow_type):
        return "null"
    return "other"


def reference_fields(profile_column: dict[str, Any] | None) -> dict[str, Any]:
    """The reference's kind and missing share, which open every column summary."""
    if profile_column is None:
        return {"reference_kind": None, "reference_missing_share": None}
    return {
        "reference_kind": profile_column.get("kind"),
        "reference_missing_share": profile_column.get("null_share"),
    }


def summarise_column(
    feature: str,
    frame: pd.DataFrame,
    profile_column: dict[str, Any] | None,
    reference: Reference | None,
) -> ColumnSummary:
    """Summarise ``frame[feature]`` against its reference (see the module docstring)."""
    import pyarrow as pa

    ref_kind = None if profile_column is None else profile_column.get("kind")
    base = reference_fields(profile_column)
    if feature not in frame.columns:
        return ColumnSummary(feature, "missing", {**base, "message": "not in the window"})
    rows = len(frame)
    try:
        array = pa.array(frame[feature], from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        message = f"values of mixed or unsupported types ({exc})"
        return ColumnSummary(feature, "type_mismatch", {**base, "message": message})
    except UnicodeEncodeError as exc:  # lone surrogates: text that is not valid Unicode
        message = f"text that is not valid UTF-8 ({exc.reason} at {exc.start})"
        return ColumnSummary(feature, "type_mismatch", {**base, "message": message})
    kind = column_kind(array.type)
    missing = _missing(array)
    quality = {
        **base,
        "window_type": str(array.type),
        "missing_share": missing / rows if rows else None,
    }
    if ref_kind == "temporal" and profile_column is not None:
        return _temporal(feature, frame[feature], profile_column, quality)
    if reference is None or ref_kind is None:
        return ColumnSummary(feature, "no_reference", quality)
    if kind not in (ref_kind, "null"):
        quality["message"] = (
            f"window type {array.type} ({kind}) differs from the reference ({ref_kind})"
        )
        return ColumnSummary(feature, "type_mismatch", quality)
    if isinstance(reference, NumericReference):
        return _numeric(feature, array, reference, quality)
    return _categorical(feature, array, reference, quality)


def _missing(array: pa.Array) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    nulls = int(array.null_count)
    if pa.types.is_floating(array.type):
        nulls += int(pc.sum(pc.is_nan(array)).as_py() or 0)
    return nulls


def _numeric(
    feature: str, array: pa.Array, reference: NumericReference, quality: dict[str, Any]
) -> ColumnSummary:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_null(array.type):
        values = np.empty(0)
    else:
        values = pc.drop_null(array).to_numpy(zero_copy_only=False).astype(np.float64)
    values = np.sort(values[np.isfinite(values)])
    return numeric_summary(feature, FeatureWindow("numeric", values=values), reference, quality)


def numeric_summary(
    feature: str, window: FeatureWindow, reference: NumericReference, quality: dict[str, Any]
) -> ColumnSummary:
    """A numeric column's summary from its values or sketch: adds the out-of-range share."""
    size = window.size
    outside = int(window.rank(reference.min, "left")[0])
    outside += int(size - window.rank(reference.max, "right")[0])
    quality["out_of_range_share"] = outside / size if size else None
    quality["out_of_range"] = outside
    return ColumnSummary(feature, "ok", quality, window)


def _categorical(
    feature: str, array: pa.Array, reference: CategoricalReference, quality: dict[str, Any]
) -> ColumnSummary:
    import pyarrow as pa
    import pyarrow.compute as pc

    counts: dict[Any, int] = {}
    if not pa.types.is_null(array.type):
        if pa.types.is_dictionary(array.type):
            array = pc.cast(array, array.type.value_type)
        pairs = pc.value_counts(pc.drop_null(array))
        values = pairs.field("values").to_pylist()
        counts = dict(zip(values, pairs.field("counts").to_pylist(), strict=True))
    return categorical_summary(feature, counts, reference, quality)


def categorical_summary(
    feature: str, counts: dict[Any, int], reference: CategoricalReference, quality: dict[str, Any]
) -> ColumnSummary:
    """A categorical column's summary from its value counts: adds the unseen categories."""
    outside = {value: n for value, n in counts.items() if value not in reference.counts}
    total = sum(counts.values())
    shown = sorted(outside, key=lambda value: (-outside[value], str(value)))[:UNSEEN_SHOWN]
    quality.update(
        unseen=sum(outside.values()),
        unseen_share=sum(outside.values()) / total if total else None,
        unseen_categories=len(outside),
        unseen_values=[_jsonable(value) for value in shown],
        # With an `other` bucket, a value outside the top list may still be a known one.
        unseen_exact=reference.complete,
    )
    return ColumnSummary(feature, "ok", quality, FeatureWindow("categorical", counts=counts))


def _temporal(
    feature: str, series: pd.Series[Any], profile_column: dict[str, Any], quality: dict[str, Any]
) -> ColumnSummary:
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        parsed = pd.to_datetime(series, utc=True)
    else:
        parsed = pd.to_datetime(
            series.astype("object"), utc=True, errors="coerce", format="ISO8601"
        )
    present = int(series.notna().sum())
    valid = parsed.dropna()
    lo, hi = utc_stamp(profile_column.get("min")), utc_stamp(profile_column.get("max"))
    before = int((valid < lo).sum()) if lo is not None else 0
    after = int((valid > hi).sum()) if hi is not None else 0
    counts = {"present": present, "valid": len(valid), "before": before, "after": after}
    return temporal_summary(feature, counts, profile_column, quality)


def temporal_summary(
    feature: str, counts: dict[str, int], profile_column: dict[str, Any], quality: dict[str, Any]
) -> ColumnSummary:
    """A datetime column's summary from its counts: ``present`` values, ``valid`` (parsed)
    ones, and those ``before`` and ``after`` the reference's range."""
    present, valid = counts.get("present", 0), counts.get("valid", 0)
    before, after = counts.get("before", 0), counts.get("after", 0)
    unparseable = present - valid
    quality.update(
        unparseable=unparseable,
        before_range_share=before / valid if valid else None,
        after_range_share=after / valid if valid else None,
    )
    if present and not valid:
        quality["message"] = f"no value parses as a date or time ({unparseable} values)"
        return ColumnSummary(feature, "type_mismatch", quality)
    share = after / valid if valid else 0.0
    quality["message"] = (
        f"datetime column, not tested for drift; {share:.0%} of the window is after the "
        f"reference's latest value {profile_column.get('max')}"
        + (f"; {unparseable} values do not parse" if unparseable else "")
    )
    return ColumnSummary(feature, "untested", quality)


def utc_stamp(value: Any) -> pd.Timestamp | None:
    import pandas as pd

    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
