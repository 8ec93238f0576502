"""Volume: the everyday operations on a workspace with a long history, and how they grow.

Builds a workspace on SQLite and on PostgreSQL (``CONVEYOR_BENCH_PG``, default the
``postgres`` server on 127.0.0.1:5432; skipped when it does not answer) at three sizes in
10x steps: runs with 10 metrics each, model versions spread over 10 models (each version
moves the ``champion`` alias) and logged predictions at a fixed 100,000 a day. The bulk is
written with SQLAlchemy Core multi-row inserts into the real tables (runs, metrics,
versions, alias events, artifact references, the prediction-batch index) and real Parquet
objects in the artifact store; one model version is registered through the public API and
the others copy its row. Then each operation is timed through the public API or the CLI
(called in this process, output discarded):

- ``runs list``: the CLI's 50 newest top-level runs with their metrics (read for the
  whole page at once, ``run_tree_metrics_many``);
- ``runs list --where 'accuracy>0.9'``: the CLI, and the API (``ws.runs.search`` with a
  :class:`~conveyor.tracking.MetricFilter`, then the page's metrics), the filter done in
  SQL on the value last logged by each run or its steps;
- a page's metrics: the 50 newest runs' tree metrics one run at a time
  (``run_tree_metrics``, what ``runs list`` did before) against the batched read;
- runs by metric: the 50 runs with the best ``accuracy`` (``search_runs``, what the web
  UI's runs page asks);
- ``models list`` (CLI), a model's history (``ModelRegistry.history``), a deploy
  (``Controller.deploy``, replace strategy);
- a monitoring window of one day (``PredictionLog.read`` of the last day);
- ``conveyor gc`` (``Workspace.gc``: the referenced set against every stored object).

Each figure is the best of three calls (one for gc and deploy), in milliseconds; the table
prints the growth factor of each 10x step. ``CONVEYOR_BENCH_SCALE`` (default 1) multiplies
every size, e.g. ``0.1`` for a quick look.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import scale as bench_scale

#: (runs, model versions, logged predictions) per size.
SIZES = ((1_000, 10, 100_000), (10_000, 100, 1_000_000), (100_000, 1_000, 10_000_000))
MODELS = 10
METRICS = 10
PREDICTIONS_PER_DAY = 100_000
#: The metric filter timed (about one run in ten passes it).
WHERE = "accuracy>0.9"
BATCH_ROWS = 5_000
_CHUNK = 5_000
NOW = datetime(2026, 12, 1, tzinfo=UTC)

CONFIG = """\
project: {{name: volume}}
environments:
  production: {{strategy: replace}}
predictions: {{retention: 30d}}
store:
  metadata_url: {url}
"""


@dataclass(frozen=True)
class Volume:
    """What a built workspace holds."""

    runs: int
    versions: int
    predictions: int

    @property
    def days(self) -> int:
        """Days the prediction log spans (at least one)."""
        return max(1, -(-self.predictions // PREDICTIONS_PER_DAY))


def build_volume(root: Path, metadata_url: str, volume: Volume) -> None:
    """Create a project at ``root`` on ``metadata_url`` holding ``volume``.

    Args:
        root: An empty folder for the project.
        metadata_url: The metadata store (an empty SQLite file or PostgreSQL database).
        volume: How many runs, versions and predictions to write.
    """
    from conveyor.workspace import Workspace

    root.mkdir(parents=True, exist_ok=True)
    (root / "conveyor.yaml").write_text(CONFIG.format(url=metadata_url), encoding="utf-8")
    with Workspace.open(root, actor="bench", env={}, search_parents=False) as ws:
        template = _register_template(ws)
        run_ids = _bulk_runs(ws, volume.runs)
        _bulk_versions(ws, template, volume.versions, run_ids)
        _bulk_predictions(ws, volume)


def _register_template(ws: Any) -> int:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.uniform(18, 80, 60), "spend": rng.uniform(0, 100, 60)})
    model = LogisticRegression().fit(frame, (frame["spend"] > 50).astype(int))
    version = ws.models.register(
        "model_00", model, input_example=frame.head(3), explain=False, onnx=False
    )
    with ws.store.read() as session:
        from sqlalchemy import select

        from conveyor.store._registry_models import ModelRow, ModelVersionRow

        found = session.scalar(
            select(ModelVersionRow.id)
            .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
            .where(ModelRow.name == "model_00", ModelVersionRow.version == version.version)
        )
    return int(found)


def _insert(ws: Any, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    with ws.store.engine.begin() as conn:
        for lo in range(0, len(rows), _CHUNK):
            conn.execute(insert(table), list(rows[lo : lo + _CHUNK]))


def _bulk_runs(ws: Any, count: int) -> list[str]:
    from conveyor.store._models import ArtifactRefRow
    from conveyor.store._tracking_models import RunMetricRow, RunRow

    ids = [uuid.uuid4().hex for _ in range(count)]
    start = NOW - timedelta(days=365)
    step = timedelta(days=365) / max(count, 1)
    runs: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    for i, run_id in enumerate(ids):
        at = start + step * i
        runs.append(
            {
                "id": run_id,
                "name": f"train-{i % 100}",
                "kind": "pipeline",
                "parent_id": None,
                "status": "completed" if i % 20 else "failed",
                "pipeline_ref": "pipelines:training",
                "params": {"C": 0.1 * (i % 50), "max_iter": 100 + i % 7},
                "tags": {},
                "code_version": None,
                "environment": None,
                "executor": "local",
                "cache_key": None,
                "cached_from": None,
                "error": None,
                "started_at": at,
                "ended_at": at + timedelta(seconds=30),
                "heartbeat_at": None,
                "host": "bench",
                "pid": 1,
                "wall_s": 30.0,
                "cpu_s": 28.0,
                "created_by": "bench",
                "peak_rss_mb": 200.0,
            }
        )
        for k in range(METRICS):
            key = "accuracy" if k == 0 else f"metric_{k}"
            value = ((i * 7919 + k * 104729) % 10_000) / 10_000
            metrics.append({"run_id": run_id, "key": key, "value": value, "step": None, "at": at})
    _insert(ws, RunRow.__table__, runs)
    _insert(ws, RunMetricRow.__table__, metrics)
    refs = [{"hash": f"{i % 1000:064x}", "owner": f"run:{run_id}"} for i, run_id in enumerate(ids)]
    _insert(ws, ArtifactRefRow.__table__, refs)
    return ids


def _bulk_versions(ws: Any, template_id: int, count: int, run_ids: list[str]) -> None:
    from sqlalchemy import select

    from conveyor.store._models import ArtifactRefRow
    from conveyor.store._registry_models import (
        ModelAliasEventRow,
        ModelAliasRow,
        ModelRow,
        ModelVersionRow,
    )

    with ws.store.engine.connect() as conn:
        template = dict(
            conn.execute(select(ModelVersionRow.__table__).where(ModelVersionRow.id == template_id))
            .one()
            ._mapping
        )
    template.pop("id")
    first_model = template["model_id"]
    models = [
        {"name": f"model_{m:02d}", "description": None, "created_at": NOW, "created_by": "bench"}
        for m in range(1, MODELS)
    ]
    _insert(ws, ModelRow.__table__, models)
    with ws.store.engine.connect() as conn:
        model_ids = dict(conn.execute(select(ModelRow.name, ModelRow.id)).all())
    versions: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    latest: dict[int, int] = {}
    per_model = max(1, count // MODELS)
    start = NOW - timedelta(days=365)
    for m in range(MODELS):
        model_id = model_ids[f"model_{m:02d}"]
        first = 2 if model_id == first_model else 1
        for number in range(first, per_model + 1):
            at = start + timedelta(minutes=number + m)
            versions.append(
                template
                | {
                    "model_id": model_id,
                    "version": number,
                    "run_id": run_ids[(m * per_model + number) % len(run_ids)],
                    "metrics": {"accuracy": number / (per_model + 1)},
                    "created_at": at,
                }
            )
            events.append(
                {
                    "model_id": model_id,
                    "alias": "champion",
                    "from_version": latest.get(model_id),
                    "to_version": number,
                    "at": at,
                    "actor": "bench",
                    "reason": None,
                }
            )
            latest[model_id] = number
    _insert(ws, ModelVersionRow.__table__, versions)
    _insert(ws, ModelAliasEventRow.__table__, events)
    aliases = [
        {"model_id": model_id, "alias": "champion", "version": number}
        for model_id, number in latest.items()
    ]
    _insert(ws, ModelAliasRow.__table__, aliases)
    refs = [
        {"hash": template["content_hash"], "owner": f"model:model_{m:02d}@{n}"}
        for m in range(MODELS)
        for n in range(1, per_model + 1)
        if not (m == 0 and n == 1)
    ]
    _insert(ws, ArtifactRefRow.__table__, refs)


def _bulk_predictions(ws: Any, volume: Volume) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from conveyor.predictions import PredictionRecord
    from conveyor.store._models import ArtifactRefRow
    from conveyor.store._prediction_models import PredictionBatchRow

    start = NOW - timedelta(days=volume.days)
    rows = min(BATCH_ROWS, volume.predictions)
    rng = np.random.default_rng(1)
    records = [
        PredictionRecord(
            f"t{i}",
            start,
            "model_00",
            1,
            {"age": float(rng.uniform(18, 80)), "spend": float(rng.uniform(0, 100))},
            int(i % 2),
            1.0,
            environment="production",
        )
        for i in range(rows)
    ]
    # One real batch through the public logger: the layout every other batch copies.
    info = ws.predictions.write(records)
    template = pq.read_table(
        pa.BufferReader(ws.artifacts.get_bytes(info.partitions[0].content_hash))
    )
    batches = volume.predictions // rows
    spacing = timedelta(days=volume.days) / (batches * rows)
    base = np.datetime64(start.replace(tzinfo=None), "us")
    gap = np.timedelta64(int(spacing / timedelta(microseconds=1)), "us")
    index_rows: list[dict[str, Any]] = []
    hashes: list[str] = []
    for b in range(1, batches):
        offsets = np.arange(b * rows, (b + 1) * rows)
        at = pa.array(base + gap * offsets, pa.timestamp("us", tz="UTC"))
        ids = pa.array([f"r{b}-{i}" for i in range(rows)], pa.string())
        table = template.set_column(template.schema.get_field_index("at"), "at", at)
        table = table.set_column(table.schema.get_field_index("request_id"), "request_id", ids)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        digest = ws.artifacts.put_bytes(sink.getvalue().to_pybytes()).hash
        first = start + spacing * int(offsets[0])
        last = start + spacing * int(offsets[-1])
        index_rows.append(
            {
                "model": "model_00",
                "version": 1,
                "environment": "production",
                "variant": None,
                "revision": None,
                "first_at": first,
                "last_at": last,
                "rows": rows,
                "content_hash": digest,
                "created_at": last,
            }
        )
        hashes.append(digest)
    _insert(ws, PredictionBatchRow.__table__, index_rows)
    with ws.store.engine.connect() as conn:
        from sqlalchemy import select

        ids_by_hash = dict(
            conn.execute(select(PredictionBatchRow.content_hash, PredictionBatchRow.id)).all()
        )
    refs = [{"hash": h, "owner": f"prediction_batch:{ids_by_hash[h]}"} for h in hashes]
    _insert(ws, ArtifactRefRow.__table__, refs)


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _cli(root: Path, *args: str) -> None:
    from conveyor.cli import main

    with _cwd(root), contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(list(args))
    if code != 0:
        raise RuntimeError(f"conveyor {' '.join(args)} exited {code}: {out.getvalue()[-500:]}")


def _best_ms(call: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def time_operations(root: Path, volume: Volume, *, repeat: int = 3) -> dict[str, float]:
    """Time each everyday operation on the project at ``root`` (milliseconds).

    Args:
        root: A project built by :func:`build_volume`.
        volume: What it holds.
        repeat: Calls per operation (the best is kept; deploy and gc run once).

    Returns:
        ``{operation: milliseconds}``.
    """
    from conveyor.rollout import Controller
    from conveyor.workspace import Workspace

    timings: dict[str, float] = {}
    env = {"CONVEYOR_ACTOR": "bench"}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        timings["runs list (CLI)"] = _best_ms(lambda: _cli(root, "runs", "list"), repeat)
        timings[f"runs list --where '{WHERE}' (CLI)"] = _best_ms(
            lambda: _cli(root, "runs", "list", "--where", WHERE), repeat
        )
        timings["models list (CLI)"] = _best_ms(lambda: _cli(root, "models", "list"), repeat)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    with Workspace.open(root, actor="bench", env={}, search_parents=False) as ws:
        from conveyor.tracking import parse_metric_filter

        records = ws.runs.records
        where = [parse_metric_filter(WHERE)]

        def filtered() -> None:
            page = ws.runs.search(where=where, top_level=True, limit=50)
            ws.runs.run_tree_metrics_many(page.runs)

        timings[f"runs --where '{WHERE}', page of 50 (API)"] = _best_ms(filtered, repeat)
        newest = ws.runs.list(top_level=True, limit=50)
        timings["page metrics, per run (50 runs)"] = _best_ms(
            lambda: [ws.runs.run_tree_metrics(run.id) for run in newest], repeat
        )
        timings["page metrics, batched (50 runs)"] = _best_ms(
            lambda: ws.runs.run_tree_metrics_many(newest), repeat
        )
        timings["runs by metric (top 50)"] = _best_ms(
            lambda: records.search_runs(sort="metric:accuracy", limit=50), repeat
        )
        timings["model history"] = _best_ms(lambda: ws.models.history("model_01"), repeat)
        controller = Controller(ws)
        latest = max(1, volume.versions // MODELS)
        timings["deploy"] = _best_ms(
            lambda: controller.deploy(f"model_01@{latest}", "production"), 1
        )
        until = NOW
        since = until - timedelta(days=1)
        frames: list[int] = []

        def window() -> None:
            frames.append(len(ws.predictions.read(model="model_00", since=since, until=until)))

        timings["prediction window, 1 day"] = _best_ms(window, repeat)
        if not frames[-1]:
            raise RuntimeError("the one-day window read no predictions")
        timings["gc"] = _best_ms(ws.gc, 1)
    return timings


def _pg_admin() -> str | None:
    dsn = os.environ.get(
        "CONVEYOR_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    )
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1.0):
            pass
    except OSError:
        return None
    return dsn


@contextlib.contextmanager
def _database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'meta.db'}"
        return
    import psycopg

    admin = _pg_admin()
    assert admin is not None
    name = f"conveyor_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _short(n: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % size == 0:
            return f"{n // size}{suffix}"
    return f"{n:,}"


def volumes(scale: float) -> list[Volume]:
    """The three sizes, each multiplied by ``scale``."""
    return [
        Volume(
            max(10, int(r * scale)), max(MODELS, int(v * scale)), max(BATCH_ROWS, int(p * scale))
        )
        for r, v, p in SIZES
    ]


def main() -> None:
    console = Console()
    scale = bench_scale()
    backends = ["sqlite"] + (["postgresql"] if _pg_admin() is not None else [])
    load = os.getloadavg()
    results: dict[str, list[tuple[Volume, float, dict[str, float]]]] = {}
    for backend in backends:
        for volume in volumes(scale):
            with (
                tempfile.TemporaryDirectory(prefix="conveyor-bench-volume-") as tmp,
                _database(backend, Path(tmp)) as url,
            ):
                start = time.perf_counter()
                build_volume(Path(tmp) / "project", url, volume)
                built = time.perf_counter() - start
                timings = time_operations(Path(tmp) / "project", volume)
            results.setdefault(backend, []).append((volume, built, timings))
            console.print(
                f"{backend}: {volume.runs:,} runs, {volume.versions:,} versions, "
                f"{volume.predictions:,} predictions built in {built:.1f} s"
            )
    for backend, rows in results.items():
        sizes = [v for v, _, _ in rows]
        table = Table(title=f"Volume on {backend}: milliseconds per operation (load {load[0]:.2f})")
        table.add_column("operation")
        for i, v in enumerate(sizes):
            table.add_column(
                f"{_short(v.runs)} runs\n{_short(v.versions)} versions\n"
                f"{_short(v.predictions)} predictions",
                justify="right",
            )
            if i:
                table.add_column("x per 10x", justify="right")
        for op in rows[0][2]:
            cells: list[str] = []
            for i, (_, _, timings) in enumerate(rows):
                cells.append(f"{timings[op]:,.1f}")
                if i:
                    cells.append(f"{timings[op] / rows[i - 1][2][op]:.1f}x")
            table.add_row(op, *cells)
        table.add_row(
            "(build)",
            *[
                c
                for i, (_, b, _) in enumerate(rows)
                for c in ([f"{b * 1000:,.0f}"] + (["-"] if i else []))
            ],
        )
        console.print(table)
    console.print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start")


if __name__ == "__main__":
    main()
