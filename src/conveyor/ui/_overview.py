"""The overview: the loop at a glance.

Per environment what serves and with what weights, the rollout in progress, the latest
monitoring verdict; the automation agent's latest decisions; the newest audit events.
A handful of indexed queries, whatever the size of the workspace.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from conveyor.automation import BaseAutomationRecords, SqlAutomationRecords
from conveyor.deployments import Deployment
from conveyor.monitoring import BaseMonitoringRecords, SqlMonitoringRecords
from conveyor.ui._core import UI, PageRequest

#: States in which a rollout is under way (the controller still has work to do).
IN_PROGRESS = frozenset({"progressing", "paused", "awaiting_approval", "pending"})


def add_pages(ui: UI) -> None:
    """Add ``/`` to ``ui``."""

    @ui.page("/", name="overview")
    def overview(page: PageRequest) -> Response:
        ws = page.ws
        configured = ws.settings.config.environments
        recorded = {d.environment: d for d in ws.deployments.environments()}
        monitoring = ws.records(BaseMonitoringRecords, SqlMonitoringRecords)
        environments = []
        for env in sorted(set(configured) | set(recorded)):
            cfg = configured.get(env)
            reports = monitoring.report_summaries(env, limit=1)
            environments.append(
                {
                    "name": env,
                    "protected": bool(cfg is not None and cfg.protected),
                    "strategy": cfg.strategy if cfg is not None else None,
                    "deployment": recorded.get(env),
                    "rollout": _rollout(recorded.get(env)),
                    "report": reports[-1] if reports else None,
                }
            )
        automation = ws.records(BaseAutomationRecords, SqlAutomationRecords)
        decisions = list(reversed(automation.events(limit=8)))
        alerts = monitoring.open_alerts()
        events = list(reversed(ws.audit_log(limit=15)))
        return ui.render(
            page,
            "overview.html.j2",
            project=ws.settings.config.project.name,
            environments=environments,
            decisions=decisions,
            alerts=alerts,
            events=events,
        )


def _rollout(deployment: Deployment | None) -> dict[str, Any] | None:
    """The rollout in progress in ``deployment`` (step, traffic), else ``None``."""
    if deployment is None or deployment.state not in IN_PROGRESS:
        return None
    steps = list(deployment.steps)
    index = min(deployment.step_index, len(steps) - 1) if steps else 0
    return {
        "state": deployment.state,
        "steps": steps,
        "step": index + 1,
        "percent": steps[index] if steps else None,
        "since": deployment.step_started_at,
    }
