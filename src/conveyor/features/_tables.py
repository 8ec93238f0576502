"""A feature view's offline table: its source rows transformed, checked and typed."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from conveyor.features._definitions import DTYPES, FeatureView, Transformation
from conveyor.features._errors import FeatureSourceError

__all__ = ["build_view_table"]


def build_view_table(view: FeatureView, frame: pd.DataFrame) -> pa.Table:
    """The view's rows from its dataset's frame: transformed, checked, typed.

    Raises:
        FeatureSourceError: The transformation failed or returned something else than a
            DataFrame, a declared column is missing, or a value does not fit its type.
    """
    if isinstance(view.source, Transformation):
        try:
            frame = view.source(frame)
        except Exception as exc:
            raise FeatureSourceError(
                f"The transformation {view.source.name!r} of feature view {view.name!r} "
                f"failed: {type(exc).__name__}: {exc}",
                hint="Fix the function in features.py and apply again.",
                view=view.name,
            ) from exc
        if not isinstance(frame, pd.DataFrame):
            raise FeatureSourceError(
                f"The transformation {view.source.name!r} of feature view {view.name!r} "
                f"returned {type(frame).__name__}, not a DataFrame.",
                hint="Return a pandas DataFrame.",
                view=view.name,
            )
    wanted = [*view.join_keys, view.timestamp_field, *view.features]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        shown = ", ".join(map(str, list(frame.columns)[:30]))
        raise FeatureSourceError(
            f"The source of feature view {view.name!r} ({view.dataset}) lacks the declared "
            f"column(s) {missing}; it has: {shown}.",
            hint="Fix the view's schema, join keys or timestamp_field, or its source.",
            view=view.name,
            missing=missing,
        )
    out = pd.DataFrame(index=frame.index)
    for key in view.join_keys:
        out[key] = frame[key]
    try:
        stamps = pd.to_datetime(frame[view.timestamp_field], utc=True)
    except (ValueError, TypeError) as exc:
        raise FeatureSourceError(
            f"Feature view {view.name!r}: the timestamp column {view.timestamp_field!r} "
            f"holds values that are not timestamps ({exc}).",
            hint="Store timestamps (or ISO 8601 strings) in that column.",
            view=view.name,
        ) from exc
    if stamps.isna().any():
        row = stamps.index[stamps.isna()][0]
        raise FeatureSourceError(
            f"Feature view {view.name!r}: row {row!r} has no timestamp in "
            f"{view.timestamp_field!r}.",
            hint="Drop or fill rows without a timestamp in the source or transformation.",
            view=view.name,
        )
    out[view.timestamp_field] = stamps.astype("datetime64[us, UTC]")
    for f in view.schema:
        out[f.name] = _cast(frame[f.name], f.dtype, view.name, f.name)
    return pa.Table.from_pandas(out.reset_index(drop=True), preserve_index=False)


def _cast(column: pd.Series, dtype: str, view: str, name: str) -> pd.Series:
    target: Any = DTYPES[dtype]
    try:
        if dtype == "datetime":
            cast: pd.Series = pd.to_datetime(column, utc=True).astype(target)
        else:
            cast = column.astype(target)
        return cast
    except (ValueError, TypeError, OverflowError) as exc:
        bad = _first_bad(column, dtype)
        raise FeatureSourceError(
            f"Feature view {view!r}: feature {name!r} is declared {dtype} but holds "
            f"{bad!r} ({type(exc).__name__}: {exc}).",
            hint=f"Declare the type of the values in {name!r}, or convert them in a "
            "transformation.",
            view=view,
            feature=name,
        ) from exc


def _first_bad(column: pd.Series, dtype: str) -> Any:
    for value in column:
        try:
            target: Any = DTYPES[dtype]
            pd.Series([value]).astype(target)
        except (ValueError, TypeError, OverflowError):
            return value
    return None
