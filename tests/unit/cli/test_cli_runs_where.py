"""``conveyor runs list --where KEY<OP>NUMBER --sort metric:KEY --asc`` on a real workspace."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error

from conveyor.cli import main
from conveyor.workspace import Workspace

ALPHAS = (0.01, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


@pytest.fixture
def rmse_by_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Ridge pipelines on the diabetes data: the ``train`` step logs rmse and r2, the
    pipeline its row count; one more run logs nothing. Returns each run's last rmse."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "conveyor.yaml").write_text("project: {name: where}\n", encoding="utf-8")
    data = load_diabetes(as_frame=True)
    x, y = data.data, data.target
    found: dict[str, float] = {}
    with Workspace.open(tmp_path) as ws:
        for alpha in ALPHAS:
            run = ws.runs.start_run(f"ridge-{alpha}", kind="pipeline", params={"alpha": alpha})
            step = ws.runs.start_run("train", kind="step", parent_id=run.id)
            model = Ridge(alpha=alpha).fit(x, y)
            rmse = math.sqrt(mean_squared_error(y, model.predict(x)))
            ws.runs.log_metrics(step.id, {"rmse": rmse + 5}, 0)
            ws.runs.log_metrics(step.id, {"rmse": rmse, "r2": model.score(x, y)}, 1)
            ws.runs.log_metrics(run.id, {"rows": float(len(x))})
            ws.runs.finish_run(step.id, "completed")
            ws.runs.finish_run(run.id, "completed")
            found[run.id] = rmse
        ws.runs.finish_run(ws.runs.start_run("no-metrics", kind="pipeline").id, "completed")
    return found


def _listed(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["runs", "list", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_where_keeps_the_runs_whose_tree_value_passes(
    rmse_by_run: dict[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    cut = sorted(rmse_by_run.values())[3]
    listed = _listed(capsys, "--where", f"rmse<{cut}")
    assert {r["id"] for r in listed} == {i for i, v in rmse_by_run.items() if v < cut}
    assert all(r["metrics"]["rmse"] < cut for r in listed)  # type: ignore[index]
    both = _listed(capsys, "--where", f"rmse<={cut}", "--where", "r2 > 0.45")
    assert {r["id"] for r in both} == {
        r["id"]
        for r in _listed(capsys, "--where", f"rmse<={cut}")
        if r["metrics"]["r2"] > 0.45  # type: ignore[index]
    }
    assert _listed(capsys, "--where", "rmse<0") == []
    assert len(_listed(capsys, "--where", "rows==442")) == len(ALPHAS)


def test_sort_by_a_metric_either_way_and_page(
    rmse_by_run: dict[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    lowest_first = sorted(rmse_by_run, key=rmse_by_run.__getitem__)
    asc = _listed(capsys, "--sort", "metric:rmse", "--asc")
    assert [r["id"] for r in asc][: len(ALPHAS)] == lowest_first
    assert asc[-1]["name"] == "no-metrics"  # without a value: last either way
    desc = _listed(capsys, "--sort", "metric:rmse")
    assert [r["id"] for r in desc][: len(ALPHAS)] == lowest_first[::-1]
    assert desc[-1]["name"] == "no-metrics"
    paged = _listed(capsys, "--sort", "metric:rmse", "--asc", "--limit", "2", "--offset", "2")
    assert [r["id"] for r in paged] == lowest_first[2:4]
    by_name = _listed(capsys, "--sort", "name", "--asc", "--where", "rmse>0")
    assert [r["name"] for r in by_name] == sorted(f"ridge-{a}" for a in ALPHAS)


def test_the_table_shows_the_filtered_metric_first_and_the_count(
    rmse_by_run: dict[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    cut = sorted(rmse_by_run.values())[3]
    assert main(["runs", "list", "--where", f"rmse<{cut}", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "Runs (1 of 3)" in out
    assert "rmse=" in out
    assert main(["runs", "list", "--where", "rmse<0"]) == 0
    assert "No runs match" in capsys.readouterr().out


def test_metrics_of_the_page_equal_each_runs_tree(
    rmse_by_run: dict[str, float], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = _listed(capsys, "--limit", "100")
    with Workspace.open(tmp_path) as ws:
        for row in listed:
            tree = ws.runs.run_tree_metrics(str(row["id"]))
            assert row["metrics"] == {k: m.value for k, m in tree.items()}


@pytest.mark.parametrize(
    "expression",
    [
        "rmse<<1",
        ";drop table runs",
        "rmse<1;drop table runs",
        "rmsé<1",
        "rmse<NaN",
        "rmse<inf",
        "rmse<1e999",
        "my rmse<1",
        "rm\x07se<1",
        "rmse=1",
        "rmse",
    ],
)
def test_a_malformed_or_hostile_where_is_refused_by_name(
    rmse_by_run: dict[str, float], capsys: pytest.CaptureFixture[str], expression: str
) -> None:
    assert main(["runs", "list", "--where", expression]) == 1
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert "Metric filter" in said
    assert "KEY OP NUMBER" in said
    assert "\x07" not in said  # a control character is never echoed raw
    assert main(["runs", "list", "--where", "rmse<1000", "--json"]) == 0  # still answers


@pytest.mark.parametrize("order", ["metric:", "bogus", "param:", "metric:\x1b[2J"])
def test_an_unknown_sort_names_the_orders_accepted(
    rmse_by_run: dict[str, float], capsys: pytest.CaptureFixture[str], order: str
) -> None:
    assert main(["runs", "list", "--sort", order]) == 1
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert "metric:KEY" in said
    assert "\x1b" not in said
