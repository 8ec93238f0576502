"""A pipeline run carries its steps' metrics: ``RunTracker.run_tree_metrics`` and history."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor
from conveyor.store import open_store
from conveyor.tracking import RunNotFoundError, RunTracker, StepNotFoundError
from conveyor.tracking._tree import Source, name_keys


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[RunTracker]:
    with open_store(f"sqlite:///{tmp_path / 'meta.db'}") as store:
        artifacts = open_artifact_store(str(tmp_path / "artifacts"))
        yield RunTracker(store, artifacts, actor=Actor("tester"), root=tmp_path)


def _pipeline(tracker: RunTracker) -> str:
    """A pipeline run whose train and evaluate steps both log accuracy."""
    run = tracker.start_run("training", kind="pipeline", capture=False)
    train = tracker.start_run("train", kind="step", parent_id=run.id)
    for epoch in range(3):
        tracker.log_metrics(train.id, {"loss": 1.0 / (epoch + 1), "accuracy": 0.8}, epoch)
    tracker.finish_run(train.id, "completed")
    evaluate = tracker.start_run("evaluate", kind="step", parent_id=run.id)
    tracker.log_metrics(evaluate.id, {"accuracy": 0.75, "f1": 0.7})
    tracker.finish_run(evaluate.id, "completed")
    tracker.finish_run(run.id, "completed")
    return run.id


def test_shared_keys_are_named_by_step_and_unique_keys_stay_plain(tracker: RunTracker) -> None:
    run_id = _pipeline(tracker)
    metrics = tracker.run_tree_metrics(run_id)
    assert sorted(metrics) == ["evaluate.accuracy", "f1", "loss", "train.accuracy"]
    assert metrics["evaluate.accuracy"].value == 0.75
    assert metrics["evaluate.accuracy"].name == "accuracy"
    assert metrics["evaluate.accuracy"].source == "evaluate"
    assert (metrics["loss"].value, metrics["loss"].step) == (pytest.approx(1 / 3), 2)
    assert metrics["f1"].source == "evaluate"
    assert tracker.latest_metrics(run_id) == {}  # the pipeline run itself logged nothing


def test_history_uses_the_same_keys_and_keeps_every_point(tracker: RunTracker) -> None:
    run_id = _pipeline(tracker)
    history = tracker.run_tree_history(run_id[:8])
    assert sorted(history) == sorted(tracker.run_tree_metrics(run_id))
    assert [p.step for p in history["loss"]] == [0, 1, 2]
    assert [p.value for p in history["train.accuracy"]] == [0.8, 0.8, 0.8]


def test_a_key_the_pipeline_logged_itself_keeps_its_plain_name(tracker: RunTracker) -> None:
    run = tracker.start_run("training", kind="pipeline", capture=False)
    step = tracker.start_run("evaluate", kind="step", parent_id=run.id)
    tracker.log_metric(step.id, "accuracy", 0.9)
    tracker.log_metric(run.id, "accuracy", 0.5)
    metrics = tracker.run_tree_metrics(run.id)
    assert {k: (m.value, m.source) for k, m in metrics.items()} == {
        "accuracy": (0.5, None),
        "evaluate.accuracy": (0.9, "evaluate"),
    }


def test_a_cached_step_contributes_the_values_of_the_run_it_reused(tracker: RunTracker) -> None:
    first = _pipeline(tracker)
    original = next(r for r in tracker.children(first) if r.name == "evaluate")
    run = tracker.start_run("training", kind="pipeline", capture=False)
    cached = tracker.start_run("evaluate", kind="step", parent_id=run.id, status="cached")
    tracker.finish_run(cached.id, "cached", cached_from=original.id)
    metrics = tracker.run_tree_metrics(run.id)
    assert {k: m.value for k, m in metrics.items()} == {"accuracy": 0.75, "f1": 0.7}
    assert metrics["accuracy"].run_id == original.id
    # A cached step run alone shows its original's values too.
    assert tracker.run_tree_metrics(cached.id)["f1"].value == 0.7


def test_a_resumed_step_counts_once_with_its_finished_attempt(tracker: RunTracker) -> None:
    run = tracker.start_run("training", kind="pipeline", capture=False)
    failed = tracker.start_run("evaluate", kind="step", parent_id=run.id)
    tracker.log_metric(failed.id, "accuracy", 0.1)
    tracker.finish_run(failed.id, "failed", error="boom")
    again = tracker.start_run("evaluate", kind="step", parent_id=run.id)
    tracker.log_metric(again.id, "accuracy", 0.9)
    tracker.finish_run(again.id, "completed")
    metrics = tracker.run_tree_metrics(run.id)
    assert list(metrics) == ["accuracy"]  # not qualified: one step logged it
    assert (metrics["accuracy"].value, metrics["accuracy"].run_id) == (0.9, again.id)


def test_a_tuning_study_inside_the_run_does_not_flood_the_tree(tracker: RunTracker) -> None:
    run = tracker.start_run("training", kind="pipeline", capture=False)
    study = tracker.start_run("study", kind="tune", parent_id=run.id)
    for number in range(5):
        trial = tracker.start_run(f"study/trial-{number}", kind="trial", parent_id=study.id)
        tracker.log_metric(trial.id, "objective", float(number))
    assert tracker.run_tree_metrics(run.id) == {}
    assert tracker.run_tree_history(run.id) == {}


def test_one_step_can_be_asked_for_by_name(tracker: RunTracker) -> None:
    run_id = _pipeline(tracker)
    metrics = tracker.run_tree_metrics(run_id, step="evaluate")
    assert {k: m.value for k, m in metrics.items()} == {"accuracy": 0.75, "f1": 0.7}
    with pytest.raises(StepNotFoundError, match=r"no step 'report'; steps: evaluate, train"):
        tracker.run_tree_metrics(run_id, step="report")
    with pytest.raises(RunNotFoundError, match="No run has id"):
        tracker.run_tree_metrics("f" * 32)


def test_hostile_keys_and_values_round_trip_as_logged(tracker: RunTracker) -> None:
    run = tracker.start_run("training", kind="pipeline", capture=False)
    step = tracker.start_run("évaluer.v2", kind="step", parent_id=run.id)
    tracker.log_metric(step.id, "précision/classe 1", math.nan)
    tracker.log_metric(step.id, "huge", 1e308, step=2**62)
    metrics = tracker.run_tree_metrics(run.id)
    assert math.isnan(metrics["précision/classe 1"].value)
    assert metrics["précision/classe 1"].to_dict()["value"] is None
    assert (metrics["huge"].value, metrics["huge"].step) == (1e308, 2**62)


_names = st.text(alphabet="abcxyz_", min_size=1, max_size=4)


@given(
    own=st.lists(_names, max_size=3, unique=True),
    steps=st.dictionaries(_names, st.lists(_names, max_size=4, unique=True), max_size=4),
)
def test_naming_rule_keeps_unique_and_own_keys_plain_and_never_collides(
    own: list[str], steps: dict[str, list[str]]
) -> None:
    logged = {Source(None, "root"): own}
    logged |= {Source(name, f"run-{name}"): keys for name, keys in steps.items()}
    names = name_keys(logged)
    assert set(names) == {(source, key) for source, keys in logged.items() for key in keys}
    assert len(set(names.values())) == len(names)
    for (source, key), name in names.items():
        loggers = sum(key in keys for keys in logged.values())
        if source.name is None or loggers == 1:
            assert name == key
        else:
            assert name == f"{source.name}.{key}"
