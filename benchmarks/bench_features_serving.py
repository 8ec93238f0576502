"""End-to-end predict latency of a model served with online features vs sent full rows.

One scikit-learn pipeline (a one-hot encoder for the string feature ``segment``, a scaler
for the numbers, a logistic regression) on 10 features: 6 come from a feature view of
users (``segment``, ``purchases``, ``days_active``, ``spend``, ``avg_basket``,
``return_rate``; three snapshots per user, generated, the latest materialized), 4 are
known at request time (``hour``, ``price``, ``discount``, ``pages_viewed``). The model is
trained point-in-time (``ws.features.historical``) and registered twice in one project:
version 1 tagged ``conveyor.feature_service: shopper@1``, version 2 the same model without
the tag. Three servers run at once, each in its own process on 127.0.0.1 with one uvicorn
worker (as in ``bench_serving``), prediction logging off so that only the request path is
timed:

- SQLite: version 1 with the default online store (``.conveyor/online.db``);
- Redis: version 1 with ``CONVEYOR_ONLINE_URL=redis://127.0.0.1:6379/13`` (the project's
  own key namespace, removed afterwards; skipped when Redis is not running);
- full rows (the baseline): version 2, the client sending all 10 features.

Requests go to ``/invocations`` (``dataframe_split``) at concurrency 1, with 1 and 100 rows
each: the feature-service servers get the user ids and the request-time features, the
baseline the same rows with the values the online store holds, so every server predicts the
same (the ``agree`` column). The servers take requests in turn, one each, the first of
them rotating, and they and the client run on one core (where the system lets a process
choose), so that whatever else a busy machine does weighs on all alike; each request size
runs in 20 rounds, half of them on a second set of server processes started afresh (a
process can be a few percent faster than its twin). The p50 ratio is the median over
rounds of a server's p50 divided by the baseline's p50 in the same round; the p99 ratio
compares the p99s over all requests.
``lookup ms`` is the server's own mean time in the online store per request
(``conveyor_feature_lookup_seconds``).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmarks import scale
from benchmarks._servers import free_port as _port
from benchmarks._servers import start as _start
from benchmarks._servers import stop as _stop
from benchmarks.bench_serving import _Connection, _request

SERVICE = "shopper"
MODEL = "shopper_model"
STORED = ["segment", "purchases", "days_active", "spend", "avg_basket", "return_rate"]
REQUEST = ["hour", "price", "discount", "pages_viewed"]
COLUMNS = STORED + REQUEST
KINDS = {"segment": "str", "purchases": "int64", "days_active": "int64"}
REDIS_URL = "redis://127.0.0.1:6379/13"
ROUNDS = 20
GENERATIONS = 2  # fresh server processes, each for half the rounds
BODIES = 64  # distinct request bodies per size, cycled: different users each request
T0 = datetime(2026, 1, 1, tzinfo=UTC)

FEATURES_PY = """
from conveyor.features import Entity, FeatureService, FeatureView

user = Entity("user", join_keys=["user_id"])

user_stats = FeatureView(
    "user_stats",
    entities=[user],
    source="shoppers@latest",
    schema={
        "segment": "string",
        "purchases": "int64",
        "days_active": "int64",
        "spend": "float64",
        "avg_basket": "float64",
        "return_rate": "float64",
    },
)
shopper = FeatureService("shopper", [user_stats])
"""

_SERVER = r"""
import os, sys
from pathlib import Path
from conveyor.serving import ServingSettings
from conveyor.serving._launch import serve
root, ref, port, online, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
if cpu != "-":
    os.sched_setaffinity(0, {int(cpu)})
os.environ.pop("CONVEYOR_ONLINE_URL", None)
if online != "-":
    os.environ["CONVEYOR_ONLINE_URL"] = online
settings = ServingSettings(log_predictions=False, prepare_explainers=False)
serve(Path(root), ref, port=port, settings=settings)
"""


def _users() -> int:
    return max(int(20_000 * scale()), 500)


def _per_round() -> int:
    """Requests per server and request size in one round (2,000 in all at scale 1)."""
    return max(int(2000 * scale()) // ROUNDS, 5)


@dataclass
class _Server:
    """One running configuration and what it measured."""

    label: str
    version: int
    online: str
    bodies: dict[int, list[bytes]]
    url: str = ""
    times: dict[int, list[float]] = field(default_factory=dict)
    round_p50: dict[int, list[float]] = field(default_factory=dict)
    lookups: dict[int, list[float]] = field(default_factory=dict)  # [seconds, count]
    answers: dict[int, list[list[Any]]] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)

    @property
    def baseline(self) -> bool:
        return self.version == 2


def _snapshots(users: int) -> pd.DataFrame:
    """Three snapshots per user, 30 days apart, values drifting between them."""
    rng = np.random.default_rng(0)
    ids = np.tile(np.arange(users), 3)
    step = np.repeat(np.arange(3), users)
    base_spend = np.tile(rng.gamma(2.0, 150.0, users), 3)
    return pd.DataFrame(
        {
            "user_id": ids,
            "event_timestamp": [T0 + timedelta(days=30 * int(s)) for s in step],
            "segment": np.tile(rng.choice(["new", "casual", "loyal", "vip", "lapsed"], users), 3),
            "purchases": rng.poisson(4 + 3 * step),
            "days_active": rng.integers(1, 365, users * 3),
            "spend": (base_spend * (1 + 0.2 * step)).round(2),
            "avg_basket": rng.gamma(3.0, 15.0, users * 3).round(2),
            "return_rate": rng.beta(1.0, 12.0, users * 3).round(4),
        }
    )


def _request_features(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "hour": rng.integers(0, 24, n).astype("float64"),
        "price": rng.gamma(2.0, 20.0, n).round(2),
        "discount": rng.choice([0.0, 0.05, 0.1, 0.2], n),
        "pages_viewed": rng.poisson(5, n).astype("float64"),
    }


def _pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encode = ColumnTransformer(
        [
            ("segment", OneHotEncoder(handle_unknown="ignore"), ["segment"]),
            ("numbers", StandardScaler(), COLUMNS[1:]),
        ]
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=500))])


def _project(root: Path) -> None:
    """The dataset, its features applied and materialized (SQLite), two model versions."""
    from conveyor.features import SERVICE_TAG
    from conveyor.workspace import Workspace

    name = f"bench-fs-{uuid.uuid4().hex[:8]}"
    (root / "conveyor.yaml").write_text(f"project: {{name: {name}}}\n", encoding="utf-8")
    (root / "features.py").write_text(FEATURES_PY, encoding="utf-8")
    users = _users()
    rng = np.random.default_rng(1)
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.datasets.add("shoppers", _snapshots(users))
        ws.features.apply()
        ws.features.materialize()
        n = min(users * 2, 20_000)
        seconds = rng.integers(0, 90 * 86_400, n)
        entities = pd.DataFrame(
            {
                "user_id": rng.integers(0, users, n),
                "event_timestamp": [T0 + timedelta(seconds=int(s)) for s in seconds],
                **_request_features(rng, n),
            }
        )
        training = ws.features.historical(entities, SERVICE)[COLUMNS].dropna()
        training = training.astype({c: KINDS.get(c, "float64") for c in COLUMNS})
        score = (
            training["spend"] / 300.0
            - 8 * training["return_rate"]
            + training["discount"] * 5
            - training["price"] / 40.0
            + training["segment"].isin(["loyal", "vip"]) * 1.5
        )
        label = (score + rng.normal(0, 0.5, len(training)) > 0.5).astype(int)
        model = _pipeline().fit(training, label)
        example = training.head(50)
        for tags in ({SERVICE_TAG: f"{SERVICE}@1"}, {}):
            ws.models.register(
                MODEL, model, input_example=example, tags=tags, onnx=False, explain=False
            )


def _redis(root: Path, *, drop: bool = False) -> None:
    """Materialize the project's features into Redis, or remove them from it."""
    from conveyor.workspace import Workspace

    with Workspace.open(root, env={"CONVEYOR_ONLINE_URL": REDIS_URL}, search_parents=False) as ws:
        if drop:
            ws.features.online_store.delete_view("user_stats")
        else:
            ws.features.materialize()


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _bodies(root: Path, sizes: tuple[int, ...]) -> tuple[dict[int, list[bytes]], ...]:
    """Request bodies per size: entity keys for the feature servers, full rows otherwise."""
    from conveyor.workspace import Workspace

    rng = np.random.default_rng(2)
    keyed: dict[int, list[bytes]] = {}
    full: dict[int, list[bytes]] = {}
    with Workspace.open(root, env={}, search_parents=False) as ws:
        for size in sizes:
            keyed[size], full[size] = [], []
            for _ in range(BODIES):
                ids = [int(i) for i in rng.integers(0, _users(), size)]
                asked = _request_features(rng, size)
                now = [[_plain(asked[c][i]) for c in REQUEST] for i in range(size)]
                stored = ws.features.online([{"user_id": i} for i in ids], SERVICE)
                keyed[size].append(
                    _split(["user_id", *REQUEST], [[k, *r] for k, r in zip(ids, now, strict=True)])
                )
                rows = [
                    [_plain(s[c]) for c in STORED] + r for s, r in zip(stored, now, strict=True)
                ]
                full[size].append(_split(COLUMNS, rows))
    return keyed, full


def _split(columns: list[str], data: list[list[Any]]) -> bytes:
    return json.dumps({"dataframe_split": {"columns": columns, "data": data}}).encode()


def _lookup_seconds(url: str) -> tuple[float, float]:
    """``(sum, count)`` of the server's feature lookup histogram so far."""
    total = count = 0.0
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("conveyor_feature_lookup_seconds_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("conveyor_feature_lookup_seconds_count"):
            count += float(line.rsplit(" ", 1)[1])
    return total, count


async def _answers(url: str, body: bytes) -> list[Any]:
    """The predictions one body gets (read with httpx: answers are compared, not timed)."""
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(f"{url}/invocations", content=body,
                                   headers={"content-type": "application/json"})  # fmt: skip
    predictions: list[Any] = answer.json().get("predictions", [answer.status_code])
    return predictions


async def _run(servers: list[_Server], sizes: tuple[int, ...], rounds: int) -> None:
    """Send ``rounds`` rounds of each request size to the running ``servers``."""
    per_round = _per_round()
    connections: dict[str, tuple[_Connection, list[bytes]]] = {}
    for server in servers:
        host, port, _ = _request(f"{server.url}/invocations", b"")
        connections[server.label] = (await _Connection.open(host, port), [])
    try:
        for size in sizes:
            for server in servers:
                conn = connections[server.label][0]
                requests = [
                    _request(f"{server.url}/invocations", b)[2] for b in server.bodies[size]
                ]
                connections[server.label] = (conn, requests)
                for request in requests[:20]:  # warm-up: caches, store connections
                    await conn.send(request)
                if size not in server.answers:
                    server.answers[size] = [
                        await _answers(server.url, body) for body in server.bodies[size][:4]
                    ]
            before = {s.label: _lookup_seconds(s.url) for s in servers}
            for turn in range(rounds):
                times: dict[str, list[float]] = {s.label: [] for s in servers}
                for i in range(per_round):
                    # Request by request in turn, the first server rotating: whatever else
                    # the machine does falls on every server alike.
                    shift = (turn * per_round + i) % len(servers)
                    for server in servers[shift:] + servers[:shift]:
                        conn, requests = connections[server.label]
                        request = requests[(turn * per_round + i) % len(requests)]
                        start = time.perf_counter()
                        failed = await conn.send(request) != 200
                        times[server.label].append((time.perf_counter() - start) * 1000)
                        server.errors[size] = server.errors.get(size, 0) + failed
                for server in servers:
                    server.times.setdefault(size, []).extend(times[server.label])
                    p50 = statistics.median(times[server.label])
                    server.round_p50.setdefault(size, []).append(p50)
            for server in servers:
                total, count = _lookup_seconds(server.url)
                spent = server.lookups.setdefault(size, [0.0, 0.0])
                spent[0] += total - before[server.label][0]
                spent[1] += count - before[server.label][1]
    finally:
        for conn, _ in connections.values():
            conn.close()


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1.0).close()
    except OSError:
        return False
    return True


def _p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(int(len(ordered) * 0.99) - 1, 0)]


def _cpu() -> str:
    """The core every server and the client run on, or ``-`` where that cannot be set.

    One core for all: at concurrency 1 they take turns anyway, and each then meets the same
    competition from whatever else runs on the machine.
    """
    if not hasattr(os, "sched_setaffinity"):
        return "-"
    return str(max(os.sched_getaffinity(0)))


def _measure(root: Path, servers: list[_Server], sizes: tuple[int, ...], console: Console) -> None:
    """Run ``GENERATIONS`` sets of server processes in turn, each for its share of rounds."""
    here = Path(__file__).resolve().parent.parent
    cpu = _cpu()
    for generation in range(GENERATIONS):
        running: list[_Server] = []
        procs: list[subprocess.Popen[bytes]] = []
        try:
            shift = generation % len(servers)
            for server in servers[shift:] + servers[:shift]:  # start order rotates too
                port = _port()
                argv = [sys.executable, "-c", _SERVER, str(root), f"{MODEL}@{server.version}",
                        str(port), server.online, cpu]  # fmt: skip
                proc = _start(argv, f"http://127.0.0.1:{port}/v2/health/ready", cwd=here)
                if proc is None:
                    console.print(f"[red]{server.label}: the server did not start; skipped[/]")
                    continue
                procs.append(proc)
                server.url = f"http://127.0.0.1:{port}"
                running.append(server)
            running.sort(key=servers.index)
            if running:
                asyncio.run(_run(running, sizes, ROUNDS // GENERATIONS))
        finally:
            for proc in procs:
                _stop(proc)


def main() -> None:
    """Build the project, start the three servers, measure them in turn, print the table."""
    console = Console(width=160)
    sizes = (1, 100)
    redis = _redis_up()
    if not redis:
        console.print("[yellow]Redis is not running on 127.0.0.1:6379: its rows are skipped.[/]")
    servers: list[_Server] = []
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-fserving-") as tmp:
        root = Path(tmp)
        _project(root)
        try:
            if redis:
                _redis(root)
            keyed, full = _bodies(root, sizes)
            servers.append(_Server("SQLite online store", 1, "-", keyed))
            if redis:
                servers.append(_Server("Redis online store", 1, REDIS_URL, keyed))
            servers.append(_Server("full rows (baseline)", 2, "-", full))
            if affinity is not None:
                os.sched_setaffinity(0, {int(_cpu())})
            _measure(root, servers, sizes, console)
        finally:
            if affinity is not None:
                os.sched_setaffinity(0, affinity)
            if redis:
                _redis(root, drop=True)
    _print(console, servers, sizes)


def _print(console: Console, servers: list[_Server], sizes: tuple[int, ...]) -> None:
    table = Table(
        title="Predict with online features vs full rows (/invocations, one worker)",
        caption=f"{_users():,} users; {len(STORED)} of {len(COLUMNS)} features looked up; "
        f"{_per_round() * ROUNDS:,} requests per cell in {ROUNDS} rounds over {GENERATIONS} "
        "sets of server processes; "
        "x base: median over rounds of p50 / baseline p50, and p99 / baseline p99",
    )
    for column in ("server", "rows", "p50 ms", "p99 ms", "p50 x base", "p99 x base",
                   "lookup ms", "agree", "errors"):  # fmt: skip
        table.add_column(column, justify="left" if column == "server" else "right")
    base = next((s for s in servers if s.baseline), None)
    for size in sizes:
        for server in servers:
            times = server.times.get(size, [])
            if not times:
                continue
            ratio50 = ratio99 = agree = "-"
            if base is not None and base.times.get(size):
                pairs = zip(server.round_p50[size], base.round_p50[size], strict=True)
                ratio50 = f"{statistics.median(a / b for a, b in pairs):.2f}x"
                ratio99 = f"{_p99(times) / _p99(base.times[size]):.2f}x"
                agree = "yes" if server.answers[size] == base.answers[size] else "NO"
            spent, lookups = server.lookups.get(size, [0.0, 0.0])
            lookup = spent * 1000 / lookups if lookups else None
            table.add_row(
                server.label, str(size), f"{statistics.median(times):.2f}", f"{_p99(times):.2f}",
                ratio50, ratio99, "-" if lookup is None else f"{lookup:.2f}", agree,
                str(server.errors[size]),
            )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
