"""Starting a rollout: the first transition of each strategy, or a wait for approval.

Functions over a :class:`~conveyor.rollout.Controller` (which owns writing and
announcing transitions); they decide what the new deployment looks like.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.checks import latest_decision, list_results
from conveyor.config import EnvironmentConfig
from conveyor.deployments import Deployment, Variant
from conveyor.rollout import _plans as plans
from conveyor.rollout._readiness import check_ready
from conveyor.rollout._tick import EXPECTED_DIVERGENCE

if TYPE_CHECKING:
    from conveyor.rollout._controller import Controller
    from conveyor.workspace import Workspace


def await_approval(
    ctl: Controller, env: str, current: Deployment | None, plan: dict[str, Any]
) -> Deployment:
    """Record a deploy waiting for ``approve``; traffic stays as it is."""
    ref = f"{plan['model']}@{plan['version']}"
    if current is None or not current.live:
        # Nothing serves yet: record the pending version at 0 % (it answers nothing).
        variants: tuple[Variant, ...] = (
            Variant(plan["model"], plan["version"], "challenger", 0.0),
        )
    else:
        variants = current.variants
    return ctl.write(
        env,
        current,
        action="deploy",
        reason=f"{ref} ({plan['strategy']}) awaits approval",
        state="awaiting_approval",
        strategy=plan["strategy"],
        variants=variants,
        steps=tuple(plan["steps"]),
        step_index=0,
        stable_revision=rollback_target(current),
        params={"pending": plan},
        details={"force_reason": plan["force_reason"]},
    )


def start(
    ctl: Controller,
    env: str,
    cfg: EnvironmentConfig,
    current: Deployment | None,
    plan: dict[str, Any],
    *,
    action: str,
    reason: str | None = None,
) -> Deployment:
    """Check the version is ready, then write the strategy's first transition.

    ``replace`` and ``blue-green`` finish in this one transition (and move the
    environment's alias, and ``champion`` for ``evaluation.champion_env``); ``canary``,
    ``shadow`` and ``ab`` start ``progressing``. With nothing serving yet every strategy
    is a ``replace``: there is nothing to compare with.
    """
    model, number = str(plan["model"]), int(plan["version"])
    ref = f"{model}@{number}"
    strategy = str(plan["strategy"])
    check_ready(ctl.ws, ref)
    incumbent = plans.incumbent_of(current)
    now = ctl.now()
    common: dict[str, Any] = {
        "stable_revision": rollback_target(current),
        "step_index": 0,
        "step_started_at": now,
        "details": {"force_reason": plan.get("force_reason")},
    }
    why = reason or f"deploy {ref} with {strategy}"
    if plan.get("force_reason"):
        why += f" (gate overridden: {plan['force_reason']})"
    if incumbent is None or strategy in ("replace", "blue-green"):
        if incumbent is None:
            why += ": first deployment, nothing to compare with"
            strategy = "replace"
        variants = (
            plans.sole(model, number)
            if incumbent is None or strategy == "replace"
            else plans.blue_green(incumbent, model, number)
        )
        deployment = ctl.write(
            env,
            current,
            action=action,
            reason=why,
            state="stable",
            strategy=strategy,
            variants=variants,
            steps=(),
            params={},
            **common,
        )
        ctl.move_champion(model, number, env)
        return deployment
    steps = tuple(int(step) for step in plan["steps"])
    params: dict[str, Any] = {
        "rollout_revision": 1 if current is None else current.revision + 1,
        "started_at": now.isoformat(),
        "step_base_requests": 0,
        "min_step_duration_s": cfg.min_step_duration_s,
        "min_requests": cfg.min_requests,
        "analysis": cfg.analysis.model_dump(),
    }
    if strategy in ("canary", "shadow"):
        expected, note = divergence_expectation(ctl.ws, ref, incumbent.ref)
        params[EXPECTED_DIVERGENCE] = expected
        params["divergence_expectation"] = note
        common["details"] = {**common["details"], "divergence_expectation": note}
    if strategy == "canary":
        variants = plans.canary(incumbent, model, number, steps[0])
    elif strategy == "shadow":
        variants, steps = plans.shadow(incumbent, model, number), ()
        params["shadow_timeout_ms"] = cfg.shadow_timeout_ms
    else:
        variants, steps = plans.ab(incumbent, model, number, cfg.split), ()
        params.update(split=cfg.split, sticky_key=cfg.sticky_key)
    return ctl.write(
        env,
        current,
        action=action,
        reason=why,
        state="progressing",
        strategy=strategy,
        variants=variants,
        steps=steps,
        params=params,
        **common,
    )


def divergence_expectation(
    ws: Workspace, candidate_ref: str, champion_ref: str
) -> tuple[dict[str, Any] | None, str]:
    """The prediction divergence the gate measured between these two versions, if trusted.

    Read from the candidate's latest gate decision: the profile a check of that suite
    recorded in ``details["expected_divergence"]`` (the champion comparison does). Only a
    decision that did not REJECT the candidate, made against ``champion_ref``, counts.

    Returns:
        The stored profile (or ``None``) and a sentence saying where it came from or why
        there is none.
    """
    decision = latest_decision(ws, candidate_ref)
    if decision is None:
        return None, f"no gate decision for {candidate_ref}"
    if decision.decision == "REJECT":
        return None, f"the gate rejected {candidate_ref}, so its measurements are not relied on"
    if decision.champion_ref != champion_ref:
        return None, (
            f"the gate compared {candidate_ref} with "
            f"{decision.champion_ref or 'no champion'}, not with {champion_ref}"
        )
    records = list_results(ws, "model", candidate_ref, suite_id=decision.suite_id)
    for record in records:
        profile = (record.result.details or {}).get(EXPECTED_DIVERGENCE)
        if isinstance(profile, dict):
            value = profile.get("value")
            shown = f"{value:.3f}" if isinstance(value, int | float) else repr(value)
            return profile, (
                f"expected from the gate's {record.result.name} check: Jensen-Shannon "
                f"{shown} on {profile.get('rows')} holdout rows vs {champion_ref}"
            )
    return None, (
        f"the gate of {candidate_ref} did not measure it (gate on champion_comparison to record it)"
    )


def rollback_target(current: Deployment | None) -> int | None:
    """The stable revision a rollback from the next state returns to."""
    if current is None:
        return None
    if current.in_progress:
        return current.stable_revision
    return current.revision if current.live else current.stable_revision
