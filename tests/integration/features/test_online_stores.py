"""The online stores: the shipped contract on SQLite and on a real Redis, then what each
store does on its own (failures part-way, a killed writer, an unreachable server, URLs)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import ConfigError
from conveyor.features._errors import OnlineStoreUnavailableError
from conveyor.features._online import (
    OnlineRow,
    OnlineStore,
    OnlineValue,
    _key_json,
    open_online_store,
)
from conveyor.features._online_redis import RedisOnlineStore
from conveyor.features._online_sqlite import SqliteOnlineStore
from conveyor.testing.online import T0, OnlineStoreContract, row

REDIS_HOST = os.environ.get("CONVEYOR_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("CONVEYOR_TEST_REDIS_PORT", "6379"))
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/13"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def redis_url() -> str:
    """Redis db 13 on 127.0.0.1; skipped when absent unless CONVEYOR_REQUIRE_SERVICES=1."""
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1.0).close()
    except OSError:
        message = f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}"
        if os.environ.get("CONVEYOR_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message} and CONVEYOR_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)
    return REDIS_URL


def _drop_namespace(store: RedisOnlineStore) -> None:
    client = store._client
    pattern = b"conveyor:online:{" + store._namespace.encode() + b".*"
    names = list(client.scan_iter(match=pattern, count=1000))
    if names:
        client.delete(*names)


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisOnlineStore]:
    """A Redis store with a namespace of its own, whose keys are removed afterwards."""
    store = RedisOnlineStore(redis_url, namespace=f"test-{uuid.uuid4().hex}")
    try:
        yield store
    finally:
        _drop_namespace(store)
        store.close()


class TestSqliteOnlineStore(OnlineStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[OnlineStore]:
        with SqliteOnlineStore(tmp_path / "online" / "online.db") as store:
            yield store


@pytest.mark.services
class TestRedisOnlineStore(OnlineStoreContract):
    @pytest.fixture
    def store(self, redis_store: RedisOnlineStore) -> OnlineStore:
        return redis_store


# SQLite on its own ---------------------------------------------------------------------------


class _FailingHalfway(SqliteOnlineStore):
    """Writes half of a batch inside the transaction, then fails."""

    def _apply(self, conn: sqlite3.Connection, params: list[tuple[str, str, str, int]]) -> int:
        super()._apply(conn, params[: len(params) // 2])
        raise sqlite3.OperationalError("disk I/O error")


def _old_values(store: OnlineStore, n: int) -> None:
    store.write_batch("users", [row(k, {"v": "old"}) for k in range(n)])


def _values(store: OnlineStore, n: int) -> list[Any]:
    return [v.values["v"] if v else None for v in store.read("users", [(k,) for k in range(n)])]


def test_sqlite_batch_failing_part_way_keeps_the_old_values(tmp_path: Path) -> None:
    path = tmp_path / "online.db"
    with SqliteOnlineStore(path) as store:
        _old_values(store, 10)
    with _FailingHalfway(path) as failing:
        with pytest.raises(OnlineStoreUnavailableError, match=re.escape(str(path))) as err:
            failing.write_batch("users", [row(k, {"v": "new"}, 1) for k in range(10)])
        assert "disk I/O error" in str(err.value)
        assert err.value.hint
    with SqliteOnlineStore(path) as store:
        assert _values(store, 10) == ["old"] * 10
        assert store.write_batch("users", [row(0, {"v": "new"}, 1)]) == 1


def test_sqlite_writer_locked_out_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "online.db"
    with SqliteOnlineStore(path, busy_timeout=0.05) as store:
        _old_values(store, 3)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(OnlineStoreUnavailableError, match="locked") as err:
                store.write_batch("users", [row(k, {"v": "new"}, 1) for k in range(3)])
            assert str(path) in str(err.value)
            assert _values(store, 3) == ["old"] * 3  # readers are not blocked by the writer
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.write_batch("users", [row(k, {"v": "new"}, 1) for k in range(3)]) == 3


_KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import timedelta
    from pathlib import Path
    from conveyor.features._online_sqlite import SqliteOnlineStore
    from conveyor.testing.online import row

    class DiesHalfway(SqliteOnlineStore):
        def _apply(self, conn, params):
            super()._apply(conn, params[: len(params) // 2])
            sys.stdout.write("half written\\n")
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    store = DiesHalfway(Path(sys.argv[1]))
    store.write_batch("users", [row(k, {"v": "new", "pad": "x" * 200}, 1) for k in range(50_000)])
    """
)


@pytest.mark.slow
def test_sqlite_writer_killed_mid_batch_leaves_the_previous_values(tmp_path: Path) -> None:
    """A big batch (its pages spill into the WAL) killed before commit is not seen."""
    path = tmp_path / "online.db"
    with SqliteOnlineStore(path) as store:
        _old_values(store, 50_000)
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout == "half written\n"
    with SqliteOnlineStore(path) as store:
        assert set(_values(store, 50_000)) == {"old"}
        assert store.count("users") == 50_000
        assert store.write_batch("users", [row(0, {"v": "new"}, 1)]) == 1


def test_sqlite_values_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "online.db"
    with SqliteOnlineStore(path) as store:
        store.write_batch("users", [row(1, {"v": 1.5})])
    with SqliteOnlineStore(path) as store:
        assert store.read("users", [(1,)]) == [OnlineValue({"v": 1.5}, T0)]


def test_sqlite_file_that_is_not_a_database_is_unavailable_by_path(tmp_path: Path) -> None:
    path = tmp_path / "online.db"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(OnlineStoreUnavailableError, match=re.escape(str(path))) as err:
        SqliteOnlineStore(path)
    assert err.value.hint


def test_sqlite_folder_that_cannot_be_created_is_unavailable_by_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OnlineStoreUnavailableError, match=re.escape(str(blocker / "sub"))):
        SqliteOnlineStore(blocker / "sub" / "online.db")


# Redis on its own ----------------------------------------------------------------------------


@pytest.mark.services
def test_redis_script_refusing_a_batch_keeps_the_old_values(
    redis_store: RedisOnlineStore,
) -> None:
    """A key of the wrong type makes the script fail; it fails before its first write."""
    _old_values(redis_store, 3)
    blocked = redis_store._row_name("users", json.dumps([3]))
    redis_store._client.set(blocked, "not a hash")
    batch = [row(k, {"v": "new"}, 1) for k in range(4)]
    with pytest.raises(OnlineStoreUnavailableError, match="WRONGTYPE") as err:
        redis_store.write_batch("users", batch)
    assert f"{REDIS_HOST}:{REDIS_PORT}" in str(err.value)
    assert _values(redis_store, 3) == ["old"] * 3
    assert redis_store.count("users") == 3


@pytest.mark.services
def test_redis_namespaces_keep_projects_apart(redis_url: str) -> None:
    with (
        RedisOnlineStore(redis_url, namespace=f"a-{uuid.uuid4().hex}") as a,
        RedisOnlineStore(redis_url, namespace=f"b-{uuid.uuid4().hex}") as b,
    ):
        try:
            a.write_batch("users", [row(1, {"v": "a"})])
            b.write_batch("users", [row(1, {"v": "b"})])
            a.delete_view("users")
            assert a.read("users", [(1,)]) == [None]
            assert b.read("users", [(1,)]) == [OnlineValue({"v": "b"}, T0)]
        finally:
            _drop_namespace(a)
            _drop_namespace(b)


@pytest.mark.services
def test_redis_key_names_hold_hashes_not_user_text(redis_store: RedisOnlineStore) -> None:
    redis_store.write_batch("a'b*", [row(("x:y*",), {"v": 1})])
    pattern = b"conveyor:online:{" + redis_store._namespace.encode() + b".*"
    names = sorted(redis_store._client.scan_iter(match=pattern))
    assert len(names) == 2
    assert all(
        re.fullmatch(rb"conveyor:online:\{[0-9a-f]{32}\.[0-9a-f]{32}\}:[0-9a-f]{32}|.*:keys", n)
        for n in names
    )
    assert all(b"x:y" not in n and b"a'b" not in n for n in names)


@pytest.mark.services
def test_redis_store_id_has_no_password(redis_url: str) -> None:
    url = redis_url.replace("redis://", "redis://:hunter2@")
    store = RedisOnlineStore(url, namespace="proj")
    try:
        assert store.store_id == f"redis://{REDIS_HOST}:{REDIS_PORT}/13#proj"
    finally:
        store.close()


def test_redis_unreachable_is_unavailable_naming_the_address_without_the_password() -> None:
    port = _closed_port()
    store = open_online_store(
        f"redis://:hunter2@127.0.0.1:{port}/0", root=Path("."), namespace="proj"
    )
    calls = [
        store.ping,
        lambda: store.read("users", [(1,)]),
        lambda: store.write_batch("users", [row(1, {"v": 1})]),
        lambda: store.count("users"),
        lambda: store.sample_keys("users", 3),
        lambda: store.delete_view("users"),
    ]
    for call in calls:
        with pytest.raises(OnlineStoreUnavailableError, match=f"127.0.0.1:{port}") as err:
            call()
        assert "hunter2" not in str(err.value)
        assert err.value.hint is not None
        assert "Redis is running" in err.value.hint
        assert err.value.fields["address"] == f"127.0.0.1:{port}"
    store.close()


# open_online_store -----------------------------------------------------------------------------


def test_no_url_is_the_embedded_sqlite_file_of_the_project(tmp_path: Path) -> None:
    with open_online_store(None, root=tmp_path, namespace="p") as store:
        assert isinstance(store, SqliteOnlineStore)
        assert store.store_id == f"sqlite:{tmp_path / '.conveyor' / 'online.db'}"
    assert (tmp_path / ".conveyor" / "online.db").is_file()


def test_sqlite_urls_are_relative_to_the_project_unless_absolute(tmp_path: Path) -> None:
    with open_online_store("sqlite:///data/o.db", root=tmp_path, namespace="p") as store:
        assert store.store_id == f"sqlite:{tmp_path / 'data' / 'o.db'}"
    absolute = tmp_path / "abs" / "o.db"
    with open_online_store(f"sqlite:///{absolute}", root=Path("/nowhere"), namespace="p") as store:
        assert store.store_id == f"sqlite:{absolute}"


def test_redis_urls_open_a_redis_store(redis_url: str) -> None:
    with open_online_store(redis_url, root=Path("."), namespace="p") as store:
        assert isinstance(store, RedisOnlineStore)
        assert store.store_id == f"redis://{REDIS_HOST}:{REDIS_PORT}/13#p"
    with open_online_store("rediss://h.example:6380/2", root=Path("."), namespace="p") as store:
        assert store.store_id == "rediss://h.example:6380/2#p"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bob:s3cret@db/x",
        "http://bob:s3cret@cache:80/",
        "sqlite://",
        "sqlite:///",
        "sqlite:relative.db",
        "redis://",
        "redis://:s3cret@host:notaport/0",
        "redis://:s3cret@host:6379/notadb",
        "memory",
        "",
    ],
)
def test_bad_urls_are_refused_naming_the_url_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        open_online_store(url, root=Path("."), namespace="p")
    message = str(err.value)
    assert "s3cret" not in message
    assert "s3cret" not in repr(err.value.fields)
    assert re.sub(r":s3cret@", ":***@", url) in message
    assert err.value.hint is not None
    assert "sqlite:///path" in err.value.hint
    assert "redis://host:port/db" in err.value.hint


def test_rows_are_frozen_values() -> None:
    written = OnlineRow((1,), {"v": 1}, T0)
    with pytest.raises(AttributeError):
        written.key = (2,)  # type: ignore[misc]


# Keys ------------------------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.text(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)


@given(st.lists(_SCALARS, min_size=1, max_size=4).map(tuple))
def test_key_text_is_the_canonical_json_of_the_tuple(key: tuple[Any, ...]) -> None:
    text = _key_json("v", key)
    assert text == json.dumps(list(key), separators=(",", ":"))
    assert tuple(json.loads(text)) == key
    assert text.isascii()


@pytest.mark.services
def test_every_store_samples_the_same_keys_from_the_same_contents(
    tmp_path: Path, redis_store: RedisOnlineStore
) -> None:
    rows = [row((k, f"k{k}"), {"v": k}) for k in range(300)]
    with SqliteOnlineStore(tmp_path / "online.db") as sqlite_store:
        for store in (sqlite_store, redis_store):
            store.write_batch("users", rows)
        for seed in (0, 1, 7):
            assert sqlite_store.sample_keys("users", 20, seed=seed) == redis_store.sample_keys(
                "users", 20, seed=seed
            )


def test_sqlite_reads_of_many_chunks_see_one_snapshot(tmp_path: Path) -> None:
    """A read of more keys than one statement takes still never sees a batch half-applied."""
    keys = [(k,) for k in range(2000)]
    with SqliteOnlineStore(tmp_path / "online.db") as store:
        store.write_batch("gen", [OnlineRow(k, {"gen": 0}, T0) for k in keys])
        done = threading.Event()
        seen: list[set[Any]] = []

        def reader() -> None:
            while not done.is_set():
                seen.append({v.values["gen"] if v else None for v in store.read("gen", keys)})

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for gen in range(1, 15):
                ts = T0 + timedelta(seconds=gen)
                store.write_batch("gen", [OnlineRow(k, {"gen": gen}, ts) for k in keys])
        finally:
            done.set()
            thread.join()
        assert seen
        assert all(len(generations) == 1 for generations in seen)


def test_a_forked_child_opens_its_own_sqlite_connection(tmp_path: Path) -> None:
    with SqliteOnlineStore(tmp_path / "online.db") as store:
        store.write_batch("users", [row(1, {"v": "parent"})])
        pid = os.fork()
        if pid == 0:  # the child writes through the store it inherited, then exits
            code = 0
            try:
                store.write_batch("users", [row(1, {"v": "child"}, 1)])
            except BaseException:
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert store.read("users", [(1,)])[0] == OnlineValue(
            {"v": "child"}, T0 + timedelta(minutes=1)
        )
