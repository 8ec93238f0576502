"""Column-at-a-time validation: numeric columns skip the per-value checks, and every column,
valid or not, gets the same values or the same error as the per-value checks give."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from conveyor.serving import ServedModel, ServingSettings
from conveyor.serving import _inputs as inputs
from conveyor.serving._errors import RequestError
from conveyor.serving._model import InputColumn

NAN, INF = float("nan"), float("inf")
VALUES: list[list[Any]] = [
    [1.5, 2.0, -3.25],
    [1, 2, 3],
    [1, 2.5, 3],
    [1.0, 2.0, 3.0],
    [1.0, None, 3.0],
    [None, None],
    [1.0, NAN],
    [1.0, INF, None],
    [None, -INF],
    [True, 1.0],
    [1.0, False],
    ["1.5", 2.0],
    [1.0, "x"],
    [2**63 - 1, 1],
    [2**63, 1],
    [-(2**63), 1],
    [2**64 - 1],
    [10**400],
    [1.0, 2**70],
    [9.3e18, 1.0],
    [1.0, [1.0]],
    [{"a": 1}],
    ["a", "b"],
    ["a", None],
    ["a", 1],
    [True, False],
]
TYPES = ["double", "float", "long", "integer", "boolean", "string", "datetime"]


def _outcome(clean: Any, column: InputColumn, values: list[Any], settings: Any) -> Any:
    try:
        result = clean(column, values, settings)
    except RequestError as exc:
        return ("error", type(exc).__name__, exc.message, exc.fields)
    return ("ok", [None if v is None else (v if v == v else "nan") for v in list(result)])


@pytest.mark.parametrize(
    ("kind", "nullable", "policy"),
    list(itertools.product(TYPES, [False, True], ["reject", "null"])),
)
def test_whole_column_checks_agree_with_the_per_value_checks(
    kind: str, nullable: bool, policy: str
) -> None:
    column = InputColumn("x", kind, nullable)
    settings = ServingSettings(non_finite=policy)  # type: ignore[arg-type]
    for values in VALUES:
        fast = _outcome(inputs._clean, column, values, settings)
        slow = _outcome(inputs._clean_values, column, values, settings)
        assert fast == slow, (kind, nullable, policy, values)


class _Array:
    def predict(self, frame: Any) -> Any:
        return np.zeros(len(frame))

    def predict_array(self, x: Any) -> Any:
        return x.sum(axis=1)


def test_numeric_columns_take_the_columnar_path(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ServedModel("m", 1, _Array(), (InputColumn("a", "double"), InputColumn("b", "long")))
    calls: list[str] = []
    per_value = inputs._clean_values

    def counted(column: InputColumn, values: Any, settings: Any) -> Any:
        calls.append(column.name)
        return per_value(column, values, settings)

    monkeypatch.setattr(inputs, "_clean_values", counted)
    settings = ServingSettings()
    records = [{"a": i / 3, "b": i} for i in range(100)]
    rows = inputs.from_records(model, records, settings)
    assert calls == []
    assert isinstance(rows.columns["a"], np.ndarray)
    assert rows.columns["b"].dtype == np.int64  # type: ignore[attr-defined]
    assert rows.n == 100
    assert rows.matrix is not None
    assert rows.matrix.shape == (100, 2)
    assert rows.records()[3] == {"a": 1.0, "b": 3}
    assert rows.matrix[:, 1].tolist() == list(range(100))
    # A null in a non-nullable column goes to the per-value checks, which name it.
    with pytest.raises(RequestError, match="not nullable"):
        inputs.from_columns(model, {"a": [1.0, None], "b": [1, 2]}, settings)
    assert calls == ["a"]


@pytest.mark.parametrize(
    ("kind", "array", "fragment"),
    [
        ("double", np.array([1.0, np.inf]), "NaN and Infinity are not accepted"),
        ("double", np.array([True, False]), "got True (a boolean)"),
        ("long", np.array([1.0, 2.5]), "got 2.5 (a non-integer number)"),
        ("long", np.array([1e19]), "out of the 64-bit integer range"),
        ("long", np.array([2**64 - 1], dtype=np.uint64), "out of the 64-bit integer range"),
        ("boolean", np.array([1, 0]), "got 1 (a int)"),
        ("string", np.array([1.0]), "got 1.0 (a float)"),
    ],
)
def test_array_columns_are_checked_by_dtype(kind: str, array: Any, fragment: str) -> None:
    with pytest.raises(RequestError) as caught:
        inputs.clean_array(InputColumn("x", kind), array, ServingSettings())
    assert fragment in caught.value.message
    assert caught.value.status == 422


def test_array_columns_that_fit_are_converted() -> None:
    settings = ServingSettings()
    as_double = inputs.clean_array(
        InputColumn("x", "double"), np.array([1, 2], dtype=np.int16), settings
    )
    assert as_double.dtype == np.float64
    as_long = inputs.clean_array(InputColumn("x", "long"), np.array([3.0, -4.0]), settings)
    assert as_long.tolist() == [3, -4]
    assert as_long.dtype == np.int64
    nulls = inputs.clean_array(
        InputColumn("x", "double", nullable=True),
        np.array([1.0, np.nan]),
        ServingSettings(non_finite="null"),
    )
    assert np.isnan(nulls[1])


def test_row_shapes_are_still_checked_row_by_row_when_they_differ() -> None:
    model = ServedModel("m", 1, _Array(), (InputColumn("a", "double"), InputColumn("b", "long")))
    settings = ServingSettings()
    with pytest.raises(RequestError, match=r"Some rows lack column\(s\): b\."):
        inputs.from_records(model, [{"a": 1.0, "b": 1}, {"a": 2.0}], settings)
    with pytest.raises(RequestError, match="Every row must be a JSON object; got list"):
        inputs.from_records(model, [{"a": 1.0, "b": 1}, [2.0, 2]], settings)
    with pytest.raises(RequestError, match="must be a list of 2 values"):
        inputs.from_split(model, ["a", "b"], [[1.0, 1], [2.0]], settings)
    with pytest.raises(RequestError, match=r"Column 'b' expects long; got 2\.5"):
        inputs.from_split(model, ["b", "a"], [[1, 1.0], [2.5, 2.0]], settings)
    split = inputs.from_split(model, ["b", "a"], [[1, 1.5], [2, 2.5]], settings)
    records = inputs.from_records(model, [{"b": 1, "a": 1.5}, {"a": 2.5, "b": 2}], settings)
    assert split.records() == records.records() == [{"a": 1.5, "b": 1}, {"a": 2.5, "b": 2}]
    assert split.matrix is not None
    assert split.matrix.tolist() == [[1.5, 1.0], [2.5, 2.0]]
