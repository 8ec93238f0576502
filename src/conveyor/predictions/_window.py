"""Reading a window of the prediction log: pick batches by their index, then open only those.

An indexed partition knows its model version, deployment coordinates and the time span of
its rows, so the records narrow a window down to the few Parquet objects that can hold rows
of it; only those are fetched, filtered by time with pyarrow, and converted to pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from conveyor.artifacts import ArtifactStore
from conveyor.predictions._base import BasePredictionRecords
from conveyor.predictions._errors import InvalidPredictionRecordError
from conveyor.predictions._parquet import (
    BASE_COLUMNS,
    INPUT_PREFIX,
    PREDICTION,
    decode_batch,
    to_frame,
)
from conveyor.predictions._records import PartitionInfo

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Window:
    """Which predictions to read: filters on the batch index plus a half-open time range."""

    model: str | None = None
    version: int | None = None
    environment: str | None = None
    variant: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None and value.tzinfo is None:
                raise InvalidPredictionRecordError(
                    f"The window's {name}={value!r} has no time zone.",
                    hint="Pass an aware datetime, e.g. datetime(2026, 1, 1, tzinfo=UTC).",
                    field=name,
                )

    def batches(self, records: BasePredictionRecords) -> list[PartitionInfo]:
        """The indexed partitions that may hold rows of this window, newest first."""
        return records.partitions(
            model=self.model,
            version=self.version,
            environment=self.environment,
            variant=self.variant,
            since=self.since,
            until=self.until,
        )

    def contains(self, batch: PartitionInfo) -> bool:
        """Whether every row of the batch is inside the time range."""
        after = self.since is None or batch.first_at >= self.since
        before = self.until is None or batch.last_at < self.until
        return after and before

    def filter(self, table: pa.Table) -> pa.Table:
        """Keep the rows of ``table`` inside the time range."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.since is None and self.until is None:
            return table
        kind = pa.timestamp("us", tz="UTC")
        mask = None
        if self.since is not None:
            mask = pc.greater_equal(table["at"], pa.scalar(self.since, kind))
        if self.until is not None:
            upper = pc.less(table["at"], pa.scalar(self.until, kind))
            mask = upper if mask is None else pc.and_(mask, upper)
        return table.filter(mask)


def read_window(
    records: BasePredictionRecords,
    artifacts: ArtifactStore,
    window: Window,
    *,
    last_rows: int | None,
) -> pd.DataFrame:
    """The predictions of ``window`` (the newest ``last_rows`` of them), oldest first."""
    if last_rows is not None and last_rows < 0:
        raise InvalidPredictionRecordError(
            f"last_rows must be zero or more, got {last_rows}.",
            hint="Pass how many of the newest predictions to read, or None for all.",
            last_rows=last_rows,
        )
    batches = window.batches(records)
    tables = []
    if last_rows is None:
        tables = [_load(artifacts, batch, window) for batch in batches]
    elif last_rows > 0:
        tables = _newest(artifacts, batches, window, last_rows)
    return _assemble(tables, last_rows)


def count_window(records: BasePredictionRecords, artifacts: ArtifactStore, window: Window) -> int:
    """How many predictions ``window`` holds, opening only batches that straddle its edges."""
    if window.since is None and window.until is None:
        return records.row_count(
            model=window.model,
            version=window.version,
            environment=window.environment,
            variant=window.variant,
        )
    batches = window.batches(records)
    return sum(
        batch.rows if window.contains(batch) else _load(artifacts, batch, window).num_rows
        for batch in batches
    )


def _load(artifacts: ArtifactStore, batch: PartitionInfo, window: Window) -> pa.Table:
    table = decode_batch(artifacts.get_bytes(batch.content_hash))
    return table if window.contains(batch) else window.filter(table)


def _newest(
    artifacts: ArtifactStore, batches: Iterable[PartitionInfo], window: Window, wanted: int
) -> list[pa.Table]:
    """Batches holding the newest ``wanted`` rows, reading as few as the index allows.

    Batches come newest ``last_at`` first. Once ``wanted`` rows are collected, the
    ``wanted``-th newest time is a threshold: a batch whose last row is older cannot
    contribute, and neither can any batch after it.
    """
    import numpy as np
    import pyarrow as pa

    tables: list[pa.Table] = []
    stamps: list[np.ndarray] = []
    threshold: int | None = None
    for batch in batches:
        if threshold is not None and _micros(batch.last_at) < threshold:
            break
        table = _load(artifacts, batch, window)
        tables.append(table)
        stamps.append(table["at"].cast(pa.int64()).to_numpy())
        collected = np.concatenate(stamps)
        if len(collected) >= wanted:
            threshold = int(-np.partition(-collected, wanted - 1)[wanted - 1])
    return tables


def _assemble(tables: list[pa.Table], last_rows: int | None) -> pd.DataFrame:
    import pandas as pd

    frames = [to_frame(table) for table in tables if table.num_rows]
    if not frames:
        return _empty()
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
    frame = frame.sort_values(["at", "request_id"], kind="stable", ignore_index=True)
    if last_rows is not None:
        frame = frame.iloc[len(frame) - min(last_rows, len(frame)) :].reset_index(drop=True)
    inputs = [column for column in frame.columns if column.startswith(INPUT_PREFIX)]
    return frame[[*BASE_COLUMNS, *inputs, PREDICTION]]


def _empty() -> pd.DataFrame:
    import pyarrow as pa

    schema = pa.schema(
        [
            ("request_id", pa.string()),
            ("at", pa.timestamp("us", tz="UTC")),
            ("model", pa.string()),
            ("version", pa.int64()),
            ("environment", pa.string()),
            ("variant", pa.string()),
            ("revision", pa.int64()),
            ("latency_ms", pa.float64()),
            ("status", pa.string()),
            ("error", pa.string()),
            (PREDICTION, pa.null()),
        ]
    )
    frame: pd.DataFrame = schema.empty_table().to_pandas()
    return frame


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _MICROSECOND
