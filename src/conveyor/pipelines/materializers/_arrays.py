"""NumPy arrays and scalars as ``.npy`` files, never with pickled objects."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, ClassVar

from conveyor.pipelines.materializers._base import Materializer, imported_class, require
from conveyor.pipelines.materializers._errors import UnsupportedTypeError


class NumpyMaterializer(Materializer):
    """``numpy.ndarray`` (any shape, order and non-object dtype) and NumPy scalars.

    Written with ``allow_pickle=False`` and read the same way, so a file can never make
    the loader run code. Object arrays are refused: convert them, or return a DataFrame.
    """

    name: ClassVar[str] = "numpy.ndarray"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "application/x-npy"
    suffix: ClassVar[str] = ".npy"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        array = imported_class("numpy", "ndarray")
        scalar = imported_class("numpy", "generic")
        # Subclasses of ndarray (masked arrays, matrices) would lose what makes them special.
        return value_type is array or (scalar is not None and issubclass(value_type, scalar))

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        np = require("numpy", package="numpy", materializer=self.name)
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise UnsupportedTypeError(
                f"Cannot save a NumPy array of dtype {array.dtype} (it holds Python objects).",
                hint="Convert it to a numeric or string dtype, or return a pandas DataFrame.",
                type_name="numpy.ndarray",
                dtype=str(array.dtype),
            )
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        path.write_bytes(buffer.getvalue())
        return {} if isinstance(value, np.ndarray) else {"scalar": True}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        np = require("numpy", package="numpy", materializer=self.name)
        array = np.load(path, allow_pickle=False)
        return array[()] if meta.get("scalar") else array
