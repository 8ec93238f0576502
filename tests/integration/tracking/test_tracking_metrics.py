"""Buffered metric logging: exact counts and values, flushing, errors and run context."""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.errors import ConveyorError
from conveyor.store import MetadataStore
from conveyor.tracking import (
    InvalidMetricError,
    RunContext,
    RunNotFoundError,
    RunTracker,
    current,
    log_artifact,
    log_metric,
    log_metrics,
    log_params,
    run_context,
)


def test_ten_thousand_values_logged_one_at_a_time_land_exactly(
    tracker: RunTracker, store: MetadataStore
) -> None:
    run = tracker.start_run("p", kind="pipeline", capture=False)
    with run_context(RunContext(tracker, run.id)):
        for i in range(10_000):
            log_metric("loss", i * 0.5, step=i)
    tracker.finish_run(run.id, "completed")
    points = tracker.metrics(run.id, "loss")
    assert len(points) == 10_000
    assert [p.value for p in points] == [i * 0.5 for i in range(10_000)]
    assert [p.step for p in points] == list(range(10_000))
    batches = store.audit_log(action="run.metrics", target_prefix=f"run:{run.id}")
    assert sum(e.details["count"] for e in batches) == 10_000
    assert len(batches) >= 10  # written in batches of at most 1000, not one by one


def test_metrics_logged_before_an_exception_are_kept_when_the_run_fails(
    tracker: RunTracker,
) -> None:
    run = tracker.start_run("train", kind="step", capture=False)

    def step_body() -> None:
        with run_context(RunContext(tracker, run.id)):
            for i in range(25):
                log_metric("loss", float(i), step=i)
            log_metrics({"acc": 0.5, "f1": 0.25})
            raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        step_body()
    assert tracker._buffer.pending(run.id) == 27  # still only in memory
    tracker.finish_run(run.id, "failed", error="RuntimeError: diverged")
    assert tracker._buffer.pending(run.id) == 0
    assert [p.value for p in tracker.metrics(run.id, "loss")] == [float(i) for i in range(25)]
    assert tracker.latest_metrics(run.id) == {"acc": 0.5, "f1": 0.25, "loss": 24.0}


def test_nan_and_infinities_are_stored_as_given(tracker: RunTracker) -> None:
    run = tracker.start_run("p", kind="pipeline", capture=False)
    tracker.log_metrics(run.id, {"a": math.nan, "b": math.inf, "c": -math.inf, "d": 3})
    latest = tracker.latest_metrics(run.id)
    assert math.isnan(latest["a"])
    assert latest["b"] == math.inf
    assert latest["c"] == -math.inf
    assert latest["d"] == 3.0
    assert tracker.metrics(run.id, "a")[0].to_dict()["value"] is None


@pytest.mark.parametrize("value", [True, "0.5", None, [1.0]])
def test_non_numeric_values_are_refused_naming_key_and_value(
    tracker: RunTracker, value: object
) -> None:
    run = tracker.start_run("p", kind="pipeline", capture=False)
    with pytest.raises(
        InvalidMetricError, match=rf"Metric 'acc' has value {re.escape(repr(value))}.*real num"
    ):
        tracker.log_metric(run.id, "acc", value)  # type: ignore[arg-type]
    with pytest.raises(InvalidMetricError, match="step 'x'"):
        tracker.log_metric(run.id, "acc", 1.0, step="x")  # type: ignore[arg-type]
    assert tracker._buffer.pending() == 0


def test_logging_outside_a_run_says_so(tmp_path: Path) -> None:
    assert current() is None
    with pytest.raises(ConveyorError, match="log_metric called outside a run") as info:
        log_metric("loss", 1.0)
    assert info.value.hint is not None
    assert "step" in info.value.hint
    with pytest.raises(ConveyorError, match="log_params called outside a run"):
        log_params({"a": 1})
    with pytest.raises(ConveyorError, match="log_artifact called outside a run"):
        log_artifact(tmp_path / "x")


def test_module_functions_log_to_the_current_run_and_nesting_restores(
    tracker: RunTracker, tmp_path: Path
) -> None:
    outer = tracker.start_run("p", kind="pipeline", capture=False)
    inner = tracker.start_run("s", kind="step", parent_id=outer.id, capture=False)
    file = tmp_path / "plot.png"
    file.write_bytes(b"\x89PNG")
    with run_context(RunContext(tracker, outer.id)) as ctx:
        with run_context(RunContext(tracker, inner.id, step_name="s", pipeline_run_id=outer.id)):
            log_metric("m", 1.0)
            log_params({"seed": 7})
            log_artifact(file, name="plot")
            inner_ctx = current()
            assert inner_ctx is not None
            assert inner_ctx.step_name == "s"
        assert current() is ctx
        log_metric("m", 2.0)
    assert current() is None
    assert tracker.latest_metrics(inner.id) == {"m": 1.0}
    assert tracker.latest_metrics(outer.id) == {"m": 2.0}
    assert tracker.get(inner.id).params == {"seed": 7}
    assert [a["name"] for a in tracker.artifacts(inner.id)] == ["plot"]


def test_threads_each_have_their_own_current_run(tracker: RunTracker) -> None:
    runs = [tracker.start_run(f"s{i}", kind="step", capture=False) for i in range(4)]
    barrier = threading.Barrier(len(runs))

    def work(run_id: str) -> None:
        with run_context(RunContext(tracker, run_id)):
            barrier.wait()
            for i in range(300):
                log_metric("x", float(i))

    threads = [threading.Thread(target=work, args=(r.id,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for run in runs:
        assert [p.value for p in tracker.metrics(run.id)] == [float(i) for i in range(300)]


def test_buffer_flushes_when_full(tracker: RunTracker, store: MetadataStore) -> None:
    run = tracker.start_run("p", kind="pipeline", capture=False)
    tracker._buffer.max_age_s = 3600.0
    for i in range(999):
        tracker.log_metric(run.id, "x", i)
    assert store.audit_log(action="run.metrics") == []
    tracker.log_metric(run.id, "x", 999)
    assert [e.details["count"] for e in store.audit_log(action="run.metrics")] == [1000]


def test_buffer_flushes_on_the_next_call_once_its_age_passed(
    tracker: RunTracker, store: MetadataStore
) -> None:
    run = tracker.start_run("p", kind="pipeline", capture=False)
    tracker._buffer.max_age_s = 0.0
    tracker.log_metric(run.id, "x", 1)
    assert [e.details["count"] for e in store.audit_log(action="run.metrics")] == [1]


def test_metrics_for_a_missing_run_fail_clearly_and_are_dropped(tracker: RunTracker) -> None:
    tracker.log_metric("f" * 32, "x", 1.0)
    with pytest.raises(RunNotFoundError, match=r"1 metric value.*'f{32}' were not saved"):
        tracker.flush()
    assert tracker._buffer.pending() == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.floats(allow_nan=False),
            st.none() | st.integers(-(2**62), 2**62),
        ),
        max_size=40,
    )
)
def test_metric_history_round_trips_in_order(
    tracker: RunTracker, values: list[tuple[str, float, int | None]]
) -> None:
    run = tracker.start_run("p", kind="pipeline", capture=False)
    for key, value, step in values:
        tracker.log_metric(run.id, key, value, step)
    got = [(p.key, p.value, p.step) for p in tracker.metrics(run.id)]
    assert got == values
