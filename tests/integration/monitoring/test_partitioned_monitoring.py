"""A prediction log summarised partition by partition gives the single-pass engine's report."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from monitor_support import NOW, Recorder, open_project
from partitioned_support import both_reports, log_partitions

from conveyor.monitoring import MonitoringError, monitor_run
from conveyor.workspace import Workspace
from report_compare import differences

PARTITIONS = 6


def _reopen_with(root: Path, settings: str) -> Workspace:
    text = (root / "conveyor.yaml").read_text(encoding="utf-8")
    (root / "conveyor.yaml").write_text(
        text.replace("drift_share: 0.25}", f"drift_share: 0.25, {settings}}}"), encoding="utf-8"
    )
    return Workspace.open(root, actor="alice", search_parents=False)


@pytest.mark.parametrize("executor", ["local", "threads"])
def test_partitioned_engine_gives_the_single_pass_report(tmp_path: Path, executor: str) -> None:
    with open_project(tmp_path / "p") as ws:
        log_partitions(ws, PARTITIONS, 400, shift=1.5)
        assert len(ws.predictions.records.partitions()) == PARTITIONS
        local, scaled = both_reports(ws, executor=executor, workers=2)
    assert differences(local, scaled) == []
    assert scaled["verdict"] == local["verdict"] == "drift"
    assert scaled["drift"]["drifted"] == ["x2"]
    assert scaled["rows"] == PARTITIONS * 400
    assert scaled["labelled_rows"] == PARTITIONS * 80


def test_monitor_run_with_threads_stores_the_report_the_local_engine_stores(
    tmp_path: Path,
) -> None:
    root, twin = tmp_path / "p", tmp_path / "twin"
    with open_project(root) as ws:
        log_partitions(ws, PARTITIONS, 300, shift=1.5)
    shutil.copytree(root, twin)  # the same log, and no earlier report in either
    with Workspace.open(root, actor="alice", search_parents=False) as ws:
        local = monitor_run(ws, "production", window="1h", notifier=Recorder(), now=lambda: NOW)
    with _reopen_with(twin, "executor: threads, workers: 2") as ws:
        assert ws.settings.config.monitoring.executor == "threads"
        scaled = monitor_run(ws, "production", window="1h", notifier=Recorder(), now=lambda: NOW)
    assert scaled.verdict == local.verdict == "drift"
    assert (scaled.window_start, scaled.window_end) == (local.window_start, local.window_end)
    assert differences(local.drift, scaled.drift) == []
    assert differences(local.quality, scaled.quality) == []
    assert differences(local.performance, scaled.performance) == []


def test_an_unknown_executor_is_refused_by_the_configuration(tmp_path: Path) -> None:
    root = tmp_path / "p"
    with open_project(root):
        pass
    with pytest.raises(Exception, match="executor"):
        _reopen_with(root, "executor: spark")


def test_the_engine_names_the_valid_executors() -> None:
    from conveyor.monitoring._summarise import summarise_window
    from conveyor.predictions._window import Window

    with pytest.raises(MonitoringError, match="executor 'spark'") as caught:
        summarise_window(bytes, [], Window(), {}, dict, executor="spark")
    assert caught.value.hint == "Set monitoring.executor to one of: local, threads, ray."


@pytest.mark.slow
def test_a_partitioned_log_summarised_on_ray_gives_the_local_report(
    ray_session: Any, tmp_path: Path
) -> None:
    with open_project(tmp_path / "p") as ws:
        log_partitions(ws, PARTITIONS, 400, shift=1.5)
        local, on_ray = both_reports(ws, executor="ray", workers=2)
    assert differences(local, on_ray) == []
    assert on_ray["verdict"] == local["verdict"] == "drift"
    assert on_ray["drift"]["drifted"] == local["drift"]["drifted"] == ["x2"]
    assert on_ray["rows"] == PARTITIONS * 400
