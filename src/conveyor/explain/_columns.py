"""Raw input columns as numbers for SHAP's maskers, and back, without losing their type.

SHAP's model-agnostic explainers mask a numeric matrix: a masked cell takes a background
row's value. A model whose inputs include strings, categoricals, booleans or datetimes
(a scikit-learn pipeline with its own encoders) must still receive those raw values, so
every non-numeric column is coded as the index of its value among the values seen (``NaN``
for a missing one), and decoded back to the column's own dtype before the model is called.
Masking only ever moves values between rows, so every code decodes to a real value.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from conveyor.explain._errors import ExplainError


@dataclass(frozen=True)
class _Column:
    name: Hashable
    dtype: Any
    # None: a numeric column, passed through as float; otherwise the distinct values.
    values: pd.Index | None


class ColumnCodec:
    """Codes the columns of one or more frames as a float matrix and decodes it back.

    Args:
        frames: Every frame whose rows will be encoded (background and explained rows):
            their distinct values form each coded column's vocabulary.

    Raises:
        ExplainError: A column holds values that cannot be compared (lists, dicts).
    """

    def __init__(self, *frames: pd.DataFrame) -> None:
        joined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        self.columns = [_column(name, joined[name]) for name in joined.columns]

    @property
    def names(self) -> list[str]:
        """The column names, as strings."""
        return [str(c.name) for c in self.columns]

    @property
    def all_numeric(self) -> bool:
        """Whether every column passes through as a number (nothing is coded)."""
        return all(c.values is None for c in self.columns)

    def encode(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """``frame`` as a rows x columns float matrix (codes for non-numeric columns)."""
        encoded = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for i, column in enumerate(self.columns):
            series = frame[column.name]
            if column.values is None:
                encoded[:, i] = pd.to_numeric(series, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
                continue
            codes = column.values.get_indexer(pd.Index(series.astype(object))).astype(np.float64)
            codes[codes < 0] = np.nan
            encoded[:, i] = codes
        return encoded

    def decode(self, matrix: np.ndarray[Any, Any]) -> pd.DataFrame:
        """A float matrix from :meth:`encode` (rows masked by SHAP) as a frame of raw values."""
        data: dict[Hashable, Any] = {}
        for i, column in enumerate(self.columns):
            cells = np.asarray(matrix[:, i], dtype=np.float64)
            if column.values is None:
                data[column.name] = _numbers(cells, column.dtype)
                continue
            missing = np.isnan(cells)
            codes = np.where(missing, -1, cells).astype(np.int64)
            categorical = pd.Categorical.from_codes(codes, categories=column.values)
            data[column.name] = _restore(pd.Series(categorical), column.dtype)
        return pd.DataFrame(data)


def _column(name: Hashable, series: pd.Series) -> _Column:
    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return _Column(name, dtype, None)
    try:
        values = pd.Index(pd.unique(series.dropna().astype(object)), dtype=object)
        values.get_indexer(values)  # unhashable or incomparable values fail here
    except (TypeError, ValueError) as exc:
        raise ExplainError(
            f"Cannot explain column {name!r} (dtype {dtype}): its values cannot be compared "
            f"({exc}).",
            hint="Explanations support numeric, string, categorical, boolean and datetime columns.",
            column=str(name),
        ) from exc
    return _Column(name, dtype, values)


def _numbers(cells: np.ndarray[Any, Any], dtype: Any) -> pd.Series:
    series = pd.Series(cells)
    if pd.api.types.is_integer_dtype(dtype) and not np.isnan(cells).any():
        return series.astype(dtype)
    return series


def _restore(series: pd.Series, dtype: Any) -> pd.Series:
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        # A bool column with missing values, mixed objects: keep the raw Python values.
        return series.astype(object)
