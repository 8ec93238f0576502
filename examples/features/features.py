"""The example's features: what was known about a country at a given time.

``conveyor features apply`` records these definitions; training joins them to each
observation as of its own time (``conveyor.load_features`` in ``pipelines.py``), and the
prediction server looks them up online by ``country``.
"""

from __future__ import annotations

import pandas as pd

from conveyor.features import Entity, FeatureService, FeatureView, transformation

country = Entity("country", join_keys=["country"], description="A country of gapminder.")

country_stats = FeatureView(
    "country_stats",
    entities=[country],
    source="gapminder@latest",
    schema={"continent": "string", "lifeExp": "float64", "pop": "int64", "gdpPercap": "float64"},
    description="Each country's latest published statistics.",
)


@transformation("gapminder@latest")
def five_year_trends(frame: pd.DataFrame) -> pd.DataFrame:
    """How each country changed over the five years up to each row: the relative growth of
    its GDP per capita and the years of life expectancy it gained. A country's first period
    has no earlier one, so it has no trend."""
    ordered = frame.sort_values(["country", "event_timestamp"])
    earlier = ordered.groupby("country")[["gdpPercap", "lifeExp"]].shift(1)
    trends = ordered.assign(
        gdp_growth=ordered["gdpPercap"] / earlier["gdpPercap"] - 1.0,
        life_gain=ordered["lifeExp"] - earlier["lifeExp"],
    )
    return trends[earlier["gdpPercap"].notna()]


country_trends = FeatureView(
    "country_trends",
    entities=[country],
    source=five_year_trends,
    schema={"gdp_growth": "float64", "life_gain": "float64"},
    description="Five-year trends of each country, from its statistics.",
)

life_outlook = FeatureService(
    "life_outlook",
    [country_stats, country_trends],
    description="What the life-expectancy model looks up for a country.",
)
