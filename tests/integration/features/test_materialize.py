"""``ws.features.materialize`` and ``ws.features.online``: incremental, crash-safe, on the
embedded SQLite store and on real Redis, with real data (gapminder)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from conveyor.features import EntityFrameError, MissingEntityError
from conveyor.workspace import Workspace
from features_support import FEATURES_PY, gapminder, make_project

# Gapminder's last rows are of 2007: "now" for the TTL of country_stats (10 years).
NOW = datetime(2010, 1, 1, tzinfo=UTC)
REDIS = ("127.0.0.1", 6379)


def _redis_url() -> str:
    try:
        socket.create_connection(REDIS, timeout=1.0).close()
    except OSError:
        if os.environ.get("CONVEYOR_REQUIRE_SERVICES") == "1":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379 and CONVEYOR_REQUIRE_SERVICES=1")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return "redis://127.0.0.1:6379/14"


@pytest.fixture(params=["sqlite", "redis"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    root = make_project(tmp_path / "p")
    name = f"mat-{uuid.uuid4().hex[:12]}"  # the Redis namespace: one per test
    text = (root / "conveyor.yaml").read_text(encoding="utf-8")
    text = text.replace("name: features-test", f"name: {name}")
    if request.param == "redis":
        text += f"features:\n  online_url: {_redis_url()}\n"
    (root / "conveyor.yaml").write_text(text, encoding="utf-8")
    return root


def latest(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("event_timestamp").groupby("country").tail(1).set_index("country")


def test_materialize_writes_the_latest_values_and_online_reads_them(project: Path) -> None:
    data = gapminder()
    with Workspace.open(project, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", data)
        ws.features.apply()
        done = {m.view: m for m in ws.features.materialize()}
        countries = data["country"].nunique()
        assert done["country_stats"].rows == countries
        assert done["country_stats"].full
        rows = [{"country": "Norway"}, {"country": "Cote d'Ivoire"}, {"country": "Japan"}]
        got = ws.features.online(rows, "life", now=NOW)
        want = latest(data)
        for row, values in zip(rows, got, strict=True):
            truth = want.loc[row["country"]]
            assert values["lifeExp"] == pytest.approx(truth["lifeExp"])
            assert values["pop"] == truth["pop"]
            assert values["continent"] == truth["continent"]
            assert values["gdp_billions"] == pytest.approx(truth["gdpPercap"] * truth["pop"] / 1e9)
        # Nothing changed: nothing is written again.
        again = {m.view: m for m in ws.features.materialize()}
        assert again["country_stats"].rows == 0
        assert not again["country_stats"].full


def test_a_new_dataset_version_writes_only_the_keys_that_changed(project: Path) -> None:
    data = gapminder()
    with Workspace.open(project, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", data)
        ws.features.apply()
        ws.features.materialize()
        changed = data.copy()
        last = changed["event_timestamp"] == changed["event_timestamp"].max()
        changed.loc[last & (changed["country"] == "Norway"), "lifeExp"] = 99.5
        new_row = changed[last & (changed["country"] == "Japan")].assign(country="Atlantis")
        ws.datasets.add("gapminder", pd.concat([changed, new_row], ignore_index=True))
        done = {m.view: m for m in ws.features.materialize()}
        assert done["country_stats"].rows == 2  # Norway changed, Atlantis is new
        assert done["country_gdp"].rows == 1  # only Atlantis: Norway's GDP did not change
        got = ws.features.online([{"country": "Norway"}, {"country": "Atlantis"}], "life", now=NOW)
        assert got[0]["lifeExp"] == 99.5
        assert got[1]["pop"] == int(new_row["pop"].iloc[0])


def test_a_changed_definition_is_written_in_full(project: Path) -> None:
    with Workspace.open(project, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", gapminder())
        ws.features.apply()
        ws.features.materialize()
        (project / "features.py").write_text(
            FEATURES_PY.replace("/ 1e9", "/ 1e6"), encoding="utf-8"
        )
        ws.features.apply()
        done = {m.view: m for m in ws.features.materialize()}
        assert done["country_gdp"].full
        assert done["country_gdp"].rows == gapminder()["country"].nunique()
        assert not done["country_stats"].full
        assert done["country_stats"].rows == 0


def test_missing_and_expired_entities_follow_the_policy(project: Path) -> None:
    with Workspace.open(project, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", gapminder())
        ws.features.apply()
        ws.features.materialize()
        with pytest.raises(MissingEntityError) as caught:
            ws.features.online([{"country": "Narnia"}], "life", now=NOW)
        assert "'Narnia'" in str(caught.value)
        assert caught.value.hint
        # 2007's values are older than country_stats' 10-year TTL in 2030.
        later = NOW + timedelta(days=365 * 20)
        with pytest.raises(MissingEntityError, match="expired"):
            ws.features.online([{"country": "Norway"}], ["country_stats:lifeExp"], now=later)
        got = ws.features.online([{"country": "Narnia"}], "life", on_missing="default", now=NOW)
        assert got == [{"lifeExp": None, "pop": None, "continent": None, "gdp_billions": None}]
        with pytest.raises(EntityFrameError, match="country"):
            ws.features.online([{"nation": "Norway"}], "life", now=NOW)


def test_a_materialization_killed_half_way_is_completed_by_the_next(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", gapminder())
        ws.features.apply()
    # A separate process writes two batches of 20 keys, then is killed (SIGKILL) before
    # its materialization is committed.
    script = textwrap.dedent(
        f"""
        import os, signal
        import conveyor.features._materialize as store
        from conveyor.workspace import Workspace

        store.BATCH_ROWS = 20
        with Workspace.open({str(root)!r}, env={{}}, search_parents=False) as ws:
            online = ws.features.online_store
            write, calls = online.write_batch, []

            def dying(view, rows):
                if len(calls) == 2:
                    os.kill(os.getpid(), signal.SIGKILL)
                calls.append(view)
                return write(view, rows)

            online.write_batch = dying
            ws.features.materialize(views=["country_stats"])
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, timeout=120, check=False, capture_output=True
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    with Workspace.open(root, env={}, search_parents=False) as ws:
        runs = ws.features.records.materializations("country_stats")
        assert [m.status for m in runs] == ["running"]
        assert ws.features.online_store.count("country_stats") == 40
        done = ws.features.materialize(views=["country_stats"])
        countries = gapminder()["country"].nunique()
        assert done[0].rows == countries
        assert ws.features.online_store.count("country_stats") == countries
        assert [m.status for m in ws.features.records.materializations("country_stats")] == [
            "committed",
            "running",
        ]
        norway = latest(gapminder()).loc["Norway"]
        got = ws.features.online([{"country": "Norway"}], ["country_stats:lifeExp"], now=NOW)
        assert got[0]["lifeExp"] == pytest.approx(norway["lifeExp"])


def test_materialize_honours_its_time_window(project: Path) -> None:
    data = gapminder()
    with Workspace.open(project, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", data)
        ws.features.apply()
        end = datetime(1990, 1, 1, tzinfo=UTC)
        ws.features.materialize(views=["country_stats"], end=end)
        got = ws.features.online([{"country": "Norway"}], ["country_stats:lifeExp"], now=end)
        norway = data[(data["country"] == "Norway") & (data["event_timestamp"] < end)]
        assert got[0]["lifeExp"] == pytest.approx(norway["lifeExp"].iloc[-1])
        # Later, the rest: only what changed since is written.
        done = ws.features.materialize(views=["country_stats"])
        assert done[0].rows == data["country"].nunique()
        assert done[0].record.watermark == data["event_timestamp"].max().to_pydatetime()


def test_an_online_store_cleared_by_hand_is_written_in_full_again(project: Path) -> None:
    with Workspace.open(project, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", gapminder())
        ws.features.apply()
        ws.features.materialize()
        ws.features.online_store.delete_view("country_stats")
        done = {m.view: m for m in ws.features.materialize()}
        assert done["country_stats"].full
        assert done["country_stats"].rows == gapminder()["country"].nunique()
        assert not done["country_gdp"].full
        forced = {m.view: m for m in ws.features.materialize(full=True)}
        assert forced["country_gdp"].full
        assert forced["country_gdp"].rows == gapminder()["country"].nunique()


def test_ties_go_to_the_last_row_online_as_offline(project: Path) -> None:
    from conveyor.features import feature_skew

    data = gapminder()
    last = data[(data["country"] == "Norway") & (data["event_timestamp"].dt.year == 2007)]
    # Two rows for Norway at the same time: the one written last wins, online and offline.
    tied = pd.concat([data, last.assign(lifeExp=1.0)], ignore_index=True)
    with Workspace.open(project, env={}, search_parents=False) as ws:
        ws.datasets.add("gapminder", tied)
        ws.features.apply()
        ws.features.materialize()
        online = ws.features.online([{"country": "Norway"}], ["country_stats:lifeExp"], now=NOW)
        assert online[0]["lifeExp"] == 1.0
        events = pd.DataFrame({"country": ["Norway"], "event_timestamp": [pd.Timestamp(NOW)]})
        offline = ws.features.historical(events, ["country_stats:lifeExp"])
        assert offline.loc[0, "lifeExp"] == 1.0
        assert feature_skew(ws.features, "country_stats", sample=500).passed
