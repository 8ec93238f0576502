"""The skew check on real data (plotly's gapminder): it fails when a view's definition
changed without a new materialization, passes right after one, and says why it fails."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from conveyor.errors import ConfigError
from conveyor.features import FeatureNotFoundError
from conveyor.features._skew import feature_skew
from conveyor.workspace import Workspace
from features_support import make_project

FEATURES_PY = """
from datetime import timedelta

import pandas as pd

from conveyor.features import Entity, FeatureService, FeatureView, transformation

country = Entity("country", join_keys=["country"])
region = Entity("region", join_keys=["continent", "year"])


@transformation("gapminder@latest")
def yearly(frame):
    stamps = pd.to_datetime(frame["year"].astype(str) + "-07-01", utc=True)
    gdp = frame["gdpPercap"] * frame["pop"] / 1e9
    return frame.assign(event_timestamp=stamps, gdp_billions=gdp)


@transformation("gapminder@latest")
def by_region(frame):
    out = frame.groupby(["continent", "year"], as_index=False).agg(
        life=("lifeExp", "mean"), people=("pop", "sum"), countries=("country", "count")
    )
    out["event_timestamp"] = pd.to_datetime(out["year"].astype(str) + "-07-01", utc=True)
    return out


@transformation("gapminder@latest")
def gappy(frame):
    stamps = pd.to_datetime(frame["year"].astype(str) + "-07-01", utc=True)
    out = frame.assign(event_timestamp=stamps)
    out["lifeExp"] = out["lifeExp"].where(out["lifeExp"] >= 45)
    out["pop"] = out["pop"].astype("Int64").where(out["pop"] >= 1_000_000)
    out["continent"] = out["continent"].where(out["continent"] != "Oceania")
    out["rich"] = (out["gdpPercap"] > 10_000).astype("boolean").where(out["year"] > 1952)
    out["measured"] = stamps.where(out["year"] > 1957)
    return out


country_stats = FeatureView(
    "country_stats",
    entities=[country],
    source=yearly,
    schema={"lifeExp": "float64", "pop": "int64", "gdp_billions": "float64", "continent": "string"},
    ttl=timedelta(days=3653),
)
region_stats = FeatureView(
    "region_stats",
    entities=[region],
    source=by_region,
    schema={"life": "float64", "people": "int64", "countries": "int64"},
)
sparse = FeatureView(
    "sparse",
    entities=[country],
    source=gappy,
    schema={
        "lifeExp": "float64", "pop": "int64", "continent": "string", "rich": "bool",
        "measured": "datetime",
    },
)
life = FeatureService("life", ["country_stats:lifeExp", "country_stats:gdp_billions"])
"""
COUNTRIES = 142  # gapminder's countries, each with 12 yearly rows
REGIONS = 5 * 12


def gapminder() -> pd.DataFrame:
    import plotly.data

    return plotly.data.gapminder()[["country", "continent", "year", "lifeExp", "pop", "gdpPercap"]]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    root = make_project(tmp_path / "p", features=FEATURES_PY)
    with Workspace.open(root, env={}, search_parents=False) as opened:
        opened.datasets.add("gapminder", gapminder())
        opened.features.apply()
        yield opened


def rewrite(ws: Workspace, old: str, new: str) -> None:
    path = ws.root / "features.py"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_changed_transformation_fails_the_check_until_materialized(ws: Workspace) -> None:
    ws.features.materialize()
    report = feature_skew(ws.features, "country_stats")
    assert report.passed, report.explanation
    (view,) = report.views
    assert view.sampled == COUNTRIES  # fewer keys than the default sample of 200
    assert view.online_keys == COUNTRIES
    assert {f.feature: f.mismatches for f in view.features} == {
        "lifeExp": 0, "pop": 0, "gdp_billions": 0, "continent": 0,
    }  # fmt: skip
    assert view.stale_keys == 0
    assert view.missing_offline == 0

    rewrite(ws, "/ 1e9", "/ 1e6")
    applied = {a.name: (a.version, a.changed) for a in ws.features.apply()}
    assert applied["country_stats"] == (2, True)
    failed = feature_skew(ws.features, "country_stats")
    assert not failed.passed
    (view,) = failed.views
    rates = {f.feature: f.mismatch_rate for f in view.features}
    assert rates == {"lifeExp": 0.0, "pop": 0.0, "gdp_billions": 1.0, "continent": 0.0}
    assert (view.version, view.online_version) == (2, 1)
    assert len(view.examples) == 5
    example = view.examples[0]
    online, offline = example.differences["gdp_billions"]
    assert offline == pytest.approx(online * 1000)
    assert example.offline_ts == example.event_ts
    assert "gdp_billions 142/142 (100.0%)" in failed.explanation
    assert "materialized from version 1" in failed.explanation
    assert "version 2" in failed.explanation
    assert "conveyor features materialize" in failed.explanation
    json.dumps(failed.to_dict(), allow_nan=False)

    (done,) = ws.features.materialize(views=["country_stats"])
    assert done.full
    again = feature_skew(ws.features, "country_stats")
    assert again.passed, again.explanation
    assert again.views[0].online_version == 2


def test_a_view_keyed_by_two_columns_is_compared_per_key(ws: Workspace) -> None:
    ws.features.materialize(views=["region_stats"])
    report = feature_skew(ws.features, "region_stats", sample=1000)
    assert report.passed, report.explanation
    (view,) = report.views
    assert view.sampled == REGIONS
    assert set(view.examples) == set()

    # The median instead of the mean life expectancy: the counts stay the same.
    rewrite(ws, 'life=("lifeExp", "mean")', 'life=("lifeExp", "median")')
    ws.features.apply()
    failed = feature_skew(ws.features, "region_stats", sample=1000)
    (view,) = failed.views
    rates = {f.feature: f.mismatch_rate for f in view.features}
    assert rates["people"] == rates["countries"] == 0.0
    # Oceania has two countries, whose median is their mean: 12 of 60 keys still agree.
    assert rates["life"] == pytest.approx(48 / 60)
    assert set(view.examples[0].key) == {"continent", "year"}


def test_missing_values_online_and_offline_are_equal(ws: Workspace) -> None:
    frame = gapminder()
    assert (frame["lifeExp"] < 45).any()
    assert (frame["pop"] < 1_000_000).any()
    ws.features.materialize(views=["sparse"])
    keys = ws.features.online_store.sample_keys("sparse", 500)
    values = ws.features.online_store.read("sparse", keys)
    for name in ("lifeExp", "pop", "continent"):
        assert any(v is not None and v.values[name] is None for v in values), name
    report = feature_skew(ws.features, "sparse", sample=500)
    assert report.passed, report.explanation
    assert report.views[0].sampled == COUNTRIES

    # Fewer missing values in the new definition: keys that were missing online now differ.
    rewrite(ws, ">= 45)", ">= 30.0)")
    ws.features.apply()
    failed = feature_skew(ws.features, "sparse", sample=500)
    (view,) = failed.views
    by_name = {f.feature: f for f in view.features}
    assert by_name["lifeExp"].mismatches > 0
    assert by_name["pop"].mismatches == 0
    assert by_name["rich"].mismatches == by_name["measured"].mismatches == 0
    example = next(e for e in view.examples if "lifeExp" in e.differences)
    online, offline = example.differences["lifeExp"]
    assert online is None
    assert isinstance(offline, float)


def test_an_empty_online_store_fails_and_says_nothing_was_materialized(ws: Workspace) -> None:
    report = feature_skew(ws.features)
    assert not report.passed
    assert [v.view for v in report.views] == ["country_stats", "region_stats", "sparse"]
    assert all(v.online_keys == 0 and v.sampled == 0 for v in report.views)
    assert "nothing was materialized" in report.explanation
    assert "conveyor features materialize" in report.explanation
    assert report.worst_rate is None
    json.dumps(report.to_dict(), allow_nan=False)


def test_no_applied_view_fails_with_an_explanation(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", features=FEATURES_PY)
    with Workspace.open(root, env={}, search_parents=False) as ws:
        report = feature_skew(ws.features)
    assert not report.passed
    assert report.views == ()
    assert "conveyor features apply" in report.explanation


def test_a_service_checks_only_its_features(ws: Workspace) -> None:
    ws.features.materialize(views=["country_stats"])
    report = feature_skew(ws.features, "life@1", sample=20, seed=3)
    assert report.passed
    assert [f.ref for f in report.features] == [
        "country_stats:lifeExp",
        "country_stats:gdp_billions",
    ]
    assert report.sampled == 20
    same = feature_skew(ws.features, "life", sample=20, seed=3)
    assert [e.to_dict() for v in same.views for e in v.examples] == []


def test_an_unknown_target_lists_the_views_and_services(ws: Workspace) -> None:
    with pytest.raises(FeatureNotFoundError) as caught:
        feature_skew(ws.features, "country_stat")
    message = str(caught.value)
    assert "'country_stat'" in message
    assert "country_stats, region_stats, sparse" in message
    assert "life" in message


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"sample": 0}, "sample 0 "),
        ({"max_mismatch_rate": 1.5}, "max_mismatch_rate 1.5 "),
        ({"max_mismatch_rate": math.nan}, "max_mismatch_rate nan "),
    ],
)
def test_a_bad_sample_or_rate_is_refused_naming_it(
    ws: Workspace, kwargs: dict[str, float], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle) as caught:
        feature_skew(ws.features, **kwargs)  # type: ignore[arg-type]
    assert caught.value.hint


def test_new_data_since_materializing_is_stale_not_skew(ws: Workspace) -> None:
    ws.features.materialize(views=["country_stats"])
    newer = gapminder()
    latest = newer[newer["year"] == 2007].assign(year=2012, lifeExp=lambda f: f["lifeExp"] + 1)
    ws.datasets.add("gapminder", pd.concat([newer, latest], ignore_index=True))
    report = feature_skew(ws.features, "country_stats")
    # The online values are what the offline join says as of their time: no skew...
    assert report.passed, report.explanation
    # ...but they are not the newest values there are.
    assert report.views[0].stale_keys == COUNTRIES
    (done,) = ws.features.materialize(views=["country_stats"])
    assert not done.full
    assert done.rows == COUNTRIES
    fresh = feature_skew(ws.features, "country_stats")
    assert fresh.passed
    assert fresh.views[0].stale_keys == 0


@pytest.fixture
def redis_ws(tmp_path: Path) -> Iterator[Workspace]:
    import os
    import socket

    host = os.environ.get("CONVEYOR_TEST_REDIS_HOST", "127.0.0.1")
    port = int(os.environ.get("CONVEYOR_TEST_REDIS_PORT", "6379"))
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError:
        if os.environ.get("CONVEYOR_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis is not reachable on {host}:{port}", pytrace=False)
        pytest.skip(f"Redis is not reachable on {host}:{port}")
    root = make_project(tmp_path / "p", features=FEATURES_PY)
    config = (root / "conveyor.yaml").read_text(encoding="utf-8")
    config = config.replace("features-test", f"skew-{uuid.uuid4().hex[:12]}")
    config += f"features:\n  online_url: redis://{host}:{port}/13\n"
    (root / "conveyor.yaml").write_text(config, encoding="utf-8")
    with Workspace.open(root, env={}, search_parents=False) as opened:
        opened.datasets.add("gapminder", gapminder())
        opened.features.apply()
        try:
            yield opened
        finally:
            for view in ("country_stats", "region_stats", "sparse"):
                opened.features.online_store.delete_view(view)


def test_the_check_reads_a_redis_online_store_the_same_way(redis_ws: Workspace) -> None:
    redis_ws.features.materialize(views=["country_stats"])
    report = feature_skew(redis_ws.features, "country_stats", sample=50)
    assert report.passed, report.explanation
    assert report.store.startswith("redis://")
    rewrite(redis_ws, "/ 1e9", "/ 1e6")
    redis_ws.features.apply()
    assert not feature_skew(redis_ws.features, "country_stats", sample=50).passed
