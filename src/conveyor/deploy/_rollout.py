"""Starting a rollout: the first transition of each strategy, or a wait for approval.

Functions over a :class:`~conveyor.deploy.Controller` (which owns writing and
announcing transitions); they decide what the new deployment looks like.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.config import EnvironmentConfig
from conveyor.deploy import _plans as plans
from conveyor.deploy._readiness import check_ready
from conveyor.deployments import Deployment, Variant

if TYPE_CHECKING:
    from conveyor.deploy._controller import Controller


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
    ``champion`` alias); ``canary``, ``shadow`` and ``ab`` start ``progressing``. With
    nothing serving yet every strategy is a ``replace``: there is nothing to compare with.
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


def rollback_target(current: Deployment | None) -> int | None:
    """The stable revision a rollback from the next state returns to."""
    if current is None:
        return None
    if current.in_progress:
        return current.stable_revision
    return current.revision if current.live else current.stable_revision
