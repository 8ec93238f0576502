"""The contract of :class:`~conveyor.features._online.OnlineStore`, as a test suite.

Subclass :class:`OnlineStoreContract` and provide the fixture ``store`` (a fresh, empty
store, closed after the test); pytest then runs every test of the contract on it:

Example:
    >>> import pytest  # doctest: +SKIP
    >>> from conveyor.testing.online import OnlineStoreContract  # doctest: +SKIP
    >>> class TestMyOnlineStore(OnlineStoreContract):  # doctest: +SKIP
    ...     @pytest.fixture
    ...     def store(self, tmp_path):
    ...         with MyOnlineStore(tmp_path) as store:
    ...             yield store

conveyor runs it on SQLite and on Redis (``tests/integration/features``).
"""

from __future__ import annotations

import math
import re
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from conveyor.features._errors import EntityFrameError, FeatureDefinitionError, FeatureSourceError
from conveyor.features._online import OnlineRow, OnlineStore, OnlineValue

__all__ = ["HOSTILE_KEYS", "HOSTILE_VIEWS", "OnlineStoreContract", "T0", "row"]

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

#: View names that must be stored apart from each other and from everything else.
HOSTILE_VIEWS = [
    "a'b",
    'x"; DROP TABLE online_features; --',
    "../../etc/passwd",
    "conveyor:online:*",
    "{slot}",
    "vue_ü_日本_🙂",
    "v" * 5000,
    "tab\tand newline\n",
]

#: Key tuples that must round-trip exactly and never meet another key.
HOSTILE_KEYS: list[tuple[Any, ...]] = [
    ("'",),
    ('"; DEL *',),
    ("a\x00b",),
    ("\ud800 lone surrogate",),
    ("日本", "🙂"),
    ("k" * 100_000,),
    ("*",),
    ("",),
    (1,),
    (1.0,),
    (True,),
    ("1",),
    (-(2**63), 2**63 - 1),
    (1, "a", 2.5, False),
]


def row(key: Any, values: dict[str, Any], minutes: int = 0) -> OnlineRow:
    """A row of ``key`` observed ``minutes`` after :data:`T0`."""
    key = key if isinstance(key, tuple) else (key,)
    return OnlineRow(key, values, T0 + timedelta(minutes=minutes))


class OnlineStoreContract:
    """Every behaviour :class:`OnlineStore` documents, one test each."""

    def test_mixed_values_round_trip_with_their_event_time(self, store: OnlineStore) -> None:
        values = {"s": "text", "i": -7, "big": 2**62, "f": 0.1, "b": False, "none": None}
        assert store.write_batch("users", [row(("u1", 3), values)]) == 1
        [got] = store.read("users", [("u1", 3)])
        assert got == OnlineValue(values, T0)
        assert got is not None
        assert type(got.values["b"]) is bool
        assert type(got.values["i"]) is int
        assert got.event_ts.tzinfo is not None
        assert got.event_ts.utcoffset() == timedelta(0)

    def test_event_times_in_other_zones_are_stored_as_the_same_instant_in_utc(
        self, store: OnlineStore
    ) -> None:
        ts = datetime(2026, 3, 1, 14, 0, 0, 7, tzinfo=timezone(timedelta(hours=2)))
        store.write_batch("users", [OnlineRow((1,), {"n": 1}, ts)])
        [got] = store.read("users", [(1,)])
        assert got is not None
        assert got.event_ts == ts
        assert got.event_ts.utcoffset() == timedelta(0)
        assert got.event_ts.microsecond == 7

    def test_nan_values_are_stored_as_none(self, store: OnlineStore) -> None:
        store.write_batch("users", [row(1, {"f": math.nan})])
        assert store.read("users", [(1,)]) == [OnlineValue({"f": None}, T0)]

    def test_numpy_scalars_are_stored_as_python_values(self, store: OnlineStore) -> None:
        np = pytest.importorskip("numpy")
        store.write_batch("users", [row((np.int64(5),), {"f": np.float32(0.5), "i": np.int8(3)})])
        [got] = store.read("users", [(5,)])
        assert got == OnlineValue({"f": 0.5, "i": 3}, T0)

    def test_a_newer_row_replaces_the_stored_one(self, store: OnlineStore) -> None:
        store.write_batch("users", [row(1, {"a": 1, "b": 1})])
        assert store.write_batch("users", [row(1, {"a": 2}, minutes=1)]) == 1
        assert store.read("users", [(1,)]) == [OnlineValue({"a": 2}, T0 + timedelta(minutes=1))]

    def test_an_older_row_is_ignored(self, store: OnlineStore) -> None:
        store.write_batch("users", [row(1, {"a": 1}, minutes=5)])
        assert store.write_batch("users", [row(1, {"a": 0}, minutes=4)]) == 0
        assert store.read("users", [(1,)]) == [OnlineValue({"a": 1}, T0 + timedelta(minutes=5))]

    def test_an_equal_event_time_overwrites(self, store: OnlineStore) -> None:
        store.write_batch("users", [row(1, {"a": 1})])
        assert store.write_batch("users", [row(1, {"a": 2})]) == 1
        assert store.read("users", [(1,)]) == [OnlineValue({"a": 2}, T0)]

    def test_within_a_batch_the_newest_row_of_a_key_wins_whatever_its_place(
        self, store: OnlineStore
    ) -> None:
        batch = [row(1, {"a": "new"}, minutes=2), row(1, {"a": "old"}, minutes=1)]
        assert store.write_batch("users", batch) == 1
        assert store.read("users", [(1,)])[0] == OnlineValue({"a": "new"}, batch[0].event_ts)

    def test_a_batch_applies_only_its_rows_newer_than_the_stored_ones(
        self, store: OnlineStore
    ) -> None:
        store.write_batch("users", [row(k, {"v": "stored"}, minutes=10) for k in range(4)])
        batch = [row(k, {"v": "batch"}, minutes=8 + k) for k in range(4)]  # keys 2, 3 newer
        assert store.write_batch("users", batch) == 2
        got = [v.values["v"] if v else None for v in store.read("users", [(k,) for k in range(4)])]
        assert got == ["stored", "stored", "batch", "batch"]

    def test_reads_follow_the_order_of_the_keys_with_none_for_unknown_ones(
        self, store: OnlineStore
    ) -> None:
        store.write_batch("users", [row(k, {"k": k}) for k in range(5)])
        keys = [(3,), (99,), (0,), (3,), (4,), ("3",)]
        got = store.read("users", keys)
        assert [v.values["k"] if v else None for v in got] == [3, None, 0, 3, 4, None]
        assert store.read("users", []) == []
        assert store.read("never_written", [(1,)]) == [None]

    def test_a_feature_subset_returns_only_those_the_row_has(self, store: OnlineStore) -> None:
        store.write_batch("users", [row(1, {"a": 1, "b": 2, "c": None}), row(2, {"a": 3})])
        got = store.read("users", [(1,), (2,), (3,)], features=["c", "a", "zzz"])
        assert got == [OnlineValue({"c": None, "a": 1}, T0), OnlineValue({"a": 3}, T0), None]
        assert store.read("users", [(1,)], features=[]) == [OnlineValue({}, T0)]

    def test_a_row_of_many_features_round_trips_and_subsets(self, store: OnlineStore) -> None:
        values = {f"f{i}": i for i in range(5000)}
        store.write_batch("wide", [row(1, values)])
        assert store.read("wide", [(1,)]) == [OnlineValue(values, T0)]
        wanted = [f"f{i}" for i in range(0, 5000, 2)] + ["missing"]
        got = store.read("wide", [(1,)], features=wanted)
        assert got == [OnlineValue({f: values[f] for f in wanted[:-1]}, T0)]

    def test_features_given_as_one_string_are_refused(self, store: OnlineStore) -> None:
        with pytest.raises(FeatureDefinitionError, match="'abc'"):
            store.read("users", [(1,)], features="abc")

    def test_count_is_the_number_of_distinct_keys(self, store: OnlineStore) -> None:
        assert store.count("users") == 0
        store.write_batch("users", [row(k % 7, {"v": k}, minutes=k) for k in range(20)])
        store.write_batch("items", [row(1, {"v": 1})])
        assert store.count("users") == 7
        assert store.count("items") == 1

    def test_samples_are_stored_keys_deterministic_for_a_seed_and_bounded(
        self, store: OnlineStore
    ) -> None:
        keys = [(k, f"k{k}") for k in range(100)]
        store.write_batch("users", [row(k, {"v": 1}) for k in keys])
        first = store.sample_keys("users", 10, seed=1)
        assert len(first) == len(set(first)) == 10
        assert set(first) <= set(keys)
        assert store.sample_keys("users", 10, seed=1) == first
        assert len({tuple(store.sample_keys("users", 10, seed=s)) for s in range(5)}) > 1
        assert sorted(store.sample_keys("users", 1000)) == sorted(keys)
        assert store.sample_keys("users", 0) == []
        assert store.sample_keys("users", -3) == []
        assert store.sample_keys("empty", 5) == []

    def test_deleting_a_view_removes_its_keys_only(self, store: OnlineStore) -> None:
        store.write_batch("users", [row(k, {"v": k}) for k in range(10)])
        store.write_batch("items", [row(k, {"v": k}) for k in range(3)])
        store.delete_view("users")
        assert store.count("users") == 0
        assert store.read("users", [(1,)]) == [None]
        assert store.sample_keys("users", 5) == []
        assert store.count("items") == 3
        assert store.read("items", [(1,)]) == [OnlineValue({"v": 1}, T0)]
        store.delete_view("never_written")
        assert store.write_batch("users", [row(1, {"v": "again"}, minutes=-60)]) == 1

    def test_views_do_not_see_each_others_keys(self, store: OnlineStore) -> None:
        store.write_batch("users", [row(1, {"from": "users"})])
        store.write_batch("users2", [row(2, {"from": "users2"})])
        assert store.read("users", [(1,), (2,)]) == [OnlineValue({"from": "users"}, T0), None]
        assert store.read("users2", [(1,), (2,)]) == [None, OnlineValue({"from": "users2"}, T0)]

    def test_hostile_view_names_are_stored_apart(self, store: OnlineStore) -> None:
        for i, view in enumerate(HOSTILE_VIEWS):
            assert store.write_batch(view, [row(1, {"view": i})]) == 1
        for i, view in enumerate(HOSTILE_VIEWS):
            assert store.read(view, [(1,)]) == [OnlineValue({"view": i}, T0)]
            assert store.count(view) == 1
        store.delete_view(HOSTILE_VIEWS[1])
        assert store.count(HOSTILE_VIEWS[1]) == 0
        assert all(store.count(v) == 1 for v in HOSTILE_VIEWS if v != HOSTILE_VIEWS[1])

    def test_hostile_keys_and_values_round_trip_apart(self, store: OnlineStore) -> None:
        rows = [
            row(k, {"i": i, "echo": str(k), "'; --": "\ud800"}) for i, k in enumerate(HOSTILE_KEYS)
        ]
        assert store.write_batch("users", rows) == len(HOSTILE_KEYS)
        got = store.read("users", HOSTILE_KEYS)
        assert [v.values if v else None for v in got] == [dict(r.values) for r in rows]
        assert store.count("users") == len(HOSTILE_KEYS)
        assert sorted(map(repr, store.sample_keys("users", 100))) == sorted(map(repr, HOSTILE_KEYS))

    @pytest.mark.parametrize(
        "bad",
        [2**63, -(2**63) - 1, math.nan, math.inf, None, [1], {"a": 1}, b"bytes", T0],
        ids=repr,
    )
    def test_keys_that_are_not_join_key_values_are_refused_by_name(
        self, store: OnlineStore, bad: Any
    ) -> None:
        with pytest.raises(EntityFrameError, match=re.escape(repr(bad))) as err:
            store.write_batch("users", [row(("ok", bad), {"v": 1})])
        assert err.value.hint
        with pytest.raises(EntityFrameError, match=re.escape(repr(bad))):
            store.read("users", [("ok", bad)])
        assert store.count("users") == 0

    @pytest.mark.parametrize("bad", [(), 5, "u1", [1]], ids=repr)
    def test_a_key_that_is_not_a_tuple_is_refused_by_name(
        self, store: OnlineStore, bad: Any
    ) -> None:
        with pytest.raises(EntityFrameError, match=re.escape(repr(bad))):
            store.write_batch("users", [OnlineRow(bad, {"v": 1}, T0)])

    @pytest.mark.parametrize(
        "bad",
        [object(), T0, 2**64, -math.inf, [1, 2], {"a": 1}],
        # an object's repr holds its address, different in each xdist worker
        ids=["object", "datetime", "2**64", "-inf", "list", "dict"],
    )
    def test_a_bad_value_refuses_the_whole_batch_and_keeps_the_old_values(
        self, store: OnlineStore, bad: Any
    ) -> None:
        store.write_batch("users", [row(k, {"v": "old"}) for k in range(3)])
        batch = [row(0, {"v": "new"}, 1), row(1, {"v": "new"}, 1), row(2, {"v": bad}, 1)]
        with pytest.raises(FeatureSourceError, match=re.escape(repr(bad))) as err:
            store.write_batch("users", batch)
        assert err.value.hint
        got = store.read("users", [(0,), (1,), (2,)])
        assert [v.values["v"] if v else None for v in got] == ["old", "old", "old"]

    def test_a_naive_event_time_refuses_the_whole_batch(self, store: OnlineStore) -> None:
        naive = datetime(2026, 3, 1, 12, 0)
        batch = [row(1, {"v": 1}), OnlineRow((2,), {"v": 2}, naive)]
        with pytest.raises(EntityFrameError, match=re.escape(repr(naive))):
            store.write_batch("users", batch)
        assert store.read("users", [(1,), (2,)]) == [None, None]

    @pytest.mark.parametrize("bad", ["", None, 3, "\ud800"], ids=repr)
    def test_a_view_name_that_is_not_a_string_is_refused_by_name(
        self, store: OnlineStore, bad: Any
    ) -> None:
        with pytest.raises(FeatureDefinitionError, match=re.escape(repr(bad))):
            store.write_batch(bad, [row(1, {"v": 1})])
        with pytest.raises(FeatureDefinitionError, match=re.escape(repr(bad))):
            store.read(bad, [(1,)])

    def test_an_empty_batch_writes_nothing(self, store: OnlineStore) -> None:
        assert store.write_batch("users", []) == 0
        assert store.count("users") == 0

    def test_a_large_batch_is_written_and_read_whole(self, store: OnlineStore) -> None:
        rows = [row((k, f"user-{k}"), {f"f{j}": k * j for j in range(10)}) for k in range(5000)]
        assert store.write_batch("users", rows) == 5000
        assert store.count("users") == 5000
        got = store.read("users", [r.key for r in rows])
        assert all(v is not None and v.values == r.values for v, r in zip(got, rows, strict=True))

    def test_ping_answers(self, store: OnlineStore) -> None:
        store.ping()
        assert store.store_id
        assert "secret" not in store.store_id

    def test_readers_never_see_a_batch_half_applied(self, store: OnlineStore) -> None:
        """Each batch writes one generation to 200 keys; every read of them sees one."""
        keys = [(k,) for k in range(200)]
        store.write_batch("gen", [OnlineRow(k, {"gen": 0}, T0) for k in keys])
        done = threading.Event()
        mixed: list[set[Any]] = []
        errors: list[Exception] = []

        def writer() -> None:
            try:
                for gen in range(1, 60):
                    ts = T0 + timedelta(seconds=gen)
                    store.write_batch("gen", [OnlineRow(k, {"gen": gen}, ts) for k in keys])
            except Exception as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
            finally:
                done.set()

        def reader() -> None:
            try:
                while not done.is_set():
                    seen = {v.values["gen"] if v else None for v in store.read("gen", keys)}
                    if len(seen) != 1:
                        mixed.append(seen)
            except Exception as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(3)]
        threads.append(threading.Thread(target=writer))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert mixed == []
        assert {v.values["gen"] for v in store.read("gen", keys) if v} == {59}

    def test_concurrent_writers_leave_the_newest_row_of_each_key(self, store: OnlineStore) -> None:
        keys = [(k,) for k in range(50)]
        errors: list[Exception] = []

        def writer(offset: int) -> None:
            try:
                for step in range(offset, 40, 2):  # the two writers interleave event times
                    ts = T0 + timedelta(seconds=step)
                    store.write_batch("race", [OnlineRow(k, {"step": step}, ts) for k in keys])
                for step in reversed(range(offset, 40, 2)):  # and replay them, older first
                    ts = T0 + timedelta(seconds=step)
                    store.write_batch("race", [OnlineRow(k, {"step": step}, ts) for k in keys])
            except Exception as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        got = store.read("race", keys)
        assert {v.values["step"] if v else None for v in got} == {39}
