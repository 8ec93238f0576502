"""point_in_time_join agrees with a plain loop over rows on random small views and frames.

Keys and timestamps come from small pools, so ties on (key, timestamp), entities without
values and values exactly at the TTL's edge all happen often.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.features._offline import ViewTable, point_in_time_join

T0 = datetime(2024, 3, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
TIMES = [T0 + timedelta(minutes=m) + shift for m in range(4) for shift in (-US, timedelta(0))]
TTLS = [None, timedelta(0), US, timedelta(minutes=1), timedelta(minutes=1) + US, timedelta(days=1)]
USERS = [1, 2, 3]
REGIONS = ["eu", "us"]

maybe_time = st.one_of(st.sampled_from(TIMES), st.none())


@st.composite
def view_tables(draw: st.DrawFn, name: str, keys: tuple[str, ...]) -> ViewTable:
    n = draw(st.integers(0, 12))
    columns: dict[str, Any] = {}
    if "user_id" in keys:
        columns["user_id"] = draw(st.lists(st.sampled_from(USERS), min_size=n, max_size=n))
    if "region" in keys:
        columns["region"] = draw(st.lists(st.sampled_from(REGIONS), min_size=n, max_size=n))
    columns["ts"] = pa.array(
        draw(st.lists(st.one_of(st.sampled_from(TIMES), st.none()), min_size=n, max_size=n)),
        pa.timestamp("us", tz="UTC"),
    )
    columns[f"{name}_float"] = pa.array(
        draw(st.lists(st.one_of(st.floats(-1e6, 1e6), st.none()), min_size=n, max_size=n)),
        pa.float64(),
    )
    columns[f"{name}_int"] = pa.array(
        draw(st.lists(st.one_of(st.integers(-5, 5), st.none()), min_size=n, max_size=n)),
        pa.int64(),
    )
    columns[f"{name}_text"] = pa.array(
        draw(st.lists(st.one_of(st.text(max_size=3), st.none()), min_size=n, max_size=n)),
        pa.string(),
    )
    features = tuple(
        draw(
            st.lists(st.sampled_from([c for c in columns if c.startswith(f"{name}_")]), unique=True)
        )
    )
    return ViewTable(
        name=name,
        join_keys=keys,
        timestamp_field="ts",
        ttl=draw(st.sampled_from(TTLS)),
        features=features,
        table=pa.table(columns),
    )


@st.composite
def entity_frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 10))
    users = draw(
        st.lists(st.one_of(st.sampled_from([*USERS, 4]), st.none()), min_size=n, max_size=n)
    )
    regions = draw(st.lists(st.sampled_from([*REGIONS, "apac"]), min_size=n, max_size=n))
    times = draw(
        st.lists(
            st.sampled_from(
                [*TIMES, T0 + timedelta(minutes=1, seconds=30), T0 + timedelta(days=2)]
            ),
            min_size=n,
            max_size=n,
        )
    )
    index = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    frame = pd.DataFrame(
        {
            "user_id": pd.array(users, dtype="Int64"),
            "region": regions,
            "event_timestamp": pd.Series(times, dtype="datetime64[us, UTC]").array,
            "extra": list(range(n)),
        }
    )
    if draw(st.booleans()):  # the same instants, tz-naive: read as UTC
        frame["event_timestamp"] = frame["event_timestamp"].dt.tz_localize(None)
    frame.index = pd.Index(index, dtype="int64")
    return frame


def _utc(value: Any) -> datetime:
    stamp = pd.Timestamp(value)
    return (stamp if stamp.tzinfo else stamp.tz_localize("UTC")).to_pydatetime()


def naive_join(entity_df: pd.DataFrame, views: list[ViewTable]) -> dict[str, list[Any]]:
    """The definition, row by row: the latest value at or before, within the TTL; ties go
    to the row that comes last in the table."""
    out: dict[str, list[Any]] = {}
    entity_rows = entity_df.to_dict("records")
    for view in views:
        rows = view.table.to_pylist()
        for feature in view.features:
            out[feature] = []
        for entity in entity_rows:
            now = _utc(entity["event_timestamp"])
            key = tuple(entity[k] for k in view.join_keys)
            best: tuple[datetime, int] | None = None
            if not any(pd.isna(k) for k in key):
                for position, row in enumerate(rows):
                    when = row["ts"]
                    if tuple(row[k] for k in view.join_keys) != key or when is None:
                        continue
                    if when > now:
                        continue
                    if best is None or (when, position) > best:
                        best = (when, position)
            if best is not None and view.ttl is not None and best[0] < now - view.ttl:
                best = None
            for feature in view.features:
                out[feature].append(None if best is None else rows[best[1]][feature])
    return out


def _plain(values: pd.Series) -> list[Any]:
    return [None if pd.isna(v) else v for v in values.tolist()]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    entity_df=entity_frames(),
    by_user=view_tables("u", ("user_id",)),
    by_pair=view_tables("p", ("user_id", "region")),
)
def test_the_join_agrees_with_a_loop_over_rows(
    entity_df: pd.DataFrame, by_user: ViewTable, by_pair: ViewTable
) -> None:
    views = [by_user, by_pair]
    before = entity_df.copy()
    out = point_in_time_join(entity_df, views)
    expected = naive_join(entity_df, views)
    pd.testing.assert_frame_equal(out[list(before.columns)], before)
    assert list(out.columns) == [*before.columns, *expected]
    for feature, values in expected.items():
        assert _plain(out[feature]) == values, feature
