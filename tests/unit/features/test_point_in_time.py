"""point_in_time_join: exact values on hand-made cases, and every refusal names its value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.features import EntityFrameError, FeatureDefinitionError, FeatureSourceError
from conveyor.features._offline import ViewTable, point_in_time_join

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)


def ts(*moments: datetime | None) -> pa.Array:
    return pa.array(list(moments), pa.timestamp("us", tz="UTC"))


def view(
    name: str = "stats",
    *,
    keys: tuple[str, ...] = ("user_id",),
    ttl: timedelta | None = None,
    features: tuple[str, ...] | None = None,
    timestamp_field: str = "event_timestamp",
    **columns: Any,
) -> ViewTable:
    table = pa.table(columns)
    if features is None:
        features = tuple(c for c in columns if c not in (*keys, timestamp_field))
    return ViewTable(name, keys, timestamp_field, ttl, features, table)


def user_view(ttl: timedelta | None = None) -> ViewTable:
    return view(
        ttl=ttl,
        user_id=[1, 1, 1, 2],
        event_timestamp=ts(T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2), T0),
        spend=[10.0, 20.0, 30.0, 5.0],
    )


def entities(times: list[Any], users: list[Any] | None = None, **extra: Any) -> pd.DataFrame:
    users = users if users is not None else [1] * len(times)
    return pd.DataFrame({"user_id": users, "event_timestamp": times, **extra})


# -- semantics ----------------------------------------------------------------------------


def test_each_row_gets_the_latest_value_at_or_before_its_time() -> None:
    frame = entities([T0 + timedelta(minutes=30), T0 + timedelta(hours=5), T0 + timedelta(hours=1)])
    out = point_in_time_join(frame, [user_view()])
    assert out["spend"].tolist() == [10.0, 30.0, 20.0]


def test_a_value_one_microsecond_after_the_row_is_never_used() -> None:
    out = point_in_time_join(entities([T0 + timedelta(hours=1) - US]), [user_view()])
    assert out["spend"].tolist() == [10.0]


def test_a_row_before_every_value_gets_a_missing_value() -> None:
    out = point_in_time_join(entities([T0 - US]), [user_view()])
    assert np.isnan(out["spend"].iloc[0])


def test_a_value_at_exactly_the_row_time_is_used() -> None:
    out = point_in_time_join(entities([T0 + timedelta(hours=2)]), [user_view()])
    assert out["spend"].tolist() == [30.0]


def test_ttl_keeps_a_value_exactly_ttl_old_and_drops_one_a_microsecond_older() -> None:
    ttl = timedelta(minutes=10)
    at_edge = T0 + timedelta(hours=2) + ttl
    out = point_in_time_join(entities([at_edge, at_edge + US]), [user_view(ttl)])
    assert out["spend"].iloc[0] == 30.0
    assert np.isnan(out["spend"].iloc[1])


def test_ttl_does_not_fall_back_to_an_older_value() -> None:
    # The latest value is too old: the row gets nothing, not an even older value.
    out = point_in_time_join(entities([T0 + timedelta(days=1)]), [user_view(timedelta(hours=1))])
    assert out["spend"].isna().all()


def test_of_rows_tied_on_key_and_time_the_last_in_the_table_wins() -> None:
    tied = view(
        user_id=[7, 7, 7, 8],
        event_timestamp=ts(T0, T0, T0, T0),
        score=[1.0, 2.0, 3.0, 4.0],
        label=["first", "second", "third", "other"],
    )
    out = point_in_time_join(entities([T0, T0 + US], [7, 7]), [tied])
    assert out["score"].tolist() == [3.0, 3.0]
    assert out["label"].tolist() == ["third", "third"]


def test_tie_breaking_follows_table_order_across_chunks() -> None:
    first = pa.table({"user_id": [7], "event_timestamp": ts(T0), "score": [1.0]})
    second = pa.table({"user_id": [7], "event_timestamp": ts(T0), "score": [2.0]})
    table = pa.concat_tables([first, second])
    assert table.column("score").num_chunks == 2
    tied = ViewTable("stats", ("user_id",), "event_timestamp", None, ("score",), table)
    assert point_in_time_join(entities([T0], [7]), [tied])["score"].tolist() == [2.0]


def test_unknown_entities_and_missing_keys_get_missing_values() -> None:
    frame = pd.DataFrame(
        {
            "user_id": pd.array([1, 99, None], dtype="Int64"),
            "event_timestamp": [T0, T0, T0],
        }
    )
    out = point_in_time_join(frame, [user_view()])
    assert out["spend"].iloc[0] == 10.0
    assert out["spend"].iloc[1:].isna().all()


def test_float_keys_with_missing_values_still_match_integer_keys() -> None:
    frame = entities([T0, T0], [1.0, np.nan])
    out = point_in_time_join(frame, [user_view()])
    assert out["spend"].iloc[0] == 10.0
    assert np.isnan(out["spend"].iloc[1])


def test_several_views_with_different_keys() -> None:
    users = user_view()
    products = view(
        "product_stats",
        keys=("product_id",),
        product_id=["p1", "p2", "p1"],
        event_timestamp=ts(T0, T0, T0 + timedelta(hours=3)),
        price=[9.5, 3.0, 8.0],
    )
    frame = pd.DataFrame(
        {
            "user_id": [1, 2, 1],
            "product_id": ["p1", "p2", "p1"],
            "event_timestamp": [T0 + timedelta(hours=4), T0, T0 + timedelta(hours=1)],
        }
    )
    out = point_in_time_join(frame, [users, products])
    assert out["spend"].tolist() == [30.0, 5.0, 20.0]
    assert out["price"].tolist() == [8.0, 3.0, 9.5]
    assert list(out.columns) == ["user_id", "product_id", "event_timestamp", "spend", "price"]


def test_a_view_keyed_by_two_columns_matches_on_both() -> None:
    pairs = view(
        keys=("user_id", "product_id"),
        user_id=[1, 1, 2],
        product_id=["a", "b", "a"],
        event_timestamp=ts(T0, T0, T0),
        clicks=[10, 20, 30],
    )
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2],
            "product_id": ["b", "a", "a", "b"],
            "event_timestamp": [T0] * 4,
        }
    )
    out = point_in_time_join(frame, [pairs])
    assert out["clicks"].tolist() == [20, 10, 30, pd.NA]
    assert str(out["clicks"].dtype) == "Int64"


def test_order_index_and_other_columns_are_kept() -> None:
    frame = pd.DataFrame(
        {
            "label": ["z", "y", "x", "w"],
            "event_timestamp": [T0 + timedelta(hours=h) for h in (5, 0, 1, 0)],
            "user_id": [1, 2, 1, 3],
            "weight": [0.1, 0.2, 0.3, 0.4],
        },
        index=pd.Index([40, 10, 30, 10], name="sample"),
    )
    before = frame.copy()
    out = point_in_time_join(frame, [user_view()])
    pd.testing.assert_frame_equal(out[list(frame.columns)], before)
    assert out.index.equals(before.index)
    assert out["spend"].tolist()[:3] == [30.0, 5.0, 20.0]
    assert np.isnan(out["spend"].iloc[3])
    pd.testing.assert_frame_equal(frame, before)  # the input is not modified


def test_naive_entity_timestamps_are_read_as_utc() -> None:
    naive = T0.replace(tzinfo=None) + timedelta(hours=1)
    out = point_in_time_join(entities([naive, naive - US]), [user_view()])
    assert out["spend"].tolist() == [20.0, 10.0]


def test_entity_timestamps_in_another_zone_are_converted_to_utc() -> None:
    # 13:00 in Paris (UTC+1 in March) is 12:00 UTC, when the first value became true.
    paris = pd.Series(pd.to_datetime(["2024-03-01 13:00:00", "2024-03-01 12:59:59"]))
    frame = entities(paris.dt.tz_localize("Europe/Paris").tolist())
    assert str(frame["event_timestamp"].dtype).endswith("Europe/Paris]")
    out = point_in_time_join(frame, [user_view()])
    assert out["spend"].iloc[0] == 10.0
    assert np.isnan(out["spend"].iloc[1])


def test_iso_strings_dates_and_python_datetimes_are_accepted() -> None:
    as_strings = entities(["2024-03-01T13:00:00+00:00", "2024-03-01 14:30:00Z"])
    assert point_in_time_join(as_strings, [user_view()])["spend"].tolist() == [20.0, 30.0]
    naive_strings = entities(["2024-03-01T13:00:00", "2024-03-02"])
    assert point_in_time_join(naive_strings, [user_view()])["spend"].tolist() == [20.0, 30.0]
    mixed_objects = entities(pd.Series([T0, "2024-03-01T13:00:00Z"], dtype=object).tolist())
    assert point_in_time_join(mixed_objects, [user_view()])["spend"].tolist() == [10.0, 20.0]


def test_nanosecond_entity_times_never_read_a_later_microsecond() -> None:
    times = pd.Series(pd.to_datetime(["2024-03-01 12:59:59.999999999"])).astype("datetime64[ns]")
    out = point_in_time_join(
        entities(times.tolist(), [1]).assign(event_timestamp=times), [user_view()]
    )
    assert out["spend"].tolist() == [10.0]


def test_features_of_every_type_keep_their_type_with_missing_values() -> None:
    orders = view(
        user_id=[1, 1, 2, 3],
        event_timestamp=ts(T0, T0 + timedelta(hours=1), T0, T0),
        n_orders=pa.array([3, None, 7, 1], pa.int64()),
        spend=pa.array([12.5, 40.0, None, 1.0], pa.float64()),
        country=pa.array(["FR", "DE", None, "ES"], pa.string()),
        vip=pa.array([True, None, False, True], pa.bool_()),
        first_order=ts(T0 - timedelta(days=9), None, T0 - timedelta(days=1), T0),
    )
    frame = entities([T0 + timedelta(hours=2), T0, T0, T0 - US, T0], [1, 1, 2, 3, 4])
    out = point_in_time_join(frame, [orders])
    assert str(out["n_orders"].dtype) == "Int64"
    assert out["n_orders"].tolist() == [pd.NA, 3, 7, pd.NA, pd.NA]
    assert out["spend"].dtype == np.float64
    assert out["spend"].tolist()[:2] == [40.0, 12.5]
    assert out["spend"].iloc[2:].isna().all()
    assert str(out["country"].dtype) == "string"
    assert out["country"].tolist() == ["DE", "FR", pd.NA, pd.NA, pd.NA]
    assert str(out["vip"].dtype) == "boolean"
    assert out["vip"].tolist() == [pd.NA, True, False, pd.NA, pd.NA]
    assert str(out["first_order"].dtype) == "datetime64[us, UTC]"
    assert out["first_order"].iloc[1] == pd.Timestamp(T0 - timedelta(days=9))
    assert out["first_order"].iloc[2] == pd.Timestamp(T0 - timedelta(days=1))
    assert out["first_order"].iloc[[0, 3, 4]].isna().all()


def test_integer_features_are_nullable_int64_even_with_nothing_missing() -> None:
    counts = view(user_id=[1], event_timestamp=ts(T0), n=[5])
    out = point_in_time_join(entities([T0]), [counts])
    assert str(out["n"].dtype) == "Int64"
    assert out["n"].tolist() == [5]


def test_an_empty_entity_frame_gives_an_empty_frame_with_the_feature_columns() -> None:
    frame = pd.DataFrame(
        {"user_id": pd.Series([], dtype="int64"), "event_timestamp": pd.Series([], dtype=object)}
    )
    out = point_in_time_join(frame, [user_view()])
    assert len(out) == 0
    assert list(out.columns) == ["user_id", "event_timestamp", "spend"]
    assert out["spend"].dtype == np.float64


def test_no_features_gives_a_copy_of_the_entity_frame() -> None:
    frame = entities([T0])
    out = point_in_time_join(
        frame, [view(user_id=[1], event_timestamp=ts(T0), x=[1.0], features=())]
    )
    pd.testing.assert_frame_equal(out, frame)
    assert out is not frame
    pd.testing.assert_frame_equal(point_in_time_join(frame, []), frame)


def test_full_names_prefix_the_view_name() -> None:
    out = point_in_time_join(entities([T0]), [user_view()], full_names=True)
    assert list(out.columns)[-1] == "stats__spend"


def test_a_custom_timestamp_column_is_used() -> None:
    frame = pd.DataFrame({"user_id": [1], "as_of": [T0 + timedelta(hours=1)]})
    out = point_in_time_join(frame, [user_view()], timestamp_column="as_of")
    assert out["spend"].tolist() == [20.0]


def test_hostile_column_and_view_names_are_only_data() -> None:
    names = ['a"b', "select", "naïve col", "1; DROP TABLE x"]
    hostile = ViewTable(
        'v"; DROP TABLE entity; --',
        (names[0], names[2]),
        names[1],
        timedelta(hours=1),
        (names[3], "from"),
        pa.table(
            {
                names[0]: [1, 1, 2],
                names[2]: ["x", "x", "y"],
                names[1]: ts(T0, T0 + timedelta(minutes=5), T0),
                names[3]: [1.5, 2.5, 3.5],
                "from": ["p", "q", "r"],
            }
        ),
    )
    frame = pd.DataFrame(
        {
            names[0]: [1, 2, 1],
            names[2]: ["x", "y", "x"],
            names[1]: [T0 + timedelta(minutes=7), T0, T0 + timedelta(hours=2)],
        }
    )
    out = point_in_time_join(frame, [hostile], timestamp_column=names[1])
    assert out[names[3]].iloc[:2].tolist() == [2.5, 3.5]
    assert np.isnan(out[names[3]].iloc[2])  # older than the ttl
    assert out["from"].tolist() == ["q", "r", pd.NA]
    full = point_in_time_join(frame, [hostile], timestamp_column=names[1], full_names=True)
    assert 'v"; DROP TABLE entity; --__1; DROP TABLE x' in full.columns


# -- refusals -----------------------------------------------------------------------------


def test_a_missing_timestamp_column_is_refused_with_the_columns_there_are() -> None:
    frame = pd.DataFrame({"user_id": [1], "when": [T0]})
    with pytest.raises(EntityFrameError, match=r"no timestamp column 'event_timestamp'.*'when'"):
        point_in_time_join(frame, [user_view()])


def test_mixed_naive_and_aware_timestamps_are_refused_naming_the_row() -> None:
    naive = datetime(2024, 3, 1, 15, 0)
    frame = entities(pd.Series([T0, naive], dtype=object).tolist(), [1, 1])
    frame.index = pd.Index(["first", "second"])
    with pytest.raises(EntityFrameError, match=r"mix tz-naive and tz-aware.*row 'second'") as info:
        point_in_time_join(frame, [user_view()])
    assert "2024, 3, 1, 15, 0" in str(info.value)
    assert "utc=True" in str(info.value.hint)


@pytest.mark.parametrize(
    "times",
    [
        pd.Series([T0, pd.NaT]),
        pd.Series([T0, None], dtype=object),
        pd.Series(["2024-03-01T12:00:00", None]),
        pd.Series([T0.replace(tzinfo=None), np.nan], dtype=object),
    ],
)
def test_a_missing_timestamp_is_refused_naming_the_row(times: pd.Series) -> None:
    frame = pd.DataFrame({"user_id": [1, 1], "event_timestamp": times})
    frame.index = pd.Index([5, 17])
    with pytest.raises(EntityFrameError, match=r"Row 17 .* no timestamp in 'event_timestamp'"):
        point_in_time_join(frame, [user_view()])


def test_an_unparseable_timestamp_string_is_refused_with_the_value() -> None:
    frame = entities(["2024-03-01T12:00:00", "last tuesday"])
    with pytest.raises(EntityFrameError, match=r"Row 1 .*'last tuesday'.*not an ISO 8601"):
        point_in_time_join(frame, [user_view()])


def test_numbers_as_timestamps_are_refused_with_the_type() -> None:
    frame = entities([1709294400, 1709298000])
    with pytest.raises(EntityFrameError, match=r"holds int64 values, not timestamps.*1709294400"):
        point_in_time_join(frame, [user_view()])


def test_an_entity_frame_that_is_not_a_dataframe_is_refused_naming_its_type() -> None:
    with pytest.raises(EntityFrameError, match="must be a pandas DataFrame, got dict"):
        point_in_time_join({"user_id": [1]}, [user_view()])  # type: ignore[arg-type]


def test_a_missing_join_key_is_refused_naming_key_view_and_columns() -> None:
    frame = pd.DataFrame({"customer": [1], "event_timestamp": [T0]})
    with pytest.raises(
        EntityFrameError, match=r"'stats' joins on 'user_id'.*columns are 'customer'"
    ):
        point_in_time_join(frame, [user_view()])


def test_a_join_key_of_another_type_is_refused_naming_both_types() -> None:
    frame = entities([T0], ["1"])
    with pytest.raises(EntityFrameError, match=r"'user_id' holds int64 .*'stats'.*string") as info:
        point_in_time_join(frame, [user_view()])
    assert info.value.fields["view_type"] == "int64"


def test_a_join_key_mixing_types_is_refused_naming_the_column() -> None:
    frame = entities([T0, T0], pd.Series([1, "two"], dtype=object).tolist())
    with pytest.raises(EntityFrameError, match=r"join key column 'user_id' \(object\) mixes"):
        point_in_time_join(frame, [user_view()])


def test_two_features_of_one_name_are_refused_with_a_hint_to_use_full_names() -> None:
    other = view("other_stats", user_id=[1], event_timestamp=ts(T0), spend=[1.0])
    with pytest.raises(
        FeatureDefinitionError, match=r"'stats:spend' and 'other_stats:spend'.*'spend'"
    ) as info:
        point_in_time_join(entities([T0]), [user_view(), other])
    assert "full_names=True" in str(info.value.hint)
    out = point_in_time_join(entities([T0]), [user_view(), other], full_names=True)
    assert out[["stats__spend", "other_stats__spend"]].iloc[0].tolist() == [10.0, 1.0]


def test_a_feature_named_like_an_entity_column_is_refused() -> None:
    frame = entities([T0], spend=[0.0])
    with pytest.raises(
        FeatureDefinitionError, match=r"'stats:spend' would be named 'spend'"
    ) as info:
        point_in_time_join(frame, [user_view()])
    assert "full_names=True" in str(info.value.hint)


def test_a_view_table_without_a_declared_column_is_refused() -> None:
    broken = ViewTable(
        "stats",
        ("user_id",),
        "event_timestamp",
        None,
        ("spend", "refunds"),
        user_view().table,
    )
    with pytest.raises(FeatureSourceError, match=r"'stats' has no column 'refunds'"):
        point_in_time_join(entities([T0]), [broken])


def test_a_view_timestamp_that_is_not_a_timestamp_is_refused() -> None:
    broken = view(user_id=[1], event_timestamp=["2024-03-01"], spend=[1.0])
    with pytest.raises(FeatureSourceError, match=r"'event_timestamp' of feature view 'stats'"):
        point_in_time_join(entities([T0]), [broken])


def test_naive_and_nanosecond_view_timestamps_are_read_as_utc() -> None:
    naive_ns = pa.array([T0.replace(tzinfo=None)], pa.timestamp("ns"))
    stats = view(user_id=[1], event_timestamp=naive_ns, seen=naive_ns, spend=[4.0])
    out = point_in_time_join(entities([T0, T0 - US]), [stats])
    assert out["spend"].iloc[0] == 4.0
    assert np.isnan(out["spend"].iloc[1])
    assert str(out["seen"].dtype) == "datetime64[ns, UTC]"
    assert out["seen"].iloc[0] == pd.Timestamp(T0)


def test_dictionary_encoded_keys_on_either_side_match_plain_strings() -> None:
    products = view(
        keys=("product_id",),
        product_id=pa.array(["p1", "p2"]).dictionary_encode(),
        event_timestamp=ts(T0, T0),
        price=[1.0, 2.0],
    )
    frame = pd.DataFrame(
        {
            "product_id": pd.Categorical(["p2", "p1", "p3"]),
            "event_timestamp": [T0] * 3,
        }
    )
    out = point_in_time_join(frame, [products])
    assert out["price"].iloc[:2].tolist() == [2.0, 1.0]
    assert np.isnan(out["price"].iloc[2])
