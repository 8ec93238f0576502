"""The data checks on palmerpenguins stored in a real workspace (strings, booleans,
datetimes and missing values through Parquet): a new season passes, a broken one fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import palmerpenguins
import pandas as pd
import pytest

from conveyor.checks import CheckContext, CheckSpec, run_checks
from conveyor.checks.data import infer_schema
from conveyor.workspace import Workspace

SPECS = [
    CheckSpec("schema"),
    CheckSpec("anomalies"),
    CheckSpec("data_drift"),
    CheckSpec("feature_importance", {"target": "species"}),
]


def _penguins() -> pd.DataFrame:
    frame = palmerpenguins.load_penguins()
    frame["tagged"] = frame.index % 3 == 0
    frame["measured"] = pd.to_datetime(frame["year"].astype(str) + "-06-01") + pd.to_timedelta(
        frame.index % 60, unit="D"
    )
    return frame


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """penguins@1: the 2007-2008 seasons, with its schema inferred and stored."""
    frame = _penguins()
    with Workspace.open(tmp_path / "project", env={}) as workspace:
        workspace.datasets.add("penguins", frame[frame["year"] < 2009].reset_index(drop=True))
        infer_schema(workspace, "penguins@1")
        yield workspace


def _season_2009() -> pd.DataFrame:
    frame = _penguins()
    return frame[frame["year"] == 2009].reset_index(drop=True)


def test_the_next_season_passes_every_data_check(ws: Workspace) -> None:
    ws.datasets.add("penguins", _season_2009())
    with CheckContext(ws, dataset="penguins@2", target="species") as ctx:
        suite = run_checks(ctx, SPECS)
    by_name = {r.name: r for r in suite.results}
    assert by_name["schema"].passed, by_name["schema"].explanation
    assert by_name["anomalies"].passed, by_name["anomalies"].explanation
    assert "measured" in by_name["data_drift"].details["skipped"]
    flagged = set(by_name["feature_importance"].details["flagged"])
    assert not {"island", "bill_length_mm"} & flagged


def test_a_season_with_masses_ten_times_too_large_is_rejected_naming_the_column(
    ws: Workspace,
) -> None:
    broken = _season_2009()
    broken["body_mass_g"] = broken["body_mass_g"] * 10
    broken.loc[0, "island"] = "Atlantis"
    ws.datasets.add("penguins", broken)
    with CheckContext(ws, dataset="penguins@2", target="species") as ctx:
        suite = run_checks(ctx, SPECS)
    by_name = {r.name: r for r in suite.results}
    schema = by_name["schema"]
    assert not schema.passed
    assert schema.details["failing_columns"] == ["island", "body_mass_g"]
    assert "'Atlantis'" in schema.explanation
    assert "body_mass_g" in by_name["anomalies"].details["columns"]
    assert "body_mass_g" in by_name["data_drift"].details["drifted"]
    assert np.isfinite(by_name["data_drift"].value)
