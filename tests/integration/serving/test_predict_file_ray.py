"""Batch scoring on a real local Ray: row groups scored by actors give the local output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_predict_file import _leftovers, _parquet, built_models, models, penguins

from conveyor.serving import BatchInputError, InvalidValueError, predict_file

__all__ = ["built_models", "models"]  # the fixtures, shared with the local tests

pytestmark = pytest.mark.slow  # starting Ray takes seconds


def test_ray_output_equals_local_output(ray_session: Any, models: Any, tmp_path: Path) -> None:
    ws, *_ = models
    frame = penguins()
    source = _parquet(frame, tmp_path / "in.parquet", row_group_size=40)  # 9 row groups
    local = predict_file(ws, "penguins@1", source, tmp_path / "local.parquet", batch_rows=25)
    remote = predict_file(
        ws, "penguins@1", source, tmp_path / "ray.parquet", batch_rows=25, executor="ray"
    )
    assert remote.executor == "ray"
    assert remote.rows == local.rows == 344
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "ray.parquet"), pd.read_parquet(tmp_path / "local.parquet")
    )
    assert _leftovers(tmp_path) == []  # part files removed


def test_ray_probabilities_equal_local_ones(ray_session: Any, models: Any, tmp_path: Path) -> None:
    ws, *_ = models
    source = _parquet(penguins(), tmp_path / "in.parquet", row_group_size=100)
    options: dict[str, Any] = {"proba": True, "keep": ["island"]}
    predict_file(ws, "penguins@1", source, tmp_path / "local.csv", **options)
    predict_file(ws, "penguins@1", source, tmp_path / "ray.csv", executor="ray", **options)
    assert (tmp_path / "ray.csv").read_text() == (tmp_path / "local.csv").read_text()


def test_a_bad_row_on_ray_is_named_like_locally(
    ray_session: Any, models: Any, tmp_path: Path
) -> None:
    ws, *_ = models
    frame = penguins()
    frame.loc[123, "bill_depth_mm"] = float("inf")
    source = _parquet(frame, tmp_path / "inf.parquet", row_group_size=50)
    with pytest.raises(InvalidValueError, match=r"inf\.parquet, row 123: Column 'bill_depth_mm'"):
        predict_file(ws, "penguins@1", source, tmp_path / "out.parquet", executor="ray")
    assert not (tmp_path / "out.parquet").exists()
    assert _leftovers(tmp_path) == []


def test_a_csv_input_on_ray_is_refused(ray_session: Any, models: Any, tmp_path: Path) -> None:
    ws, *_ = models
    source = tmp_path / "in.csv"
    penguins().to_csv(source, index=False)
    with pytest.raises(BatchInputError, match=r"splits Parquet row groups; .*in\.csv is CSV"):
        predict_file(ws, "penguins@1", source, tmp_path / "out.parquet", executor="ray")
