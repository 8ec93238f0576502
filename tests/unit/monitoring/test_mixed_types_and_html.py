"""Drift on real mixed-type data (penguins: strings, missing values; plus bool and datetime
columns), and the HTML report rendering its summary safely."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.data import compute_profile
from conveyor.monitoring import MonitoringReport
from conveyor.monitoring._assess import assess_window
from conveyor.monitoring._render import render_html

palmerpenguins = pytest.importorskip("palmerpenguins")


def penguins() -> pd.DataFrame:
    frame = palmerpenguins.load_penguins()
    frame["heavy"] = frame["body_mass_g"] > 4000
    offsets = pd.to_timedelta(np.arange(len(frame)) % 90, unit="D")
    frame["measured_at"] = pd.to_datetime(frame["year"].astype(str) + "-06-01", utc=True)
    frame["measured_at"] += offsets
    return frame


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    return compute_profile(pa.Table.from_pandas(penguins(), preserve_index=False))


def as_log(frame: pd.DataFrame) -> pd.DataFrame:
    log = frame.add_prefix("in_").reset_index(drop=True)
    log["prediction"] = 0
    log["label"] = None
    log["at"] = pd.date_range(datetime(2026, 1, 1, tzinfo=UTC), periods=len(frame), freq="s")
    return log


def test_unshifted_penguins_do_not_drift_on_any_type(profile: dict[str, Any]) -> None:
    window = penguins().sample(300, random_state=1, replace=True)
    result = assess_window(as_log(window), profile)
    assert result["verdict"] == "ok"
    tests = {name: entry["test"] for name, entry in result["drift"]["features"].items()}
    assert tests["species"] == tests["sex"] == tests["heavy"] == "chi_square"
    assert result["drift"]["drifted"] == []
    assert result["quality"]["issues"] == []
    measured = result["quality"]["columns"]["measured_at"]
    assert measured["status"] == "untested"
    assert measured["after_range_share"] == 0.0


def test_only_gentoo_drifts_on_strings_and_bools_and_dates_are_reported(
    profile: dict[str, Any],
) -> None:
    window = penguins()
    window = window[window["species"] == "Gentoo"].sample(300, random_state=2, replace=True)
    window["measured_at"] += pd.Timedelta(days=1200)
    result = assess_window(as_log(window), profile)
    assert result["verdict"] == "drift"
    assert {"species", "island", "heavy"} <= set(result["drift"]["drifted"])
    assert "sex" not in result["drift"]["drifted"]
    measured = result["quality"]["columns"]["measured_at"]
    assert measured["after_range_share"] == 1.0
    assert "100% of the window is after" in measured["message"]


def test_dates_logged_as_iso_text_parse_and_garbage_is_counted(profile: dict[str, Any]) -> None:
    window = penguins().head(50).copy()
    text = window["measured_at"].map(lambda t: t.isoformat()).astype(object)
    text.iloc[0] = "not a date"
    text.iloc[1] = "99999-01-01T00:00:00"
    window["measured_at"] = text
    result = assess_window(as_log(window), profile)
    measured = result["quality"]["columns"]["measured_at"]
    assert measured["status"] == "untested"
    assert measured["unparseable"] == 2
    assert "measured_at" in result["quality"]["issues"]


def test_a_lone_surrogate_in_a_text_column_is_a_quality_issue_not_a_crash(
    profile: dict[str, Any],
) -> None:
    window = penguins().sample(300, random_state=3, replace=True)
    window["species"] = window["species"].astype(object)
    window.iloc[0, window.columns.get_loc("species")] = "Adelie\ud800"
    result = assess_window(as_log(window), profile)
    species = result["quality"]["columns"]["species"]
    assert species["status"] == "type_mismatch"
    assert "not valid UTF-8" in species["message"]
    assert "species" in result["quality"]["issues"]
    assert "island" in result["drift"]["features"]


def report(message: str, feature: str) -> MonitoringReport:
    return MonitoringReport(
        id=7,
        environment="production",
        model="churn",
        version=3,
        revision=2,
        window_start=datetime(2026, 1, 1, tzinfo=UTC),
        window_end=datetime(2026, 1, 2, tzinfo=UTC),
        rows=500,
        labelled_rows=0,
        verdict="drift",
        message=message,
        reference={"datasets": ["train@1"]},
        drift={
            "features": {
                feature: {"test": "ks", "score": 0.001, "threshold": 0.01, "drifted": True},
                "x1": {"test": "ks", "score": 0.5, "threshold": 0.01, "drifted": False},
            },
            "drifted": [feature],
            "tested": 2,
            "share": 0.5,
        },
        performance={"value": None},
        quality={"columns": {}, "issues": []},
        content_hash="0" * 64,
        created_at=datetime(2026, 1, 2, tzinfo=UTC),
        actor="tester",
    )


def test_html_renders_the_summary_instead_of_showing_markdown() -> None:
    page = render_html(report("1 of 2 features drifted: x0.", "x0"), [])
    assert "<h1>Monitoring report 7: production / churn@3</h1>" in page
    assert "<strong>Verdict: drift</strong>" in page
    assert "<table>" in page
    assert "<td>x0</td>" in page
    assert "**Verdict" not in page
    assert "| --- |" not in page


def test_hostile_names_and_messages_reach_the_html_as_text() -> None:
    evil = "<script>alert(1)</script>|[x](javascript:alert(2))*b*"
    page = render_html(report(f"drifted: {evil}", evil), [])
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript' not in page
    assert "<em>b</em>" not in page
