"""Trigger conditions as pure functions: each kind fires on its condition, once per evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.automation import (
    Observations,
    ReportFacts,
    check_triggers,
    evaluate,
    previous_slot,
    report_facts,
)
from conveyor.config import TriggerConfig
from conveyor.errors import ConfigError

T0 = datetime(2026, 5, 1, 10, 0, 30, tzinfo=UTC)


def _trigger(**fields: object) -> TriggerConfig:
    return TriggerConfig.model_validate({"name": "t", "model": "clf", **fields})


def test_bad_cron_is_a_config_error_naming_trigger_and_expression() -> None:
    with pytest.raises(ConfigError, match=r"Trigger 't' has a cron .* 'every day'"):
        check_triggers([_trigger(kind="schedule", cron="every day")])


def test_duplicate_trigger_names_are_refused() -> None:
    trigger = _trigger(kind="schedule", cron="0 * * * *")
    with pytest.raises(ConfigError, match="used twice"):
        check_triggers([trigger, trigger])


def test_schedule_fires_for_slots_after_arming_once_each() -> None:
    trigger = _trigger(kind="schedule", cron="0 * * * *")
    assert evaluate(trigger, Observations(now=T0), armed_at=T0, cursor=None) is None
    later = Observations(now=T0 + timedelta(hours=1))
    fired = evaluate(trigger, later, armed_at=T0, cursor=None)
    assert fired is not None
    assert fired.key == "slot:2026-05-01T11:00:00+00:00"
    assert evaluate(trigger, later, armed_at=T0, cursor=fired.cursor) is None


def test_drift_fires_on_verdict_or_share_threshold_once_per_report() -> None:
    report = ReportFacts(id="7", verdict="drift", drift_share=0.4)
    seen = Observations(now=T0, report=report)
    fired = evaluate(_trigger(kind="drift"), seen, armed_at=T0, cursor=None)
    assert fired is not None
    assert "report 7 says drift" in fired.reason
    assert evaluate(_trigger(kind="drift"), seen, armed_at=T0, cursor=fired.cursor) is None
    assert evaluate(_trigger(kind="drift", threshold=0.5), seen, armed_at=T0, cursor=None) is None
    ok = Observations(now=T0, report=ReportFacts(id="8", verdict="ok"))
    assert evaluate(_trigger(kind="drift"), ok, armed_at=T0, cursor=None) is None


def test_performance_fires_below_threshold_only_with_enough_labels() -> None:
    trigger = _trigger(kind="performance", metric="accuracy", threshold=0.8, min_labels=100)
    low = ReportFacts(id="1", verdict="degraded", metrics={"accuracy": 0.7}, labels=150)
    fired = evaluate(trigger, Observations(now=T0, report=low), armed_at=T0, cursor=None)
    assert fired is not None
    assert "accuracy 0.7 over 150 labels" in fired.reason
    few = ReportFacts(id="2", verdict="degraded", metrics={"accuracy": 0.7}, labels=20)
    assert evaluate(trigger, Observations(now=T0, report=few), armed_at=T0, cursor=None) is None


@pytest.mark.parametrize("metric", ["rmse", "mae", "error_rate"])
def test_performance_on_an_error_metric_fires_above_threshold_not_below(metric: str) -> None:
    """A low error is a healthy model: the trigger must not retrain it."""
    trigger = _trigger(kind="performance", metric=metric, threshold=60.0, min_labels=100)
    healthy = ReportFacts(id="1", verdict="ok", metrics={metric: 45.0}, labels=400)
    assert evaluate(trigger, Observations(now=T0, report=healthy), armed_at=T0, cursor=None) is None
    worse = ReportFacts(id="2", verdict="degraded", metrics={metric: 160.0}, labels=400)
    fired = evaluate(trigger, Observations(now=T0, report=worse), armed_at=T0, cursor=None)
    assert fired is not None
    assert f"{metric} 160 over 400 labels is above 60" in fired.reason


def test_new_data_fires_for_a_version_newer_than_the_cursor() -> None:
    trigger = _trigger(kind="new_data", dataset="points")
    seen = Observations(now=T0, dataset_version=3)
    assert evaluate(trigger, seen, armed_at=T0, cursor={"version": 3}) is None
    fired = evaluate(
        trigger, Observations(now=T0, dataset_version=4), armed_at=T0, cursor={"version": 3}
    )
    assert fired is not None
    assert fired.key == "dataset:points@4"


def test_report_facts_reads_mappings_and_objects_alike() -> None:
    facts = report_facts(
        {
            "id": 5,
            "verdict": "drift",
            "drift": {"share": 0.5},
            "performance": {"metric": "accuracy", "value": 0.9, "labels": 40},
        }
    )
    assert facts == ReportFacts(
        id="5", verdict="drift", drift_share=0.5, metrics={"accuracy": 0.9}, labels=40
    )


@given(st.integers(min_value=0, max_value=10**8), st.sampled_from(["*/5 * * * *", "0 3 * * *"]))
def test_previous_slot_is_at_or_before_now_and_matches_the_schedule(offset: int, cron: str) -> None:
    now = T0 + timedelta(seconds=offset)
    slot = previous_slot(cron, now)
    assert slot <= now
    assert now - slot < timedelta(days=1)
    assert slot.second == 0
    assert slot.minute % 5 == 0
