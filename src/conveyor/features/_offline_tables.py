"""The offline side of the feature store: each view's offline table, computed from its
dataset version once and kept as a Parquet artifact, and the training sets joined from
those tables point in time (``ws.features.historical``).

:class:`~conveyor.features.FeatureStore` calls these; the join itself is
:func:`conveyor.features._offline.point_in_time_join`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from conveyor.core import utcnow
from conveyor.features._definitions import FeatureService, FeatureView
from conveyor.features._records import FeatureTableRecord
from conveyor.features._tables import build_view_table
from conveyor.features._values import py_timestamp

if TYPE_CHECKING:
    from conveyor.features._store import FeatureStore

__all__ = ["training_set", "view_table"]


def view_table(
    store: FeatureStore, view: FeatureView, *, dataset_version: int | None = None
) -> tuple[pa.Table, FeatureTableRecord]:
    """The view's offline table and its record (``FeatureStore.table_with_record``)."""
    record = store._applied_view(view)
    name, _, pinned = view.dataset.partition("@")
    version = dataset_version
    if version is None and pinned != "latest":
        version = int(pinned)
    dataset = store.datasets.get(name, version)
    cached = store.records.find_table(view.name, record.version, name, dataset.version)
    if cached is not None:
        data = store.artifacts.get_bytes(cached.artifact_hash)
        return pq.read_table(io.BytesIO(data)), cached
    table = build_view_table(view, store.datasets.load(f"{name}@{dataset.version}"))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    info = store.artifacts.put_bytes(sink.getvalue())
    ts = table.column(view.timestamp_field)
    stored = store.records.record_table(
        store.actor,
        FeatureTableRecord(
            view=view.name,
            view_version=record.version,
            dataset=name,
            dataset_version=dataset.version,
            artifact_hash=info.hash,
            rows=table.num_rows,
            min_ts=py_timestamp(pa.compute.min(ts)),
            max_ts=py_timestamp(pa.compute.max(ts)),
            created_at=utcnow(),
        ),
    )
    return table, stored


def training_set(
    store: FeatureStore,
    entity_df: pd.DataFrame,
    features: Sequence[str] | FeatureService | str,
    *,
    timestamp_column: str = "event_timestamp",
    full_names: bool = False,
) -> pd.DataFrame:
    """``entity_df`` with its features point in time, and their lineage recorded
    (``FeatureStore.historical``)."""
    from conveyor.features._offline import ViewTable, point_in_time_join

    wanted = store.resolve(features)
    defs = store.definitions()
    tables: list[ViewTable] = []
    lineage: dict[str, Any] = {
        "service": None if wanted.service is None else wanted.service.ref,
        "views": {},
    }
    for view_name, names in wanted.views.items():
        view = defs.views[view_name]
        table, record = store.table_with_record(view)
        tables.append(
            ViewTable(
                name=view.name,
                join_keys=view.join_keys,
                timestamp_field=view.timestamp_field,
                ttl=view.ttl,
                features=tuple(names),
                table=table,
            )
        )
        lineage["views"][view.name] = {
            "version": record.view_version,
            "dataset": f"{record.dataset}@{record.dataset_version}",
            "features": list(names),
        }
    result: pd.DataFrame = point_in_time_join(
        entity_df, tables, timestamp_column=timestamp_column, full_names=full_names
    )
    result.attrs["conveyor.features"] = lineage
    if store.on_training_set is not None:
        store.on_training_set(lineage, result, [c for c in result.columns if c not in entity_df])
    return result
