"""``ws.features.historical`` on real data (gapminder, 1952-2007): values as they were at
each row's time, lineage recorded, inside a pipeline with ``load_features``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conveyor.features import EntityFrameError
from conveyor.workspace import Workspace
from features_support import gapminder, make_project


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = make_project(tmp_path / "p")
    workspace = Workspace.open(root, env={}, search_parents=False)
    workspace.datasets.add("gapminder", gapminder())
    workspace.features.apply()
    return workspace


def test_rows_get_the_values_known_at_their_time_before_1970_too(ws: Workspace) -> None:
    events = pd.DataFrame(
        {
            "country": ["Norway", "Norway", "Norway", "Japan", "Atlantis"],
            "event_timestamp": pd.to_datetime(
                ["1952-06-30", "1952-07-01", "1980-01-01", "1960-03-15", "2000-01-01"], utc=True
            ),
            "label": [0, 1, 0, 1, 1],
        }
    )
    with ws:
        got = ws.features.historical(events, "life")
    data = gapminder().set_index(["country", "event_timestamp"])
    norway = data.loc["Norway"]
    assert pd.isna(got.loc[0, "lifeExp"])  # a day before the first row: nothing yet
    assert got.loc[1, "lifeExp"] == norway["lifeExp"].iloc[0]  # at the exact time
    assert got.loc[2, "lifeExp"] == norway.loc[pd.Timestamp("1977-07-01", tz="UTC"), "lifeExp"]
    japan = data.loc["Japan"].loc[pd.Timestamp("1957-07-01", tz="UTC")]
    assert got.loc[3, "pop"] == japan["pop"]
    assert got.loc[3, "gdp_billions"] == pytest.approx(japan["gdpPercap"] * japan["pop"] / 1e9)
    assert pd.isna(got.loc[4, "lifeExp"])
    assert list(got["label"]) == [0, 1, 0, 1, 1]  # the entity frame's columns are kept
    lineage = got.attrs["conveyor.features"]
    assert lineage["service"] == "life@1"
    assert lineage["views"]["country_gdp"] == {
        "version": 1,
        "dataset": "gapminder@1",
        "features": ["gdp_billions"],
    }


def test_the_ttl_hides_values_that_are_too_old(ws: Workspace) -> None:
    events = pd.DataFrame(
        {
            "country": ["Norway", "Norway"],
            "event_timestamp": pd.to_datetime(["2017-06-30", "2017-07-02"], utc=True),
        }
    )
    with ws:
        got = ws.features.historical(events, ["country_stats:lifeExp", "country_gdp"])
    assert got.loc[0, "lifeExp"] == pytest.approx(80.196)  # 3653 days after 2007-07-01
    assert pd.isna(got.loc[1, "lifeExp"])  # past country_stats' ttl
    assert not pd.isna(got.loc[1, "gdp_billions"])  # country_gdp has no ttl


def test_bad_entity_frames_are_refused_naming_the_problem(ws: Workspace) -> None:
    with ws:
        with pytest.raises(EntityFrameError, match="event_timestamp"):
            ws.features.historical(pd.DataFrame({"country": ["Norway"]}), "life")
        mixed = pd.DataFrame(
            {
                "country": ["Norway", "Japan"],
                "event_timestamp": [
                    pd.Timestamp("1990-01-01"),
                    pd.Timestamp("1990-01-01", tz="UTC"),
                ],
            }
        )
        with pytest.raises(EntityFrameError, match="mix"):
            ws.features.historical(mixed, "life")
        with pytest.raises(EntityFrameError, match="country"):
            ws.features.historical(
                pd.DataFrame({"nation": ["Norway"], "event_timestamp": ["1990-01-01"]}), "life"
            )
