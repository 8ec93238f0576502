"""``conveyor runs list|show|compare`` on a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor.cli import main
from conveyor.tracking import OutputRecord, Run
from conveyor.workspace import Workspace


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Run, Run, Run]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conveyor.yaml").write_text("project: {name: runs}\n", encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "200")  # tables are not wrapped
    with Workspace.open(tmp_path) as ws:
        runs: list[Run] = []
        for lr in (0.1, 0.2):
            run = ws.runs.start_run(
                "training",
                kind="pipeline",
                params={"lr": lr},
                pipeline_ref="pipelines:training",
                executor="local",
            )
            step = ws.runs.start_run("train", kind="step", parent_id=run.id)
            info = ws.artifacts.put_bytes(f"model {lr}".encode())
            ws.runs.record_outputs(
                step.id, [OutputRecord("output", info.hash, "json", 1, "builtins.str", info.size)]
            )
            for epoch in range(3):
                ws.runs.log_metrics(run.id, {"loss": 1.0 / (epoch + 1) + lr, "acc": 0.5}, epoch)
            ws.runs.record_dataset(run.id, "iris", 1, "d" * 64)
            ws.runs.finish_run(step.id, "completed", wall_s=0.25, cpu_s=0.2)
            ws.runs.finish_run(run.id, "completed", wall_s=0.5, cpu_s=0.3)
            runs.append(ws.runs.get(run.id))
        runs.append(step)
    return runs[0], runs[1], runs[2]


def test_list_shows_top_level_runs_newest_first(
    project: tuple[Run, Run, Run], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, _ = project
    assert main(["runs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [second.id, first.id]
    assert main(["runs", "list", "--kind", "step", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["train", "train"]
    assert main(["runs", "list", "--status", "failed", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out
    assert first.short_id in out
    assert "pipelines:training" in out


def test_show_prints_params_steps_metrics_and_outputs(
    project: tuple[Run, Run, Run], capsys: pytest.CaptureFixture[str]
) -> None:
    _, second, step = project
    assert main(["runs", "show", second.id[:8], "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["run"]["params"] == {"lr": 0.2}
    assert info["datasets"] == [{"name": "iris", "version": 1, "content_hash": "d" * 64}]
    assert info["metrics"] == {"acc": 0.5, "loss": pytest.approx(1 / 3 + 0.2)}
    assert [s["id"] for s in info["steps"]] == [step.id]
    assert info["steps"][0]["outputs"][0]["type_name"] == "builtins.str"
    assert main(["runs", "show", second.id]) == 0
    out = capsys.readouterr().out
    assert "Steps" in out
    assert "train" in out
    assert "iris@1" in out
    assert "loss" in out


def test_show_of_an_unknown_run_exits_1_with_a_hint(
    project: tuple[Run, Run, Run], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "show", "0000000000"]) == 1
    err = capsys.readouterr().err
    assert "No run has id '0000000000'" in err
    assert "conveyor runs list" in err


def test_compare_shows_params_metric_deltas_and_history(
    project: tuple[Run, Run, Run], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, _ = project
    assert main(["runs", "compare", first.id, second.id, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == {"lr": [0.1, 0.2]}
    assert info["metrics"]["loss"]["delta"] == pytest.approx(0.1)
    assert info["metrics"]["acc"]["delta"] == 0.0
    assert [p["step"] for p in info["history"][first.id]["loss"]] == [0, 1, 2]
    assert main(["runs", "compare", first.id, second.id]) == 0
    out = capsys.readouterr().out
    assert "Parameters" in out
    assert "History of loss" in out


def test_compare_plot_writes_html_naming_the_metrics(
    project: tuple[Run, Run, Run], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, _ = project
    chart = tmp_path / "out" / "compare.html"
    assert main(["runs", "compare", first.id, second.id, "--plot", str(chart)]) == 0
    html = chart.read_text()
    assert "loss" in html
    assert "acc" in html
    assert "<html" in html
    assert main(["runs", "compare", first.id, second.id, "--plot", str(tmp_path / "c.png")]) == 1
    assert "must end in .html" in capsys.readouterr().err
