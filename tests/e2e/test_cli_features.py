"""End to end: ``conveyor features apply | list | show | materialize | skew`` on a project
over real data (plotly's gapminder), with their JSON output and their errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cli_in_process import CliInProcess, Ran

from features_support import FEATURES_PY, gapminder, make_project


@pytest.fixture
def project(tmp_path: Path, conveyor_in_process: CliInProcess) -> Path:
    root = make_project(tmp_path / "p")
    gapminder().to_parquet(root / "gapminder.parquet", index=False)
    ok(conveyor_in_process(root, "data", "add", "gapminder", "gapminder.parquet"))
    return root


def ok(ran: Ran) -> Ran:
    assert ran.returncode == 0, f"exit {ran.returncode}\n{ran.stdout}\n{ran.stderr}"
    return ran


def test_apply_list_show_materialize_and_skew(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    run = conveyor_in_process
    applied = json.loads(ok(run(project, "features", "apply", "--json")).stdout)
    assert {(a["kind"], a["name"], a["version"], a["changed"]) for a in applied} == {
        ("entity", "country", 1, True),
        ("view", "country_gdp", 1, True),
        ("view", "country_stats", 1, True),
        ("service", "life", 1, True),
    }
    again = ok(run(project, "features", "apply")).stdout
    assert "country_stats" in again
    assert "0 of 4 definition(s)" in again

    listed = {
        r["name"]: r for r in json.loads(ok(run(project, "features", "list", "--json")).stdout)
    }
    stats = listed["country_stats"]
    assert stats["kind"] == "view"
    assert stats["version"] == 1
    assert stats["join_keys"] == ["country"]
    assert stats["entities"] == ["country"]
    assert stats["dataset"] == "gapminder@latest"
    assert stats["features"] == 3
    assert stats["ttl_s"] == 3653 * 86400
    assert stats["created_by"] == "e2e"
    assert listed["life"]["features"] == 4
    table = ok(run(project, "features", "list")).stdout
    assert "country_gdp" in table
    assert "3653d" in table

    before = run(project, "features", "skew")
    assert before.returncode == 1
    assert "nothing was materialized" in before.stdout

    first = ok(run(project, "features", "materialize"))
    assert "country_stats" in first.stdout
    assert "full" in first.stdout
    assert "PASS" in first.stdout
    assert "key(s) written (in full)" in first.stderr
    second = json.loads(ok(run(project, "features", "materialize", "--json")).stdout)
    written = {m["view"]: (m["written"], m["keys"], m["full"]) for m in second["materialized"]}
    assert written == {"country_gdp": (0, 142, False), "country_stats": (0, 142, False)}
    assert second["skew"]["passed"] is True

    shown = json.loads(ok(run(project, "features", "show", "country_stats", "--json")).stdout)
    assert shown["kind"] == "view"
    assert shown["version"] == 1
    assert [f["name"] for f in shown["spec"]["schema"]] == ["lifeExp", "pop", "continent"]
    assert [v["version"] for v in shown["versions"]] == [1]
    assert [m["status"] for m in shown["materializations"]] == ["committed", "committed"]
    assert [(t["dataset"], t["rows"]) for t in shown["tables"]] == [("gapminder", 1704)]
    human = ok(run(project, "features", "show", "country_stats")).stdout
    for needle in ("lifeExp", "float64", "event_timestamp", "Materializations", "Offline tables"):
        assert needle in human
    service = ok(run(project, "features", "show", "life")).stdout
    assert "country_gdp:gdp_billions" in service

    features_py = project / "features.py"
    features_py.write_text(FEATURES_PY.replace("/ 1e9", "/ 1e6"), encoding="utf-8")
    ok(run(project, "features", "apply"))
    skewed = run(project, "features", "skew", "country_gdp", "--json")
    assert skewed.returncode == 1
    report = json.loads(skewed.stdout)
    assert report["passed"] is False
    (gdp,) = report["views"][0]["features"]
    assert (gdp["feature"], gdp["mismatch_rate"]) == ("gdp_billions", 1.0)
    assert len(report["views"][0]["examples"]) == 5
    human_skew = run(project, "features", "skew", "country_gdp")
    assert human_skew.returncode == 1
    assert "FAIL" in human_skew.stdout
    assert "online" in human_skew.stdout
    ok(run(project, "features", "skew", "country_stats", "--sample", "5"))

    fixed = ok(run(project, "features", "materialize", "--view", "country_gdp"))
    assert "full" in fixed.stdout
    assert "PASS" in fixed.stdout
    ok(run(project, "features", "skew"))


def test_materialize_within_a_time_range_and_without_the_check(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    run = conveyor_in_process
    ok(run(project, "features", "apply"))
    args = ["--no-check", "--end", "1980-01-01", "--start", "1975-01-01T00:00:00+02:00"]
    out = ok(run(project, "features", "materialize", *args, "--view", "country_stats", "--json"))
    done = json.loads(out.stdout)
    assert done["skew"] is None
    (view,) = done["materialized"]
    assert view["view"] == "country_stats"
    assert view["keys"] == 142
    shown = json.loads(ok(run(project, "features", "show", "country_stats", "--json")).stdout)
    (record,) = shown["materializations"]
    assert record["start_ts"].startswith("1974-12-31T22:00:00")
    assert record["end_ts"].startswith("1980-01-01T00:00:00")
    assert ok(run(project, "features", "skew", "country_stats")).returncode == 0


@pytest.mark.parametrize("value", ["2024-13-01", "yesterday", "1980-01-01T25:00"])
def test_a_bad_time_is_refused_naming_it(
    project: Path, conveyor_in_process: CliInProcess, value: str
) -> None:
    ran = conveyor_in_process(project, "features", "materialize", "--start", value)
    assert ran.returncode == 2
    assert value in ran.stderr
    assert "ISO 8601" in ran.stderr


def test_start_after_end_is_refused(project: Path, conveyor_in_process: CliInProcess) -> None:
    ran = conveyor_in_process(
        project, "features", "materialize", "--start", "2001-01-01", "--end", "2000-01-01"
    )
    assert ran.returncode == 2
    assert "'2001-01-01' is after --end '2000-01-01'" in ran.stderr


def test_unknown_names_list_the_known_ones(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    run = conveyor_in_process
    ok(run(project, "features", "apply"))
    for args in (
        ("materialize", "--view", "country_stat"),
        ("skew", "country_stat"),
        ("show", "country_stat"),
    ):
        ran = run(project, "features", *args)
        assert ran.returncode == 1, args
        assert "'country_stat'" in ran.stderr, ran.stderr
        assert "country_stats" in ran.stderr
        assert "country_gdp" in ran.stderr
        assert "hint:" in ran.stderr
    assert (
        json.loads(ok(run(project, "features", "show", "country_stats", "--json")).stdout)[
            "materializations"
        ]
        == []
    )  # nothing was materialized by the refused command


def test_a_features_py_with_a_syntax_error_is_reported(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    (project / "features.py").write_text(FEATURES_PY + "\ndef broken(:\n", encoding="utf-8")
    ran = conveyor_in_process(project, "features", "apply")
    assert ran.returncode == 1
    assert "features.py" in ran.stderr
    assert "SyntaxError" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_a_definitions_path_outside_the_project_is_refused(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    (project.parent / "x.py").write_text(FEATURES_PY, encoding="utf-8")
    config = project / "conveyor.yaml"
    config.write_text(
        config.read_text(encoding="utf-8") + "features:\n  definitions: ../x.py\n",
        encoding="utf-8",
    )
    for command in ("apply", "list", "materialize"):
        ran = conveyor_in_process(project, "features", command)
        if command == "list":  # listing reads the records, not features.py
            assert ran.returncode == 0
            continue
        assert ran.returncode == 1, command
        assert "'../x.py' points outside the project folder" in ran.stderr


def test_the_real_process_lists_definitions_as_json(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_ACTOR"] = "e2e"

    def conveyor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "conveyor", "features", *args],
            cwd=project,
            env=env,
            capture_output=True,
            check=False,
            text=True,
            timeout=120,
        )

    applied = conveyor("apply")
    assert applied.returncode == 0, applied.stderr
    listed = conveyor("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {r["name"] for r in json.loads(listed.stdout)} == {
        "country", "country_gdp", "country_stats", "life",
    }  # fmt: skip


def test_an_unreachable_online_store_is_one_line_with_a_hint(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ok(conveyor_in_process(project, "features", "apply"))
    url = f"redis://127.0.0.1:{port}/0"
    for args in (("skew",), ("materialize",)):
        ran = conveyor_in_process(project, "features", *args, CONVEYOR_ONLINE_URL=url)
        assert ran.returncode == 1, args
        assert f"127.0.0.1:{port} cannot be reached" in ran.stderr
        assert "hint: Check that Redis is running" in ran.stderr
        assert "Traceback" not in ran.stderr
