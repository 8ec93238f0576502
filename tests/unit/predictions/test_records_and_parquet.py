"""Prediction records validate what would corrupt the log; Parquet batches round-trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.predictions import InvalidPredictionRecordError, PredictionRecord
from conveyor.predictions._parquet import decode_batch, encode_batch, to_frame

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(i: int, **changes: Any) -> PredictionRecord:
    fields: dict[str, Any] = {
        "request_id": f"r{i}",
        "at": T0 + timedelta(seconds=i),
        "model": "churn",
        "version": 1,
        "inputs": {"age": i, "plan": "basic"},
        "prediction": i / 10,
        "latency_ms": 1.5,
    }
    fields.update(changes)
    return PredictionRecord(**fields)


def test_a_record_without_a_time_zone_is_refused() -> None:
    with pytest.raises(InvalidPredictionRecordError, match=r"'r1' has a time without a time zone"):
        record(1, at=datetime(2026, 1, 1))


def test_a_record_with_an_empty_request_id_is_refused() -> None:
    with pytest.raises(InvalidPredictionRecordError, match="invalid request id ''"):
        record(1, request_id="")


def test_scalar_columns_keep_their_types_and_times_become_utc() -> None:
    paris = timezone(timedelta(hours=1))
    rows = [record(1, at=datetime(2026, 1, 1, 1, 0, tzinfo=paris)), record(2, revision=4)]
    frame = to_frame(decode_batch(encode_batch(rows)))
    assert frame["at"].iloc[0] == T0
    assert str(frame["at"].dtype) == "datetime64[us, UTC]"
    assert frame["in_age"].tolist() == [1, 2]
    assert frame["in_plan"].tolist() == ["basic", "basic"]
    assert frame["prediction"].tolist() == [0.1, 0.2]
    assert frame["revision"].isna().tolist() == [True, False]
    assert frame["revision"].iloc[1] == 4


def test_lists_dicts_mixed_types_and_numpy_values_come_back_as_given() -> None:
    rows = [
        record(1, inputs={"tags": ["a", "b"], "mixed": 1}, prediction={"p": [0.2, 0.8]}),
        record(2, inputs={"tags": None, "mixed": "x"}, prediction=np.array([0.5, 0.5])),
        record(3, inputs={"tags": ["c"]}, prediction=np.float32(0.25)),
    ]
    frame = to_frame(decode_batch(encode_batch(rows)))
    assert frame["in_tags"].tolist() == [["a", "b"], None, ["c"]]
    assert frame["in_mixed"].tolist() == [1, "x", None]
    assert frame["prediction"].tolist() == [{"p": [0.2, 0.8]}, [0.5, 0.5], 0.25]


def test_the_same_records_always_make_the_same_bytes() -> None:
    rows = [record(i) for i in range(5)]
    assert encode_batch(rows) == encode_batch(list(rows))


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**62), 2**62),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.dictionaries(st.sampled_from(["a", "b", "c"]), scalars), scalars),
        min_size=1,
        max_size=8,
    )
)
def test_inputs_and_predictions_round_trip(rows: list[tuple[dict[str, Any], Any]]) -> None:
    records = [record(i, inputs=inputs, prediction=out) for i, (inputs, out) in enumerate(rows)]
    frame = to_frame(decode_batch(encode_batch(records)))
    assert frame["request_id"].tolist() == [r.request_id for r in records]
    for name in ("a", "b", "c"):
        if f"in_{name}" not in frame:
            assert all(name not in r.inputs for r in records)
            continue
        got = [None if _missing(v) else v for v in frame[f"in_{name}"].tolist()]
        assert got == [r.inputs.get(name) for r in records]
    got = [None if _missing(v) else v for v in frame["prediction"].tolist()]
    assert got == [r.prediction for r in records]


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def test_a_record_with_an_unknown_status_is_refused() -> None:
    with pytest.raises(
        InvalidPredictionRecordError, match=r"'r1' has status 'failed'; expected one of ok, error"
    ):
        record(1, status="failed")


def test_failed_predictions_keep_their_status_and_error_through_parquet() -> None:
    records = [
        record(1),
        record(2, status="error", error="ValueError: bad input", prediction=None),
    ]
    frame = to_frame(decode_batch(encode_batch(records)))
    assert frame["status"].tolist() == ["ok", "error"]
    assert frame["error"].tolist()[1] == "ValueError: bad input"
    assert frame["error"].isna().tolist() == [True, False]


def test_batches_written_before_statuses_existed_read_back_as_ok() -> None:
    table = decode_batch(encode_batch([record(1), record(2)])).drop_columns(["status", "error"])
    frame = to_frame(table)
    assert frame["status"].tolist() == ["ok", "ok"]
    assert frame["error"].isna().all()


_FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-0.0, 0.0])


@given(st.lists(_FLOATS, min_size=1, max_size=50) | st.lists(st.integers(), min_size=1))
@settings(max_examples=300, deadline=None)
def test_a_list_of_one_number_type_is_stored_as_arrow_would_store_the_list(
    values: list[Any],
) -> None:
    """A column of floats or of integers is the array Arrow makes from the list itself, bit
    for bit (NaN, -0.0, infinities stay values, not nulls); integers beyond int64 become
    JSON text."""
    import pyarrow as pa

    from conveyor.predictions._parquet import _column

    array, as_json = _column(values)
    try:
        expected = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        assert as_json
        assert array.to_pylist() == [str(v) for v in values]
        return
    assert not as_json
    assert array.type == expected.type
    assert array.null_count == 0
    got, want = array.to_numpy(), expected.to_numpy()
    assert got.tobytes() == want.tobytes()  # bit for bit
