"""One automatic evaluation of a rollout: analyse, then advance, promote or roll back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.config import AnalysisConfig
from conveyor.deploy import _plans as plans
from conveyor.deployments import Deployment

if TYPE_CHECKING:
    from conveyor.deploy._controller import Controller


def evaluate(ctl: Controller, current: Deployment, stats: Mapping[str, Any] | None) -> Deployment:
    """Apply at most one transition to a progressing canary or shadow (see ``tick``)."""
    candidate = plans.candidate_of(current)
    if current.by_role("champion") is None or candidate is None:
        return current
    params = current.params
    started = current.step_started_at
    if started is None or "analysis" not in params:
        return current
    if ctl.clock() - started.timestamp() < float(params.get("min_step_duration_s", 0.0)):
        return current
    if stats is None:
        stats = ctl.analyzer.stats(
            ctl.ws,
            current.environment,
            int(params.get("rollout_revision", current.revision)),
            since=datetime.fromisoformat(params["started_at"]),
        )
    if candidate.role not in stats or "champion" not in stats:
        return current
    requests = int(stats[candidate.role].requests)
    if requests - int(params.get("step_base_requests", 0)) < int(params.get("min_requests", 0)):
        return current
    result = ctl.analyzer.analyse(
        stats["champion"], stats[candidate.role], AnalysisConfig(**params["analysis"])
    )
    reasons = [str(reason) for reason in result.reasons]
    analysis = {
        "verdict": result.verdict,
        "reasons": reasons,
        "measures": dict(result.measures),
        "challenger_requests": requests,
    }
    why = "; ".join(reasons) or result.verdict
    if result.verdict == "fail":
        return ctl.rollback_from(
            current, reason=f"analysis failed: {why}", details={"analysis": analysis}
        )
    if result.verdict != "pass":
        return current
    if current.strategy != "canary" or current.step_index >= len(current.steps) - 1:
        return ctl.promote_from(
            current, reason=f"analysis passed: {why}", details={"analysis": analysis}
        )
    return advance(ctl, current, why, analysis, requests)


def advance(
    ctl: Controller,
    current: Deployment,
    why: str,
    analysis: dict[str, Any],
    challenger_requests: int,
) -> Deployment:
    """Move a canary to its next step."""
    index = current.step_index + 1
    candidate = plans.candidate_of(current)
    champion = current.by_role("champion")
    assert candidate is not None  # checked by evaluate
    assert champion is not None
    percent = current.steps[index]
    return ctl.write(
        current.environment,
        current,
        action="advance",
        reason=f"step {current.step_index + 1} passed ({why}); now {percent}% to {candidate.ref}",
        variants=plans.canary(champion, candidate.model, candidate.version, percent),
        step_index=index,
        step_started_at=ctl.now(),
        # The next step's minimum request count starts from here.
        params={**current.params, "step_base_requests": challenger_requests},
        details={"analysis": analysis},
    )
