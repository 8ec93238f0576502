"""Invariants over generated values: lossless round trips and content-determined hashes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conveyor.artifacts import open_artifact_store
from conveyor.pipelines.materializers import load_value, save_value

STORE = open_artifact_store("memory://materializer-invariants")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


def _round_trip(value: Any) -> Any:
    saved = save_value(STORE, value)
    return load_value(STORE, saved.hash, saved.materializer, saved.meta)


@SETTINGS
@given(json_values)
def test_json_values_round_trip_with_tuples_kept(value: Any) -> None:
    assert _round_trip(value) == value


@SETTINGS
@given(st.dictionaries(st.text(max_size=5), scalars, max_size=6))
def test_equal_dicts_hash_equal_whatever_the_key_order(value: dict[str, Any]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert save_value(STORE, value).hash == save_value(STORE, reordered).hash


@SETTINGS
@given(hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
def test_numpy_arrays_round_trip_exactly(array: np.ndarray) -> None:
    loaded = _round_trip(array)
    assert loaded.dtype == array.dtype
    assert loaded.shape == array.shape
    assert loaded.tobytes() == array.tobytes()


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(-(2**62), 2**62), st.floats(allow_nan=False), st.text(max_size=8)),
        max_size=20,
    )
)
def test_pandas_frames_round_trip_and_rebuilt_frames_hash_equal(
    rows: list[tuple[int, float, str]],
) -> None:
    def build() -> pd.DataFrame:
        return pd.DataFrame(
            {
                "i": pd.Series([r[0] for r in rows], dtype="int64"),
                "f": pd.Series([r[1] for r in rows], dtype="float64"),
                "s": pd.Series([r[2] for r in rows], dtype="str"),
            }
        )

    frame = build()
    saved = save_value(STORE, frame)
    pd.testing.assert_frame_equal(
        load_value(STORE, saved.hash, saved.materializer, saved.meta), frame
    )
    assert save_value(STORE, build()).hash == saved.hash
