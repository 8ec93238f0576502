"""ModelHost routing, atomic swaps and background loading; input validation rules."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.serving import (
    InputColumn,
    InvalidValueError,
    MissingColumnsError,
    ModelHost,
    ModelNotServedError,
    NotReadyError,
    RouteRequest,
    ServedModel,
    ServingConfigError,
    ServingSettings,
    TooManyRowsError,
)
from conveyor.serving._inputs import from_columns, from_records


class Doubler:
    def predict(self, frame: Any) -> Any:
        return frame.to_numpy().sum(axis=1) * 2

    def predict_array(self, x: Any) -> Any:
        return x.sum(axis=1) * 2


def _model(name: str = "m", version: int = 1, nullable: bool = False) -> ServedModel:
    columns = (InputColumn("a", "double", nullable), InputColumn("n", "long"))
    return ServedModel(name, version, Doubler(), columns)


def _req(name: str | None = None, version: int | None = None) -> RouteRequest:
    return RouteRequest(name, version, "r1")


def test_empty_host_is_not_ready_and_says_so() -> None:
    host = ModelHost()
    assert not host.ready
    with pytest.raises(NotReadyError, match="No model is loaded yet"):
        host.route(_req())


def test_default_router_serves_the_latest_added_version_and_explicit_versions_stay_reachable() -> (
    None
):
    host = ModelHost()
    first, second = _model(version=1), _model(version=2)
    host.add(first)
    host.add(second)
    assert host.route(_req()) is second
    assert host.route(_req("m", 1)) is first
    with pytest.raises(
        ModelNotServedError, match=r"Model m@3 is not served here\. Served: m@1, m@2"
    ):
        host.route(_req("m", 3))
    host.remove("m", 2)
    assert host.route(_req("m")) is first


def test_swap_replaces_everything_at_once_while_readers_see_whole_states() -> None:
    host = ModelHost()
    host.add(_model("a"))
    seen: set[tuple[str, ...]] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.add(tuple(sorted(n for n, _ in host.state.models)))

    thread = threading.Thread(target=reader)
    thread.start()
    for _ in range(200):
        host.swap([_model("b"), _model("c")])
        assert sorted(n for n, _ in host.state.models) == ["b", "c"]
        host.swap([_model("a")])
        assert [n for n, _ in host.state.models] == ["a"]
    stop.set()
    thread.join()
    assert seen <= {("a",), ("b", "c")}


def test_background_load_failure_keeps_the_host_unready_with_the_error() -> None:
    host = ModelHost()

    def broken() -> ServedModel:
        raise RuntimeError("bytes do not match")

    host.load_in_background(broken).join(5)
    assert not host.ready
    assert "bytes do not match" in str(host.load_error)
    host.load_in_background(_model).join(5)
    assert host.state.models


def test_records_become_one_float_matrix_on_the_array_path() -> None:
    rows = from_records(_model(), [{"a": 1, "n": 2}, {"a": 0.5, "n": 3.0}], ServingSettings())
    assert rows.matrix is not None
    assert rows.matrix.tolist() == [[1.0, 2.0], [0.5, 3.0]]
    assert rows.records() == [{"a": 1.0, "n": 2}, {"a": 0.5, "n": 3}]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"a": "1", "n": 2}, "Column 'a' expects double; got '1' \\(a string\\)"),
        ({"a": 1.0, "n": 2.5}, "Column 'n' expects long; got 2.5 \\(a non-integer number\\)"),
        ({"a": True, "n": 2}, "Column 'a' expects double; got True \\(a boolean\\)"),
        ({"a": None, "n": 2}, "not nullable"),
    ],
)
def test_wrongly_typed_values_name_the_column(row: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        from_records(_model(), [row], ServingSettings())


def test_missing_columns_are_listed_and_null_is_nan_in_nullable_columns() -> None:
    with pytest.raises(MissingColumnsError, match="Missing column\\(s\\): n") as info:
        from_columns(_model(), {"a": [1.0]}, ServingSettings())
    assert info.value.fields["missing"] == ["n"]
    rows = from_records(_model(nullable=True), [{"a": None, "n": 1}], ServingSettings())
    assert rows.matrix is not None
    assert np.isnan(rows.matrix[0, 0])


def test_row_limit_and_settings_are_checked() -> None:
    with pytest.raises(TooManyRowsError, match="holds 3 rows; at most 2"):
        from_records(_model(), [{"a": 1.0, "n": 1}] * 3, ServingSettings(max_batch_rows=2))
    with pytest.raises(ServingConfigError, match="extra_columns='drop' is not a policy"):
        ServingSettings(extra_columns="drop")  # type: ignore[arg-type]


@given(
    st.lists(
        st.tuples(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53)),
        min_size=1,
        max_size=20,
    )
)
def test_rows_and_columns_payloads_validate_to_the_same_matrix(
    values: list[tuple[float, int]],
) -> None:
    model = _model()
    by_rows = from_records(model, [{"a": a, "n": n} for a, n in values], ServingSettings())
    by_columns = from_columns(
        model, {"a": [a for a, _ in values], "n": [n for _, n in values]}, ServingSettings()
    )
    assert by_rows.matrix is not None
    assert by_columns.matrix is not None
    assert by_rows.matrix.tobytes() == by_columns.matrix.tobytes()
