"""Trigger conditions: when a model should be retrained, as pure functions of observations.

The agent gathers what it observes (the time, the latest monitoring report of the
environment, the newest version of a dataset) and asks :func:`evaluate` whether a
trigger's condition holds. A condition carries a ``key`` naming exactly what it is about
(a cron slot, a report, a dataset version): the firing is keyed by it, so one condition
fires at most once, and the agent's crash recovery keys every later step by it too.
Cooldowns and "one retraining per model" are the agent's business, not this module's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter

from conveyor.config import TriggerConfig
from conveyor.errors import ConfigError

__all__ = [
    "Condition",
    "Observations",
    "ReportFacts",
    "check_triggers",
    "evaluate",
    "initial_cursor",
    "previous_slot",
]


@dataclass(frozen=True)
class ReportFacts:
    """What a trigger reads from a monitoring report.

    Attributes:
        id: The report's id (a firing is keyed by it).
        verdict: ``"ok"``, ``"drift"``, ``"degraded"`` or ``"insufficient"``.
        drift_share: Share of drifted features, if computed.
        metrics: Performance metric values over the labelled part of the window.
        labels: How many labels those metrics rest on.
        created_at: When the report was made.
    """

    id: str
    verdict: str
    drift_share: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    labels: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True)
class Observations:
    """What the agent saw for one trigger at one evaluation.

    Attributes:
        now: The evaluation time (UTC).
        report: The latest monitoring report of the trigger's environment, if any.
        dataset_version: The newest version number of the trigger's dataset (0: none).
        dataset_created_at: When that version was recorded.
    """

    now: datetime
    report: ReportFacts | None = None
    dataset_version: int = 0
    dataset_created_at: datetime | None = None


@dataclass(frozen=True)
class Condition:
    """A trigger condition that holds.

    Attributes:
        key: What the condition is about, unique per trigger (``slot:...``, ``report:...``).
        reason: One sentence for the events log.
        cursor: What to remember so the same condition does not fire again.
        observed_at: When the evidence appeared; evidence older than the model's last
            retraining was already covered by it.
        details: Structured evidence.
    """

    key: str
    reason: str
    cursor: dict[str, Any]
    observed_at: datetime
    details: dict[str, Any] = field(default_factory=dict)


def check_triggers(triggers: Iterable[TriggerConfig]) -> None:
    """Validate what the configuration schema cannot: names unique, cron expressions parse.

    Raises:
        ConfigError: A duplicate trigger name, or a ``cron`` that does not parse (the
            message names the trigger and the expression).
    """
    seen: set[str] = set()
    for trigger in triggers:
        if trigger.name in seen:
            raise ConfigError(
                f"Trigger name {trigger.name!r} is used twice in triggers:.",
                hint="Give every trigger its own name; the agent keys its state by name.",
                key="triggers",
                name=trigger.name,
            )
        seen.add(trigger.name)
        if trigger.kind == "schedule" and not croniter.is_valid(str(trigger.cron)):
            raise ConfigError(
                f"Trigger {trigger.name!r} has a cron expression that does not parse: "
                f"{trigger.cron!r}.",
                hint="Write five fields: minute hour day-of-month month day-of-week, "
                "e.g. '0 3 * * *' for 03:00 every day.",
                key=f"triggers.{trigger.name}.cron",
                name=trigger.name,
                value=trigger.cron,
            )


def previous_slot(cron: str, now: datetime) -> datetime:
    """The newest time at or before ``now`` that ``cron`` schedules."""
    # croniter's get_prev is strictly before its start; start a second later to include now.
    start = now.replace(microsecond=0) + timedelta(seconds=1)
    slot: datetime = croniter(cron, start).get_prev(datetime)
    return slot


def initial_cursor(trigger: TriggerConfig, seen: Observations) -> dict[str, Any]:
    """What a trigger remembers when the agent first sees it.

    A ``new_data`` trigger starts from the dataset's current version, so only versions
    added afterwards fire it; other kinds start empty.
    """
    if trigger.kind == "new_data":
        return {"version": seen.dataset_version}
    return {}


def evaluate(
    trigger: TriggerConfig,
    seen: Observations,
    *,
    armed_at: datetime,
    cursor: dict[str, Any] | None,
) -> Condition | None:
    """Whether ``trigger``'s condition holds now, and about what.

    Args:
        trigger: The trigger's configuration.
        seen: What the agent observed.
        armed_at: When the agent first saw the trigger (schedules fire for slots from then).
        cursor: What the trigger remembered after its last firing.

    Returns:
        The condition, or ``None`` if it does not hold or already fired for this evidence.
    """
    cursor = cursor or {}
    if trigger.kind == "schedule":
        return _schedule(trigger, seen, armed_at, cursor)
    if trigger.kind == "new_data":
        return _new_data(trigger, seen, cursor)
    report = seen.report
    if report is None or cursor.get("report") == report.id:
        return None
    observed = report.created_at or seen.now
    if trigger.kind == "drift":
        return _drift(trigger, report, observed)
    return _performance(trigger, report, observed)


def _schedule(
    trigger: TriggerConfig, seen: Observations, armed_at: datetime, cursor: dict[str, Any]
) -> Condition | None:
    slot = previous_slot(str(trigger.cron), seen.now)
    last = cursor.get("slot")
    if slot < armed_at.replace(microsecond=0) or (
        last is not None and slot <= datetime.fromisoformat(str(last))
    ):
        return None
    return Condition(
        key=f"slot:{slot.isoformat()}",
        reason=f"schedule {trigger.cron!r} reached {slot.isoformat()}",
        cursor={"slot": slot.isoformat()},
        observed_at=slot,
        details={"cron": trigger.cron, "slot": slot.isoformat()},
    )


def _new_data(
    trigger: TriggerConfig, seen: Observations, cursor: dict[str, Any]
) -> Condition | None:
    last = int(cursor.get("version", 0))
    if seen.dataset_version <= last:
        return None
    ref = f"{trigger.dataset}@{seen.dataset_version}"
    return Condition(
        key=f"dataset:{ref}",
        reason=f"new data: {ref} (the last version acted on was {last or 'none'})",
        cursor={"version": seen.dataset_version},
        observed_at=seen.dataset_created_at or seen.now,
        details={"dataset": trigger.dataset, "version": seen.dataset_version},
    )


def _drift(trigger: TriggerConfig, report: ReportFacts, observed: datetime) -> Condition | None:
    evidence: dict[str, Any] = {"report": report.id, "verdict": report.verdict}
    if trigger.threshold is None:
        if report.verdict != "drift":
            return None
        reason = f"monitoring report {report.id} says drift"
    else:
        share = report.drift_share
        if share is None or share < trigger.threshold:
            return None
        evidence["drift_share"] = share
        reason = (
            f"monitoring report {report.id}: {share:.0%} of features drifted "
            f"(threshold {trigger.threshold:.0%})"
        )
    return Condition(
        key=f"report:{report.id}",
        reason=reason,
        cursor={"report": report.id},
        observed_at=observed,
        details=evidence,
    )


#: Metrics where a larger value is worse: a performance trigger on one of them fires
#: when the value rises above its threshold (for the others, when it falls below).
LOWER_IS_BETTER = frozenset({"error_rate", "error", "mae", "mse", "rmse", "log_loss"})


def _performance(
    trigger: TriggerConfig, report: ReportFacts, observed: datetime
) -> Condition | None:
    metric = trigger.metric or (next(iter(report.metrics), None))
    if metric is None or metric not in report.metrics or trigger.threshold is None:
        return None
    value = report.metrics[metric]
    errors = metric in LOWER_IS_BETTER
    worse = value > trigger.threshold if errors else value < trigger.threshold
    if report.labels < trigger.min_labels or not worse:
        return None
    side = "above" if errors else "below"
    return Condition(
        key=f"report:{report.id}",
        reason=(
            f"{metric} {value:.4g} over {report.labels} labels is {side} "
            f"{trigger.threshold:.4g} (monitoring report {report.id})"
        ),
        cursor={"report": report.id},
        observed_at=observed,
        details={"report": report.id, "metric": metric, "value": value, "labels": report.labels},
    )
