"""Materialization: the latest values per entity key of each view, into the online store.

Incremental and crash-safe: each run is recorded ``running`` then ``committed`` with its
window; the keys written are those whose latest row differs from what the last committed
run into the same store read (all of them for a changed definition, a cleared store or
``full``), in atomic batches where the newest event time per key wins.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from conveyor.features._definitions import FeatureView, lookup_view
from conveyor.features._records import MaterializationRecord
from conveyor.features._values import as_utc, py_scalar, py_timestamp, quote_identifier, to_online

if TYPE_CHECKING:
    from conveyor.features._store import FeatureStore

__all__ = ["BATCH_ROWS", "Materialized", "latest_per_key", "materialize_views"]

#: The rows written to the online store per atomic batch.
BATCH_ROWS = 2_000


@dataclass(frozen=True)
class Materialized:
    """What ``materialize`` wrote for one view."""

    view: str
    view_version: int
    dataset: str
    rows: int
    keys: int
    full: bool
    record: MaterializationRecord


def materialize_views(
    store_: FeatureStore,
    *,
    start: datetime | None,
    end: datetime | None,
    views: Sequence[str] | None,
    full: bool,
    progress: Callable[[str], None] | None,
) -> builtins.list[Materialized]:
    """``FeatureStore.materialize`` (see there)."""
    from conveyor.features._online import OnlineRow

    defs = store_.definitions()
    store = store_.online_store
    end = as_utc(end) if end is not None else datetime.now(UTC)
    start = as_utc(start) if start is not None else None
    names = list(views) if views is not None else sorted(defs.views)
    done: list[Materialized] = []
    for name in names:
        view = lookup_view(defs.views, name)
        table, trecord = store_.table_with_record(view)
        last = store_.records.last_committed(view.name, store.store_id)
        in_full = (
            full
            or last is None
            or last.view_version != trecord.view_version
            or (last.rows > 0 and store.count(view.name) == 0)
        )
        now_latest = latest_per_key(view, table, start, end)
        if not in_full and last is not None:
            before, _ = store_.table_with_record(view, dataset_version=last.dataset_version)
            previous = latest_per_key(view, before, last.start_ts, last.end_ts)
            changed = _changed(now_latest, previous, view)
        else:
            changed = now_latest
        record = store_.records.start_materialization(
            store_.actor,
            view=view.name,
            view_version=trecord.view_version,
            dataset_version=trecord.dataset_version,
            store_id=store.store_id,
            start_ts=start,
            end_ts=end,
        )
        written = 0
        rows = _online_rows(view, changed, OnlineRow)
        for i in range(0, len(rows), BATCH_ROWS):
            written += store.write_batch(view.name, rows[i : i + BATCH_ROWS])
        watermark = (
            None if now_latest.empty else py_timestamp(now_latest[view.timestamp_field].max())
        )
        committed = store_.records.commit_materialization(
            store_.actor, record.id, rows=len(rows), watermark=watermark
        )
        if progress is not None:
            kind = "in full" if in_full else "changed keys"
            progress(f"{view.name}: {len(rows):,} key(s) written ({kind})")
        done.append(
            Materialized(
                view=view.name,
                view_version=trecord.view_version,
                dataset=f"{trecord.dataset}@{trecord.dataset_version}",
                rows=written,
                keys=len(now_latest),
                full=in_full,
                record=committed,
            )
        )
    return done


def latest_per_key(
    view: FeatureView, table: pa.Table, start: datetime | None, end: datetime
) -> pd.DataFrame:
    """The newest row per entity key with a timestamp in ``[start, end]`` (ties: the
    last in the table), as a frame."""
    import duckdb

    keys = ", ".join(quote_identifier(k) for k in view.join_keys)
    ts = quote_identifier(view.timestamp_field)
    where = [f"{ts} <= $end"]
    params: dict[str, Any] = {"end": end}
    if start is not None:
        where.append(f"{ts} >= $start")
        params["start"] = start
    # The table's own order, numbered here: a window over a parallel scan has none.
    numbered = table.append_column("__seq", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    con = duckdb.connect()
    try:
        con.register("view_rows", numbered)
        query = (
            f"SELECT * EXCLUDE (__seq) FROM view_rows WHERE {' AND '.join(where)} "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {ts} DESC, __seq DESC) = 1"
        )
        result: Any = con.sql(query, params=params).to_arrow_table()
        frame: pd.DataFrame = result.to_pandas()
    finally:
        con.close()
    return frame


def _changed(now: pd.DataFrame, before: pd.DataFrame, view: FeatureView) -> pd.DataFrame:
    """Rows of ``now`` whose key is new or whose timestamp or values differ from ``before``."""
    if before.empty:
        return now
    keys = list(view.join_keys)
    compare = [view.timestamp_field, *view.features]
    merged = now.merge(before[[*keys, *compare]], on=keys, how="left", suffixes=("", "__old"))
    differs = np.zeros(len(merged), dtype=bool)
    for column in compare:
        a, b = merged[column], merged[f"{column}__old"]
        same = (a == b).fillna(False).to_numpy(dtype=bool) | (a.isna() & b.isna()).to_numpy()
        differs |= ~same
    return now.loc[differs.tolist()].reset_index(drop=True) if len(now) else now


def _online_rows(view: FeatureView, frame: pd.DataFrame, row_type: Any) -> builtins.list[Any]:
    rows: list[Any] = []
    keys = list(view.join_keys)
    records = frame.to_dict("records")
    for record in records:
        rows.append(
            row_type(
                key=tuple(py_scalar(record[k]) for k in keys),
                values={f: to_online(record[f]) for f in view.features},
                event_ts=py_timestamp(record[view.timestamp_field]),
            )
        )
    return rows
