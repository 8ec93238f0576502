"""Online feature lookups: conveyor's online stores vs raw sqlite3 and raw redis-py.

A view of 10 features (ints, floats, a string) is materialized for 100,000 entity keys with
``write_batch`` (10,000 rows a batch) into the SQLite store (a temporary file) and into Redis
on 127.0.0.1:6379 (db 13, a namespace of its own, removed afterwards; skipped when Redis is
not running). Then lookups of 1 and of 100 random keys, one call at a time, give p50 and p99
latency. The baselines in the same run read the same rows the cheapest way each backend
allows, without decoding: a ``SELECT ... IN`` with ``sqlite3`` on the same file, and a
non-transactional redis-py pipeline of ``HMGET`` on the same hashes (key names computed
beforehand). The ratio is the store's own cost: canonical keys, one consistent snapshot,
JSON decoding and the result objects; on Redis the store's one Lua script replaces a
pipeline's per-command replies, which redis-py parses in Python.
"""

from __future__ import annotations

import random
import socket
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import scale
from conveyor.features._online import OnlineRow, OnlineStore
from conveyor.features._online_redis import RedisOnlineStore
from conveyor.features._online_sqlite import SqliteOnlineStore

VIEW = "user_stats"
FEATURES = [f"f{i}" for i in range(10)]
BATCH = 10_000
REDIS_URL = "redis://127.0.0.1:6379/13"


def _keys() -> int:
    return max(int(100_000 * scale()), 1_000)


def _lookups() -> int:
    return max(int(5_000 * scale()), 200)


def _rows(n: int) -> list[OnlineRow]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for k in range(n):
        values: dict[str, Any] = {f"f{i}": k * i for i in range(4)}
        values.update({f"f{i}": k / (i + 1) for i in range(4, 9)})
        values["f9"] = f"segment-{k % 17}"
        rows.append(OnlineRow((k,), values, t0 + timedelta(seconds=k)))
    return rows


def _percentiles(
    call: Callable[[list[tuple[int]]], object], batches: list[list[tuple[int]]]
) -> tuple[float, float]:
    for keys in batches[:50]:  # warm connections, caches and the script
        call(keys)
    times = []
    for keys in batches:
        start = time.perf_counter_ns()
        call(keys)
        times.append((time.perf_counter_ns() - start) / 1e6)
    cuts = statistics.quantiles(times, n=100)
    return cuts[49], cuts[98]


def _materialize(store: OnlineStore, rows: list[OnlineRow]) -> float:
    start = time.perf_counter()
    for lo in range(0, len(rows), BATCH):
        store.write_batch(VIEW, rows[lo : lo + BATCH])
    return len(rows) / (time.perf_counter() - start)


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1.0).close()
    except OSError:
        return False
    return True


def _bench_sqlite(
    work: Path, rows: list[OnlineRow], batches: dict[int, list[list[tuple[int]]]]
) -> dict[str, Any]:
    path = work / "online.db"
    out: dict[str, Any] = {}
    with SqliteOnlineStore(path) as store:
        out["write"] = _materialize(store, rows)
        raw = sqlite3.connect(path)

        def baseline(keys: list[tuple[int]]) -> object:
            params = [f"[{k[0]}]" for k in keys]
            sql = (
                "SELECT key, value, event_ts FROM online_features "
                f"WHERE view = ? AND key IN ({','.join('?' * len(params))})"
            )
            return raw.execute(sql, (VIEW, *params)).fetchall()

        for size, lookups in batches.items():
            out[size] = (
                _percentiles(lambda keys: store.read(VIEW, keys), lookups),
                _percentiles(baseline, lookups),
            )
        raw.close()
    return out


def _bench_redis(
    rows: list[OnlineRow], batches: dict[int, list[list[tuple[int]]]]
) -> dict[str, Any]:
    import redis

    out: dict[str, Any] = {}
    store = RedisOnlineStore(REDIS_URL, namespace=f"bench-{uuid.uuid4().hex}")
    raw = redis.Redis.from_url(REDIS_URL)
    fields = ["@v", "@ts"]  # the row's values (one JSON object) and its event time
    try:
        out["write"] = _materialize(store, rows)

        for size, lookups in batches.items():
            # The baseline's key names are computed outside the timed call, like a caller
            # that already holds them.
            names = {tuple(k): store._row_name(VIEW, f"[{k[0]}]") for b in lookups for k in b}

            def timed_baseline(keys: list[tuple[int]], names: dict[Any, bytes] = names) -> object:
                pipe = raw.pipeline(transaction=False)
                for key in keys:
                    pipe.hmget(names[key], fields)
                return pipe.execute()

            out[size] = (
                _percentiles(lambda keys: store.read(VIEW, keys), lookups),
                _percentiles(timed_baseline, lookups),
            )
    finally:
        store.delete_view(VIEW)
        store.close()
        raw.close()
    return out


def main() -> None:
    console = Console()
    n, lookups = _keys(), _lookups()
    rows = _rows(n)
    rng = random.Random(0)
    batches = {
        size: [[(rng.randrange(n),) for _ in range(size)] for _ in range(lookups)]
        for size in (1, 100)
    }
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = _bench_sqlite(Path(tmp), rows, batches)
    if _redis_up():
        results["Redis"] = _bench_redis(rows, batches)
    else:
        console.print("[yellow]Redis is not running on 127.0.0.1:6379: its rows are skipped.[/]")
    table = Table(
        title=f"Online feature lookups ({n:,} keys, {len(FEATURES)} features, "
        f"{lookups:,} lookups each)"
    )
    for column in ("store", "keys", "p50 ms", "p99 ms", "raw p50 ms", "raw p99 ms", "p50 ratio"):
        table.add_column(column, justify="left" if column == "store" else "right")
    for name, figures in results.items():
        for size in batches:
            (p50, p99), (raw50, raw99) = figures[size]
            table.add_row(
                name,
                str(size),
                f"{p50:.3f}",
                f"{p99:.3f}",
                f"{raw50:.3f}",
                f"{raw99:.3f}",
                f"{p50 / raw50:.1f}x",
            )
    console.print(table)
    writes = Table(title="Online materialization (write_batch of 10,000 rows)")
    writes.add_column("store")
    writes.add_column("rows/s", justify="right")
    for name, figures in results.items():
        writes.add_row(name, f"{figures['write']:,.0f}")
    console.print(writes)


if __name__ == "__main__":
    main()
