"""One automatic evaluation of a rollout: analyse, then advance, promote, pause or roll back.

A rollback needs evidence that the challenger is worse (errors, labels or latency) and its
reason names it. Predictions that diverge from the champion's beyond what the gate
expected pause the rollout at its current weights until labels say whether the change is
for better or worse; a rollout paused that way is still evaluated (see :func:`evaluates`)
and moves on by itself once they do. A rollout paused by hand is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.config import AnalysisConfig
from conveyor.deployments import Deployment
from conveyor.rollout import _plans as plans

if TYPE_CHECKING:
    from conveyor.rollout._controller import Controller

#: ``params`` key of a rollout the analysis paused to wait for labels.
AWAITING_LABELS = "awaiting_labels"
#: ``params`` key of the divergence profile the gate recorded (set when the rollout starts).
EXPECTED_DIVERGENCE = "expected_divergence"

#: Kinds of evidence a rollback may name.
_EVIDENCE = frozenset({"errors", "labels", "latency"})


def evaluates(current: Deployment | None) -> bool:
    """Whether the automatic analysis acts on ``current``.

    A progressing canary or shadow, or one the analysis itself paused to wait for labels;
    not A/B splits, not rollouts paused by an operator, not stable deployments.

    Example:
        >>> evaluates(None)
        False
    """
    if current is None or current.strategy == "ab":
        return False
    if current.state == "progressing":
        return True
    return current.state == "paused" and bool(current.params.get(AWAITING_LABELS))


def evaluate(ctl: Controller, current: Deployment, stats: Mapping[str, Any] | None) -> Deployment:
    """Apply at most one transition to a rollout :func:`evaluates` accepts (see ``tick``)."""
    if not evaluates(current):
        return current
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
    config = AnalysisConfig(**params["analysis"])
    expected = params.get(EXPECTED_DIVERGENCE)
    if expected is None:
        result = ctl.analyzer.analyse(stats["champion"], stats[candidate.role], config)
    else:
        result = ctl.analyzer.analyse(
            stats["champion"], stats[candidate.role], config, expected=expected
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
        evidence = [str(e) for e in result.measures.get("evidence", ()) if e in _EVIDENCE]
        on = f" on {', '.join(evidence)} (the challenger is worse)" if evidence else ""
        return ctl.rollback_from(
            current,
            reason=f"analysis failed{on}: {why}",
            details={"analysis": analysis},
        )
    if result.verdict == "hold":
        return current if current.state == "paused" else pause(ctl, current, why, analysis)
    if result.verdict != "pass":
        return current
    if current.strategy != "canary" or current.step_index >= len(current.steps) - 1:
        return ctl.promote_from(
            current, reason=f"analysis passed: {why}", details={"analysis": analysis}
        )
    return advance(ctl, current, why, analysis, requests)


def pause(ctl: Controller, current: Deployment, why: str, analysis: dict[str, Any]) -> Deployment:
    """Freeze a rollout at its weights until labels decide (it stays under analysis)."""
    env = current.environment
    return ctl.write(
        env,
        current,
        action="pause",
        reason=f"paused by the analysis, waiting for labels ({why}); send them with "
        f"/v1/feedback, or decide with `conveyor promote --env {env}` or "
        f"`conveyor rollback --env {env}`",
        state="paused",
        params={**current.params, AWAITING_LABELS: {"since": ctl.now().isoformat()}},
        details={"analysis": analysis},
    )


def advance(
    ctl: Controller,
    current: Deployment,
    why: str,
    analysis: dict[str, Any],
    challenger_requests: int,
) -> Deployment:
    """Move a canary to its next step (out of an analysis pause, if it was in one)."""
    index = current.step_index + 1
    candidate = plans.candidate_of(current)
    champion = current.by_role("champion")
    assert candidate is not None  # checked by evaluate
    assert champion is not None
    percent = current.steps[index]
    params = {k: v for k, v in current.params.items() if k != AWAITING_LABELS}
    return ctl.write(
        current.environment,
        current,
        action="advance",
        reason=f"step {current.step_index + 1} passed ({why}); now {percent}% to {candidate.ref}",
        state="progressing",
        variants=plans.canary(champion, candidate.model, candidate.version, percent),
        step_index=index,
        step_started_at=ctl.now(),
        # The next step's minimum request count starts from here.
        params={**params, "step_base_requests": challenger_requests},
        details={"analysis": analysis},
    )
