"""How the skew check compares an online value with an offline one, per feature type."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from conveyor.features._skew import same_value

finite = st.floats(allow_nan=False, allow_infinity=False)


def test_floats_agree_within_a_relative_tolerance_and_missing_equals_missing() -> None:
    assert same_value(0.1 + 0.2, 0.3, "float64")
    assert same_value(1e-13, 0.0, "float64")
    assert not same_value(1.0, 1.0 + 1e-6, "float64")
    assert same_value(None, math.nan, "float64")
    assert same_value(None, np.float64("nan"), "float64")
    assert not same_value(None, 0.0, "float64")
    assert not same_value(0.0, math.nan, "float64")


def test_integers_strings_booleans_and_datetimes_agree_exactly() -> None:
    assert same_value(2**62 + 1, np.int64(2**62 + 1), "int64")
    assert not same_value(2**62 + 1, 2**62, "int64")
    assert same_value(None, pd.NA, "int64")
    assert not same_value(True, 1, "int64")
    assert same_value("Asia", "Asia", "string")
    assert not same_value("Asia", "asia", "string")
    assert not same_value("1", 1, "string")
    assert same_value(True, np.bool_(True), "bool")
    assert not same_value(True, 1, "bool")
    stamp = pd.Timestamp("2007-07-01", tz="UTC")
    assert same_value(stamp.isoformat(), stamp, "datetime")
    assert same_value("2007-07-01T02:00:00+02:00", stamp, "datetime")
    assert not same_value(stamp.isoformat(), stamp + pd.Timedelta(microseconds=1), "datetime")
    assert same_value(None, pd.NaT, "datetime")


@given(finite, finite)
def test_the_float_comparison_is_reflexive_and_symmetric(a: float, b: float) -> None:
    assert same_value(a, a, "float64")
    assert same_value(a, b, "float64") == same_value(b, a, "float64")


@given(finite)
def test_a_float_that_went_through_json_compares_equal(a: float) -> None:
    import json

    assert same_value(json.loads(json.dumps(a)), np.float64(a), "float64")
