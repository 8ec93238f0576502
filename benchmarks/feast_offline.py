"""Feast's local offline store on the feature benchmark's data (run by ``bench_features``).

Run with the Python of Feast's own virtualenv (``benchmarks/.venvs/feast``; Feast pins
``pandas<3``, so it cannot share conveyor's)::

    python feast_offline.py VIEW_PARQUET ENTITIES_PARQUET WORK_FOLDER

Defines, in a fresh Feast repository under ``WORK_FOLDER`` (``feature_store.yaml`` with
``provider: local`` and ``offline_store: file``), an entity ``user`` keyed by ``user_id``,
a ``FileSource`` over ``VIEW_PARQUET`` and a feature view of its float columns without a
TTL, then times ``get_historical_features(entity_df, features).to_df()`` with the entity
frame read from ``ENTITIES_PARQUET``. Prints one JSON line: seconds (Feast reads the
Parquet file itself, so they include reading it), peak resident MB of the process, peak
MB above the footprint before the call, rows, and a checksum of the feature values.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float64

YAML = """project: conveyor_bench
provider: local
registry: {registry}
online_store:
    type: sqlite
    path: {online}
offline_store:
    type: file
entity_key_serialization_version: 3
"""


def main(view_path: str, entities_path: str, work: str) -> None:
    repo = Path(work) / "feast_repo"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        YAML.format(registry=repo / "registry.db", online=repo / "online.db")
    )
    features = [name for name in pq.read_schema(view_path).names if name.startswith("f")]
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    source = FileSource(path=view_path, timestamp_field="event_timestamp")
    view = FeatureView(
        name="user_stats",
        entities=[user],
        schema=[Field(name=name, dtype=Float64) for name in features],
        source=source,
        ttl=None,
    )
    store = FeatureStore(repo_path=str(repo))
    store.apply([user, view])
    entity_df = pd.read_parquet(entities_path)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = store.get_historical_features(
        entity_df=entity_df, features=[f"user_stats:{name}" for name in features]
    ).to_df()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak / 1024,
                "above_mb": (peak - base) / 1024,
                "rows": len(result),
                "checksum": float(result[features].sum().sum()),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
