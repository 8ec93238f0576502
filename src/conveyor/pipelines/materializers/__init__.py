"""Materializers: how step outputs become artifacts and come back as Python values.

This package owns the registry that picks a :class:`Materializer` for a value by its type,
the built-in materializers (pandas and polars tables as deterministic Parquet, NumPy
arrays, JSON-able values, bytes, files, scikit-learn estimators through skops,
XGBoost/LightGBM native models, PyTorch modules; models are stored through the registry's
flavors, byte for byte as a registered version), plug-ins from the
``conveyor.materializers`` entry-point group, and :func:`save_value`/:func:`load_value`,
which store values in the content-addressed artifact store. Libraries are imported only
when a value of theirs is saved or loaded; nothing is ever loaded with plain pickle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from conveyor.pipelines.materializers._base import Materializer
from conveyor.pipelines.materializers._errors import (
    MaterializerError,
    MaterializerNotFoundError,
    UnsupportedTypeError,
)
from conveyor.pipelines.materializers._plugins import ENTRY_POINT_GROUP, MaterializerRegistry
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
    "ModelMaterializerError",
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

# Model errors derive from the registry's flavor errors; the registry loads pandas.
_LAZY = {
    "ModelMaterializerError": "conveyor.pipelines.materializers._model_errors",
    "UntrustedTypeError": "conveyor.pipelines.materializers._model_errors",
}

if TYPE_CHECKING:
    from conveyor.pipelines.materializers._model_errors import (
        ModelMaterializerError,
        UntrustedTypeError,
    )


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conveyor.pipelines.materializers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
