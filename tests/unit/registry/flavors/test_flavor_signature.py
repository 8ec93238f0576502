"""Signatures: inference from pandas dtypes, JSON round trip, and validation of input."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.registry.flavors import ColumnSpec, Signature, SignatureError, infer_signature

SIG = Signature(
    [
        ColumnSpec("age", "long"),
        ColumnSpec("income", "double"),
        ColumnSpec("member", "boolean"),
        ColumnSpec("city", "string"),
    ]
)


def test_infer_signature_maps_pandas_dtypes_to_column_types() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.5, np.nan],
            "n": [1, 2],
            "b": [True, False],
            "s": ["a", "b"],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    sig = infer_signature(frame)
    assert [(c.name, c.type, c.nullable) for c in sig.inputs] == [
        ("x", "double", True),
        ("n", "long", False),
        ("b", "boolean", False),
        ("s", "string", False),
        ("t", "datetime", False),
    ]
    assert sig.outputs is None


def test_infer_signature_accepts_records_and_row_dicts_and_reads_outputs() -> None:
    class Doubler:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return frame["a"].to_numpy() * 2

    from_records = infer_signature([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], Doubler())
    from_row = infer_signature({"a": 1, "b": "x"})
    assert from_records.inputs == from_row.inputs
    assert from_records.outputs == (ColumnSpec("prediction", "long"),)


def test_infer_signature_refuses_a_column_mixing_numbers_and_strings() -> None:
    with pytest.raises(SignatureError, match="column 'm'") as info:
        infer_signature(pd.DataFrame({"m": [1, "two"]}, dtype=object))
    assert info.value.column == "m"


column_specs = st.lists(
    st.builds(
        ColumnSpec,
        st.text(min_size=1, max_size=12),
        st.sampled_from(["double", "long", "boolean", "string", "datetime"]),
        st.booleans(),
    ),
    max_size=8,
)


@given(inputs=column_specs, outputs=st.one_of(st.none(), column_specs))
def test_signature_round_trips_through_json(
    inputs: list[ColumnSpec], outputs: list[ColumnSpec] | None
) -> None:
    sig = Signature(inputs, outputs)
    assert Signature.from_dict(json.loads(json.dumps(sig.to_dict()))) == sig


def test_validate_returns_signature_order_and_types_accepting_ints_for_doubles() -> None:
    frame = pd.DataFrame(
        {"city": ["Oslo"], "extra": [0], "member": [True], "income": [52000], "age": [41.0]}
    )
    out = SIG.validate(frame)
    assert list(out.columns) == ["age", "income", "member", "city"]
    assert out["income"].dtype == np.float64
    assert out["age"].dtype == np.int64
    assert out.iloc[0].tolist() == [41, 52000.0, True, "Oslo"]


def test_validate_lists_every_missing_column_for_a_400() -> None:
    with pytest.raises(SignatureError, match="missing column\\(s\\): income, member") as info:
        SIG.validate(pd.DataFrame({"age": [1], "city": ["x"]}))
    assert info.value.missing == ["income", "member"]
    assert info.value.status == 400
    assert info.value.kind == "missing_columns"


def test_validate_refuses_extra_columns_only_when_asked() -> None:
    frame = pd.DataFrame({"age": [1], "income": [1.0], "member": [False], "city": ["x"], "z": [0]})
    assert list(SIG.validate(frame).columns) == SIG.columns
    with pytest.raises(SignatureError, match="unexpected column\\(s\\): z") as info:
        SIG.validate(frame, extra="reject")
    assert info.value.extra == ["z"]


@pytest.mark.parametrize(
    ("column", "bad"),
    [("income", "52000"), ("age", 1.5), ("age", "41"), ("member", 1), ("city", 7)],
)
def test_validate_names_the_column_and_value_of_a_wrong_type_for_a_422(
    column: str, bad: object
) -> None:
    row = {"age": 41, "income": 1.0, "member": True, "city": "Oslo", column: bad}
    frame = pd.DataFrame([row], dtype=object)
    with pytest.raises(SignatureError, match=f"Column '{column}' expects") as info:
        SIG.validate(frame)
    assert info.value.column == column
    assert info.value.value == bad
    assert info.value.status == 422
    assert info.value.fields["column"] == column


def test_validate_refuses_missing_values_unless_nullable_or_unchecked() -> None:
    sig = Signature([ColumnSpec("x", "double"), ColumnSpec("y", "double", nullable=True)])
    frame = pd.DataFrame({"x": [np.nan], "y": [np.nan]})
    with pytest.raises(SignatureError, match=r"'x' expects a number.*missing value"):
        sig.validate(frame)
    assert np.isnan(sig.validate(frame, check_nulls=False)["x"].iloc[0])


def test_validate_parses_iso_datetimes_and_refuses_others() -> None:
    sig = Signature([ColumnSpec("t", "datetime")])
    out = sig.validate(pd.DataFrame({"t": ["2024-05-01T10:00:00"]}))
    assert out["t"].iloc[0] == pd.Timestamp("2024-05-01T10:00:00")
    with pytest.raises(SignatureError, match="'t' expects an ISO 8601 datetime") as info:
        sig.validate(pd.DataFrame({"t": ["2024-05-01", "yesterday"]}))
    assert info.value.value == "yesterday"


def test_signature_error_survives_pickling_with_its_fields() -> None:
    error = SignatureError("bad", missing=["a"], column=None)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.missing == ["a"]
    assert copy.status == 400
