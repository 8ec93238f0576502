"""Comparing two runs: ``RunTracker.compare`` and the ``RunComparison`` it returns."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor
from conveyor.store import open_store
from conveyor.testing.records._tracking import sample_run
from conveyor.tracking import MetricComparison, MetricPoint, RunNotFoundError, RunTracker
from conveyor.tracking._compare import compare_runs

_AT = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[RunTracker]:
    with open_store(f"sqlite:///{tmp_path / 'meta.db'}") as store:
        artifacts = open_artifact_store(str(tmp_path / "artifacts"))
        yield RunTracker(store, artifacts, actor=Actor("tester"), root=tmp_path)


def _points(*values: tuple[float, int | None]) -> list[MetricPoint]:
    return [MetricPoint("loss", value, step, _AT) for value, step in values]


def test_params_of_either_run_are_lined_up_and_the_changed_ones_named() -> None:
    first = sample_run("a" * 32, params={"lr": 0.1, "depth": 3, "seed": 1})
    second = sample_run("b" * 32, params={"lr": 0.2, "depth": 3, "model": "rf"})
    diff = compare_runs((first, second), latest=[{}, {}], history=[{}, {}])
    assert list(diff.params) == ["depth", "lr", "model", "seed"]
    assert diff.params["model"] == (None, "rf")
    assert diff.changed_params == ["lr", "model", "seed"]


def test_metric_deltas_need_a_finite_value_on_both_sides() -> None:
    runs = (sample_run("a" * 32), sample_run("b" * 32))
    latest = [{"acc": 0.5, "loss": math.nan, "f1": 0.7}, {"acc": 0.75, "loss": 0.2, "auc": 0.9}]
    diff = compare_runs(runs, latest=latest, history=[{}, {}])
    assert list(diff.metrics) == ["acc", "auc", "f1", "loss"]
    assert diff.metrics["acc"] == MetricComparison(0.5, 0.75)
    assert diff.metrics["acc"].delta == 0.25
    assert diff.metrics["loss"].to_dict() == {"a": None, "b": 0.2, "delta": None}
    assert diff.metrics["auc"].delta is None
    assert diff.metrics["f1"].to_dict() == {"a": 0.7, "b": None, "delta": None}


def test_histories_align_by_step_or_position_with_gaps_for_non_finite_values() -> None:
    runs = (sample_run("a" * 32), sample_run("b" * 32))
    history = [
        {"loss": _points((0.9, 0), (0.5, 2)), "only_a": _points((1.0, None))},
        {"loss": _points((0.8, None), (math.inf, None), (0.3, 2))},
    ]
    diff = compare_runs(runs, latest=[{}, {}], history=history)
    assert diff.shared_metrics == ["loss"]
    assert diff.series("loss") == ([(0, 0.9), (2, 0.5)], [(0, 0.8), (1, None), (2, 0.3)])
    assert diff.by_step("loss") == [(0, 0.9, 0.8), (1, None, None), (2, 0.5, 0.3)]
    assert diff.series("only_a") == ([(0, 1.0)], [])


def test_to_dict_is_strict_json_keyed_by_run_id() -> None:
    first = sample_run("a" * 32, params={"lr": 0.1})
    second = replace(first, id="b" * 32, params={"lr": 0.2})
    history = [{"loss": _points((math.nan, 0))}, {"loss": _points((0.4, 0))}]
    out = compare_runs(
        (first, second), latest=[{"loss": math.nan}, {"loss": 0.4}], history=history
    ).to_dict()
    assert list(out) == ["runs", "params", "metrics", "history"]
    assert [r["id"] for r in out["runs"]] == ["a" * 32, "b" * 32]
    assert out["params"] == {"lr": [0.1, 0.2]}
    assert out["metrics"] == {"loss": {"a": None, "b": 0.4, "delta": None}}
    assert out["history"]["a" * 32]["loss"][0]["value"] is None
    assert out["history"]["b" * 32]["loss"][0] == {
        "key": "loss",
        "value": 0.4,
        "step": 0,
        "at": "2026-03-01T00:00:00.000000Z",
    }


def test_tracker_compare_uses_each_run_tree_and_accepts_prefixes(tracker: RunTracker) -> None:
    ids = []
    for lr, accuracy in ((0.1, 0.8), (0.2, 0.9)):
        run = tracker.start_run("training", kind="pipeline", params={"lr": lr}, capture=False)
        step = tracker.start_run("evaluate", kind="step", parent_id=run.id)
        for epoch in range(2):
            tracker.log_metric(step.id, "accuracy", accuracy - 0.1 * (1 - epoch), epoch)
        tracker.finish_run(step.id, "completed")
        tracker.finish_run(run.id, "completed")
        ids.append(run.id)
    diff = tracker.compare(ids[0][:8], ids[1])
    assert [r.id for r in diff.runs] == ids
    assert diff.changed_params == ["lr"]
    assert diff.metrics["accuracy"].delta == pytest.approx(0.1)
    assert diff.by_step("accuracy") == [
        (0, pytest.approx(0.7), pytest.approx(0.8)),
        (1, 0.8, 0.9),
    ]
    with pytest.raises(RunNotFoundError):
        tracker.compare(ids[0], "f" * 32)
