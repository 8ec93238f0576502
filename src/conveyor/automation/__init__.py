"""Continuous training: triggers and the crash-safe retraining agent.

This package owns the ``triggers:`` conditions (``schedule`` by cron, ``drift`` and
``performance`` from the latest monitoring report, ``new_data`` on a new dataset version,
each with a cooldown) and the :class:`Agent` that evaluates them and, when one fires,
retrains with :func:`conveyor.ci.run_ci` (train, register the candidate, gate it against
the champion) and hands a promoted candidate to the deployment controller. Every decision
is an automation event linked to its cause (trigger -> run -> model version ->
deployment -> outcome) and audited. The agent's state lives behind
:class:`BaseAutomationRecords` (by default :class:`SqlAutomationRecords`, in the metadata
store): steps are keyed by the firing, so a killed and restarted agent finishes a job once,
and a lease lets only one of several agents act.
"""

from __future__ import annotations

from conveyor.automation._agent import AGENT_STEPS, Agent, AgentStatus, AgentTick
from conveyor.automation._base import BaseAutomationRecords
from conveyor.automation._errors import AutomationError, LeaseLostError
from conveyor.automation._jobs import MAX_ATTEMPTS, Trainer
from conveyor.automation._lease import Lease
from conveyor.automation._records import (
    EVENT_KINDS,
    AutomationEvent,
    LeaseClaim,
    LeaseInfo,
    NewEvent,
    TriggerState,
)
from conveyor.automation._sources import Deployer, report_facts
from conveyor.automation._sql import SqlAutomationRecords
from conveyor.automation._triggers import (
    Condition,
    Observations,
    ReportFacts,
    check_triggers,
    evaluate,
    previous_slot,
)

__all__ = [
    "AGENT_STEPS",
    "Agent",
    "AgentStatus",
    "AgentTick",
    "AutomationError",
    "AutomationEvent",
    "BaseAutomationRecords",
    "Condition",
    "Deployer",
    "EVENT_KINDS",
    "Lease",
    "LeaseClaim",
    "LeaseInfo",
    "LeaseLostError",
    "MAX_ATTEMPTS",
    "NewEvent",
    "Observations",
    "ReportFacts",
    "SqlAutomationRecords",
    "Trainer",
    "TriggerState",
    "check_triggers",
    "evaluate",
    "previous_slot",
    "report_facts",
]
