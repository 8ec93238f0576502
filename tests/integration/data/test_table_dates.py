"""A date column of a CSV table loads as datetime64, as pandas users expect."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from conveyor.workspace import Workspace


def test_a_csv_date_column_loads_as_datetime64(tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text("project: {name: dates}\n", encoding="utf-8")
    (tmp_path / "visits.csv").write_text(
        "visit_date,score\n2025-01-02,1.5\n2025-03-04,2.5\n,3.0\n", encoding="utf-8"
    )
    with Workspace.open(tmp_path, search_parents=False) as ws:
        ws.datasets.add("visits", tmp_path / "visits.csv")
        frame = ws.datasets.load("visits@1")
    assert pd.api.types.is_datetime64_any_dtype(frame["visit_date"])
    assert frame["visit_date"].iloc[1] == pd.Timestamp("2025-03-04")
    assert frame["visit_date"].isna().iloc[2]
