"""A feature store project on real data shipped with plotly (gapminder: string country
keys, yearly rows, ints, floats and strings), for the feature store's tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.data

FEATURES_PY = """
from datetime import timedelta

from conveyor.features import Entity, FeatureService, FeatureView, transformation

country = Entity("country", join_keys=["country"])


@transformation("gapminder@latest")
def with_gdp(frame):
    return frame.assign(gdp_billions=frame["gdpPercap"] * frame["pop"] / 1e9)


country_stats = FeatureView(
    "country_stats",
    entities=[country],
    source="gapminder@latest",
    schema={"lifeExp": "float64", "pop": "int64", "continent": "string"},
    ttl=timedelta(days=3653),
)
country_gdp = FeatureView(
    "country_gdp",
    entities=[country],
    source=with_gdp,
    schema={"gdp_billions": "float64"},
)
life = FeatureService("life", [country_stats, "country_gdp:gdp_billions"])
"""


def gapminder() -> pd.DataFrame:
    """Gapminder with an event timestamp (the 1st of July of each row's year)."""
    frame = plotly.data.gapminder()
    frame["event_timestamp"] = pd.to_datetime(frame["year"].astype(str) + "-07-01", utc=True)
    return frame[
        ["country", "continent", "event_timestamp", "lifeExp", "pop", "gdpPercap", "iso_alpha"]
    ]


def make_project(root: Path, metadata_url: str | None = None, features: str = FEATURES_PY) -> Path:
    """A project folder with ``conveyor.yaml`` and ``features.py`` (no data yet)."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ["project:", "  name: features-test", "store:"]
    if metadata_url:
        lines.append(f"  metadata_url: {metadata_url}")
    lines.append("  artifact_url: .conveyor/artifacts")
    (root / "conveyor.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "features.py").write_text(features, encoding="utf-8")
    return root
