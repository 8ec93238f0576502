"""How AutoML plans to encode raw feature columns, and the columns it refuses by name."""

from __future__ import annotations

import numpy as np
import palmerpenguins
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from conveyor.tuning import TuneError
from conveyor.tuning.automl import UnusableColumnError
from conveyor.tuning.automl._features import plan_features


def test_penguins_strings_and_missing_values_are_encoded_and_datetimes_dropped() -> None:
    frame = palmerpenguins.load_penguins().drop(columns=["species"])
    frame["measured"] = pd.to_datetime(frame["year"].astype(str) + "-06-01")
    frame["tagged"] = frame.index % 2 == 0
    plan = plan_features(frame)
    assert set(plan.categorical) == {"island", "sex", "tagged"}
    assert set(plan.numeric) == {
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "year",
    }
    assert plan.missing
    assert list(plan.dropped) == ["measured"]
    assert "datetime64" in plan.dropped["measured"]
    encoded = plan.pipeline(Ridge()).fit(frame, frame.index.to_numpy(dtype=float))
    unseen = frame.head(2).assign(island=["Atlantis", None])
    assert encoded.predict(unseen).shape == (2,)


def test_a_numeric_frame_without_missing_values_goes_to_the_estimator_as_is() -> None:
    X, _ = load_diabetes(return_X_y=True, as_frame=True)
    plan = plan_features(X)
    assert not plan.needs_encoding
    model = Ridge()
    assert plan.pipeline(model) is model
    assert not plan_features(X.to_numpy()).needs_encoding


def test_an_array_with_missing_values_is_imputed_by_position() -> None:
    array = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]])
    plan = plan_features(array)
    assert plan.numeric == (0, 1)
    assert plan.missing
    fitted = plan.pipeline(Ridge()).fit(array, [1.0, 2.0, 3.0])
    assert np.isfinite(fitted.predict(array)).all()


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ([["a"], ["b"], ["c"]], "holds list values"),
        ([b"\xff\xfe", b"\x00", b"ok"], "holds bytes values"),
        (["red", 3, "blue"], "holds number, str values"),
        ([1.0, np.inf, 2.0], "holds infinite values"),
        ([1, 2.5, 3], "holds numbers stored as Python objects"),
        ([1 + 2j, 3j, 1 + 0j], "has a dtype no encoder accepts"),
    ],
    ids=["lists", "bytes", "mixed", "infinite", "object-numbers", "complex"],
)
def test_a_column_no_encoder_can_use_is_refused_naming_it_and_its_dtype(
    values: list[object], problem: str
) -> None:
    dtype = object if problem.startswith("holds numbers stored") else None
    frame = pd.DataFrame({"fine": [1.0, 2.0, 3.0], "bad\ncol": pd.Series(values, dtype=dtype)})
    with pytest.raises(UnusableColumnError, match=problem) as caught:
        plan_features(frame)
    error = caught.value
    assert isinstance(error, TuneError)
    assert error.fields["column"] == "bad\ncol"
    assert error.fields["dtype"] == str(frame["bad\ncol"].dtype)
    assert repr("bad\ncol") in error.message
    assert error.hint


def test_a_frame_of_only_datetimes_has_no_usable_column() -> None:
    frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=3)})
    with pytest.raises(UnusableColumnError, match="No feature column is usable: when"):
        plan_features(frame)


def test_a_repeated_column_name_is_refused_naming_it() -> None:
    frame = pd.DataFrame([[1.0, "a", 2.0]], columns=["x", "y", "x"])
    with pytest.raises(UnusableColumnError, match="more than one column") as caught:
        plan_features(frame)
    assert caught.value.fields["column"] == "x"
