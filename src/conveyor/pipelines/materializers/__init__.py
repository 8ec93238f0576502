"""Materializers: how step outputs become artifacts and come back as Python values.

This package owns the registry that picks a :class:`Materializer` for a value by its type,
the built-in materializers (pandas and polars tables as deterministic Parquet, NumPy
arrays, JSON-able values, bytes, files, scikit-learn estimators through skops,
XGBoost/LightGBM native models, PyTorch state dicts), plug-ins from the
``conveyor.materializers`` entry-point group, and :func:`save_value`/:func:`load_value`,
which store values in the content-addressed artifact store. Libraries are imported only
when a value of theirs is saved or loaded; nothing is ever loaded with plain pickle.
"""

from __future__ import annotations

from conveyor.pipelines.materializers._base import Materializer
from conveyor.pipelines.materializers._errors import (
    MaterializerError,
    MaterializerNotFoundError,
    UnsupportedTypeError,
    UntrustedTypeError,
)
from conveyor.pipelines.materializers._registry import ENTRY_POINT_GROUP, MaterializerRegistry
from conveyor.pipelines.materializers._values import (
    SavedValue,
    get_materializer,
    load_value,
    materializer_for,
    materializer_versions,
    register_materializer,
    save_value,
    unregister_materializer,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Materializer",
    "MaterializerError",
    "MaterializerNotFoundError",
    "MaterializerRegistry",
    "SavedValue",
    "UnsupportedTypeError",
    "UntrustedTypeError",
    "get_materializer",
    "load_value",
    "materializer_for",
    "materializer_versions",
    "register_materializer",
    "save_value",
    "unregister_materializer",
]
