"""Which files are tables, and the name of a table version's one object (no pyarrow)."""

from __future__ import annotations

from pathlib import Path

#: File suffixes read as tables; any other file is versioned as opaque bytes.
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
TABLE_FILE = "data.parquet"


def is_table_path(path: Path) -> bool:
    """True when ``path`` names a CSV or Parquet file (by suffix, case-insensitive)."""
    return path.suffix.lower() in CSV_SUFFIXES + PARQUET_SUFFIXES
