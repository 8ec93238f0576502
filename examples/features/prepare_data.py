"""Write the gapminder data as the example's two datasets, in ``data/``.

Gapminder ships with plotly (``plotly.data.gapminder()``: 142 countries, one row per
country every five years from 1952 to 2007), so nothing is downloaded.

- ``data/gapminder.parquet``: what was published about each country each period (its
  continent, life expectancy, population and GDP per capita), stamped with the time it
  became known (``event_timestamp``, the 1st of July of the year). The feature views read it.
- ``data/observations.parquet``: the labelled observations, one per country and period
  from 1957 to 2002: ``country``, ``event_timestamp`` and ``rises``, 1 when life expectancy
  rose by more than :data:`RISE_YEARS` years over the next five-year period. That label is
  known only five years later, so the features of an observation must be the values known
  at its own time: a later row would leak the answer.

Version them with ``conveyor data add gapminder data/gapminder.parquet`` and
``conveyor data add observations data/observations.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.data

#: Years of life expectancy gained over the next five years above which ``rises`` is 1
#: (about the median gain: the classes are balanced).
RISE_YEARS = 1.5
#: The first period observed: the feature views need one period before it for the trends.
FIRST_YEAR = 1957


def gapminder() -> pd.DataFrame:
    """The published statistics, one row per country and period, with their timestamp."""
    frame = plotly.data.gapminder()
    frame["event_timestamp"] = pd.to_datetime(frame["year"].astype(str) + "-07-01", utc=True)
    columns = ["country", "continent", "event_timestamp", "lifeExp", "pop", "gdpPercap"]
    return frame.sort_values(["country", "year"])[columns].reset_index(drop=True)


def observations(stats: pd.DataFrame) -> pd.DataFrame:
    """One labelled row per country and period that has a next period: the key, the time
    and whether life expectancy rose by more than ``RISE_YEARS`` by the next period."""
    ordered = stats.sort_values(["country", "event_timestamp"])
    later = ordered.groupby("country")["lifeExp"].shift(-1)
    labelled = ordered.assign(rises=(later - ordered["lifeExp"] > RISE_YEARS).astype("int64"))
    labelled = labelled[later.notna() & (ordered["event_timestamp"].dt.year >= FIRST_YEAR)]
    return labelled[["country", "event_timestamp", "rises"]].reset_index(drop=True)


def main(folder: Path = Path(__file__).parent / "data") -> list[Path]:
    """Write both Parquet files and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stats = gapminder()
    written = []
    for name, frame in (("gapminder", stats), ("observations", observations(stats))):
        path = folder / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in main():
        print(f"wrote {path} ({len(pd.read_parquet(path))} rows)")
