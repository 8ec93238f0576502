"""pandas and polars tables as Parquet files with deterministic bytes.

Every table is converted to Arrow and written by pyarrow with fixed options, so the same
data gives the same bytes (and content hash) on every run with the same library versions.
pandas' schema metadata is kept: it is what restores dtypes, the index and column labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from conveyor.pipelines.materializers._base import Materializer, imported_subclass, require
from conveyor.pipelines.materializers._errors import MaterializerError

_MEDIA_TYPE = "application/vnd.apache.parquet"
_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 1 << 20,
    "data_page_size": 1 << 20,
    "version": "2.6",
}
_SERIES_COLUMN = "__series__"


def _write(table: Any, path: Path, materializer: str) -> None:
    pq = require("pyarrow.parquet", package="pyarrow", materializer=materializer)
    pq.write_table(table, path, **_WRITE_OPTIONS)


def _read(path: Path, materializer: str) -> Any:
    pq = require("pyarrow.parquet", package="pyarrow", materializer=materializer)
    return pq.read_table(path)


def _to_arrow(frame: Any, materializer: str) -> Any:
    pa = require("pyarrow", package="pyarrow", materializer=materializer)
    try:
        return pa.Table.from_pandas(frame, preserve_index=None)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise MaterializerError(
            f"Cannot write this DataFrame as Parquet: {exc}.",
            hint="Give columns a single Arrow-compatible type (no mixed Python objects), "
            "or register a materializer for this value.",
            materializer=materializer,
        ) from exc


class PandasDataFrameMaterializer(Materializer):
    """``pandas.DataFrame``: dtypes, index and column labels round-trip."""

    name: ClassVar[str] = "pandas.dataframe"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = _MEDIA_TYPE
    suffix: ClassVar[str] = ".parquet"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return imported_subclass(value_type, "pandas", "DataFrame")

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        _write(_to_arrow(value, self.name), path, self.name)
        return {}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        return _read(path, self.name).to_pandas()


class PandasSeriesMaterializer(Materializer):
    """``pandas.Series``: stored as a one-column table; dtype, index and name round-trip.

    The name must be a string, an integer or ``None``.
    """

    name: ClassVar[str] = "pandas.series"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = _MEDIA_TYPE
    suffix: ClassVar[str] = ".parquet"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return imported_subclass(value_type, "pandas", "Series")

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        label = value.name
        if label is not None and (isinstance(label, bool) or not isinstance(label, (str, int))):
            raise MaterializerError(
                f"Cannot save a Series named {label!r}: only str, int or None names are kept.",
                hint="Rename the Series (series.rename('name')) or return series.to_frame().",
                materializer=self.name,
            )
        frame = value.to_frame(name=_SERIES_COLUMN)
        _write(_to_arrow(frame, self.name), path, self.name)
        return {"name": label}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        frame = _read(path, self.name).to_pandas()
        return frame[_SERIES_COLUMN].rename(meta.get("name"))


class PolarsDataFrameMaterializer(Materializer):
    """``polars.DataFrame``: the schema (dtypes and column order) round-trips."""

    name: ClassVar[str] = "polars.dataframe"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = _MEDIA_TYPE
    suffix: ClassVar[str] = ".parquet"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return imported_subclass(value_type, "polars", "DataFrame")

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        _write(value.to_arrow(), path, self.name)
        return {}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        pl = require("polars", package="polars", materializer=self.name)
        return pl.from_arrow(_read(path, self.name))
