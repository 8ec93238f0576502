"""What the agent observes and calls by default: monitoring reports and the deployment
controller, each replaceable through :class:`~conveyor.automation.Agent`'s arguments
(tests pass in-memory ones).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.automation._triggers import ReportFacts

if TYPE_CHECKING:
    from conveyor.deployments import Deployment
    from conveyor.workspace import Workspace

__all__ = [
    "Deployer",
    "ReportSource",
    "controller_deployer",
    "monitoring_reports",
    "report_facts",
]

#: ``deployer(ref, env)`` starts a rollout of model version ``ref`` to ``env``.
Deployer = Callable[[str, str], "Deployment"]
#: ``reports(ws, env)`` returns the latest monitoring report of ``env`` (or ``None``).
ReportSource = Callable[["Workspace", str], Any]


def controller_deployer(ws: Workspace) -> Deployer:
    """``Controller(ws).deploy`` of :mod:`conveyor.rollout`, with the environment's strategy."""
    from conveyor.rollout import Controller

    controller = Controller(ws)

    def run(ref: str, env: str) -> Deployment:
        result: Deployment = controller.deploy(ref, env)
        return result

    return run


def monitoring_reports(ws: Workspace, env: str) -> Any:
    """``conveyor.monitoring.latest_report(ws, env)``: the newest stored report of ``env``."""
    from conveyor.monitoring import latest_report

    return latest_report(ws, env)


def report_facts(report: Any) -> ReportFacts | None:
    """Read what triggers need from a monitoring report (object or mapping).

    Accepts ``verdict``, ``drift`` (``{"share": ...}`` or ``drift_share``), ``performance``
    (``{"metric", "value", "labels"}`` or ``{metric: value, ..., "labels": n}``) and
    ``labelled_rows``; missing parts read as absent.
    """
    if report is None:
        return None

    def get(key: str) -> Any:
        if isinstance(report, Mapping):
            return report.get(key)
        return getattr(report, key, None)

    drift = get("drift") or {}
    share = get("drift_share")
    if share is None and isinstance(drift, Mapping):
        share = drift.get("share", drift.get("drift_share"))
    performance = get("performance") or {}
    metrics: dict[str, float] = {}
    labels = get("labelled_rows") or 0
    if isinstance(performance, Mapping):
        if "metric" in performance and "value" in performance:
            if performance["value"] is not None:
                metrics[str(performance["metric"])] = float(performance["value"])
        else:
            metrics.update(
                {str(k): float(v) for k, v in performance.items() if isinstance(v, int | float)}
            )
            metrics.pop("labels", None)
        labels = performance.get("labels", performance.get("label_count", labels)) or labels
    created = get("created_at")
    return ReportFacts(
        id=str(get("id")),
        verdict=str(get("verdict") or "ok"),
        drift_share=None if share is None else float(share),
        metrics=metrics,
        labels=int(labels),
        created_at=created if isinstance(created, datetime) else None,
    )
