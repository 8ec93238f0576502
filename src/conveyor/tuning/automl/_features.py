"""How AutoML turns a raw feature frame into model inputs, inside each search pipeline.

Every candidate is a scikit-learn ``Pipeline`` whose first step encodes the raw columns, so
the fitted best estimator takes the same frame the search was given (and can be registered
with that frame as its input example):

- numbers: missing values imputed with the median;
- strings, categoricals and booleans: one-hot encoded, a missing value being a category of
  its own, values never seen in training ignored (all zeros), at most
  :data:`MAX_CATEGORIES` columns per feature (rare values grouped);
- datetimes and durations: dropped, with the reason recorded on the result (expanding them
  needs a custom transformer, which would make the fitted model unloadable under skops'
  default trust: derive numeric columns such as year or age in days before the search).

Anything else (lists, bytes, mixed strings and numbers in one column, infinite numbers) is
refused with an :class:`~conveyor.tuning.automl.UnusableColumnError` naming the column.
A frame of numbers without missing values is used as is, as before.
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from conveyor.tuning.automl._errors import UnusableColumnError

__all__ = ["MAX_CATEGORIES", "FeaturePlan", "plan_features"]

#: One-hot columns per categorical feature at most; rarer values share one column.
MAX_CATEGORIES = 32


@dataclass(frozen=True)
class FeaturePlan:
    """What each feature column becomes in the search pipelines.

    Attributes:
        numeric: Numeric columns (median-imputed when any value is missing).
        categorical: String, categorical and boolean columns (one-hot encoded).
        dropped: Column -> why it is not used.
        missing: Whether a numeric column has missing values.
    """

    numeric: tuple[Hashable, ...]
    categorical: tuple[Hashable, ...]
    dropped: Mapping[str, str] = field(default_factory=dict)
    missing: bool = False

    @property
    def needs_encoding(self) -> bool:
        """Whether the raw frame cannot go to the estimators as it is."""
        return bool(self.categorical or self.dropped or self.missing)

    def pipeline(self, estimator: Any) -> Any:
        """``estimator`` behind the encoders this plan needs (itself when none)."""
        if not self.needs_encoding:
            return estimator
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        parts: list[tuple[str, Any, list[Any]]] = []
        if self.numeric:
            imputer = SimpleImputer(strategy="median", keep_empty_features=True)
            parts.append(("numeric", imputer, list(self.numeric)))
        if self.categorical:
            encoder = OneHotEncoder(
                handle_unknown="ignore", max_categories=MAX_CATEGORIES, sparse_output=False
            )
            parts.append(("categorical", encoder, list(self.categorical)))
        encode = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
        return Pipeline([("encode", encode), ("model", estimator)])


def plan_features(X: Any) -> FeaturePlan:
    """Decide how each column of ``X`` is encoded, dropped or refused.

    Args:
        X: A DataFrame or a 2-D array.

    Returns:
        The plan; columns are named as in ``X`` (positions for an array or for a frame
        whose column names are not all strings).

    Raises:
        UnusableColumnError: A column cannot be encoded or its name is repeated, or no
            column is usable.
    """
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    repeated = frame.columns[frame.columns.duplicated()]
    if len(repeated):
        name = repeated[0]
        raise UnusableColumnError(
            f"AutoML cannot use column {str(name)!r}: the frame has more than one column of "
            "that name.",
            hint="Rename or drop the repeated columns.",
            column=str(name),
            dtype=str(frame.dtypes.iloc[list(frame.columns).index(name)]),
        )
    by_name = all(isinstance(c, str) for c in frame.columns)
    numeric: list[Hashable] = []
    categorical: list[Hashable] = []
    dropped: dict[str, str] = {}
    missing = False
    for position, name in enumerate(frame.columns):
        key = name if by_name else position
        series = frame.iloc[:, position]
        kind = _kind(name, series)
        if kind == "numeric":
            numeric.append(key)
            missing = missing or bool(series.isna().any())
        elif kind == "categorical":
            categorical.append(key)
        else:
            dropped[str(name)] = kind
    if not numeric and not categorical:
        raise UnusableColumnError(
            f"No feature column is usable: {', '.join(f'{k} ({v})' for k, v in dropped.items())}.",
            hint="Add numeric, string, categorical or boolean columns (derive numbers from dates).",
            column=None,
            dtype=None,
        )
    return FeaturePlan(tuple(numeric), tuple(categorical), dropped, missing)


def _kind(name: Hashable, series: pd.Series) -> str:
    """``"numeric"``, ``"categorical"``, or the reason a datetime column is dropped."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return _dropped_time(dtype)
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        if pd.api.types.is_object_dtype(dtype):
            return _object_kind(name, series)
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            raise _unusable(name, dtype, "holds infinite values", "Replace them with NaN.")
        return "numeric"
    if pd.api.types.is_object_dtype(dtype):
        return _object_kind(name, series)
    return _refuse(name, dtype)


def _object_kind(name: Hashable, series: pd.Series) -> str:
    kinds = {_value_kind(v) for v in series.dropna()}
    if not kinds or kinds <= {"str"} or kinds <= {"bool"}:
        return "categorical"
    if kinds <= {"datetime"}:
        return _dropped_time(series.dtype)
    if kinds <= {"number"}:
        raise _unusable(
            name,
            series.dtype,
            "holds numbers stored as Python objects",
            f"Convert it first: X[{str(name)!r}] = pd.to_numeric(X[{str(name)!r}]).",
        )
    return _refuse(name, series.dtype, sorted(kinds))


def _value_kind(value: Any) -> str:
    if isinstance(value, str):
        return "str"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Number):
        return "number"
    if isinstance(value, (pd.Timestamp, pd.Timedelta, np.datetime64)) or hasattr(
        value, "isoformat"
    ):
        return "datetime"
    return type(value).__name__


def _dropped_time(dtype: Any) -> str:
    return (
        f"dropped: a {dtype} column is not encoded; derive numeric columns from it "
        "(year, month, age in days) before the search"
    )


def _refuse(name: Hashable, dtype: Any, kinds: list[str] | None = None) -> str:
    held = f"holds {', '.join(kinds)} values" if kinds else "has a dtype no encoder accepts"
    raise _unusable(
        name,
        dtype,
        held,
        "Use numbers, strings, categoricals or booleans; one type per column.",
    )


def _unusable(name: Hashable, dtype: Any, problem: str, hint: str) -> UnusableColumnError:
    return UnusableColumnError(
        f"AutoML cannot use column {str(name)!r} (dtype {dtype}): it {problem}.",
        hint=hint,
        column=str(name),
        dtype=str(dtype),
    )
