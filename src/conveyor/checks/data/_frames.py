"""Column kinds, targets and feature encoding shared by the data checks.

Every check classifies columns the same way (numeric, categorical, boolean, temporal) and
turns features into what scikit-learn estimators accept the same way, so a column is never
numeric to one check and categorical to another.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd

from conveyor.checks.data._errors import DataCheckInputError

ColumnKind = Literal["numeric", "categorical", "boolean", "temporal", "other"]

#: A numeric target with at most this many distinct values is treated as class labels.
MAX_CLASSES = 20


def column_kind(series: pd.Series) -> ColumnKind:
    """How the data checks treat a column."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return "temporal"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        return "categorical"
    return "other"


def require_table(frame: pd.DataFrame, what: str) -> None:
    """Raise a clear error when the frame has no rows."""
    if len(frame) == 0:
        raise DataCheckInputError(
            f"The {what} is empty (0 rows): there is nothing to check.",
            hint="Check the dataset version; add a version with rows.",
            rows=0,
        )


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise an error naming each missing column and listing the ones that exist."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise DataCheckInputError(
            f"The {what} column{'s' if len(missing) > 1 else ''} {listed} "
            f"{'are' if len(missing) > 1 else 'is'} not in the dataset. Columns: "
            f"{', '.join(str(c) for c in frame.columns)}.",
            hint="Fix the column name in the check's params or in conveyor.yaml "
            "(evaluation.target).",
            missing=missing,
            columns=[str(c) for c in frame.columns],
        )


def resolve_target(frame: pd.DataFrame, target: str | None, check: str) -> str:
    """The target column, checked to exist; a clear error when none is configured."""
    if target is None:
        raise DataCheckInputError(
            f"The {check!r} check needs a target column and none is configured.",
            hint=f"Pass params: {{target: <column>}} to {check!r}, or set evaluation.target "
            "in conveyor.yaml.",
            check=check,
        )
    require_columns(frame, [target], "target")
    return target


def is_classification(y: pd.Series) -> bool:
    """Whether a target holds class labels (non-numeric, boolean, or few distinct values)."""
    kind = column_kind(y)
    if kind != "numeric":
        return True
    values = y.dropna()
    few = values.nunique() <= MAX_CLASSES
    integral = bool(np.all(np.mod(values.to_numpy(dtype=float), 1.0) == 0.0))
    return few and integral


def sample_rows(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows, drawn reproducibly (the frame itself when small enough)."""
    if len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=seed)


def encode_feature(series: pd.Series) -> np.ndarray:
    """One column as a float array for a tree model: numbers as is, others as codes.

    Missing values stay NaN (scikit-learn's trees route them on their own); categories
    become codes in first-seen order, which a tree can split on.
    """
    kind = column_kind(series)
    if kind in ("numeric", "boolean"):
        return series.astype("float64").to_numpy()
    if kind == "temporal":
        stamps = pd.to_datetime(series).to_numpy(dtype="datetime64[ns]")
        # NaT becomes the smallest int64 on conversion; put it back as missing.
        return np.where(np.isnat(stamps), np.nan, stamps.astype("int64").astype("float64"))
    codes, _ = pd.factorize(series.astype("object"), use_na_sentinel=True)
    return np.where(codes < 0, np.nan, codes.astype("float64"))


def encode_features(frame: pd.DataFrame) -> np.ndarray:
    """Every column encoded with :func:`encode_feature`, as a 2-D float array."""
    if frame.shape[1] == 0:
        return np.empty((len(frame), 0))
    return np.column_stack([encode_feature(frame[c]) for c in frame.columns])
