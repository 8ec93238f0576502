"""Where a model's versions serve and how their gates stand: the reads the models pages share.

Serving comes from the deployments (one read of every environment), overridden gates from
the deployments' histories (one query per environment), the newest gate decision of each
model and a version's signatures from the audit trail (one query each), so none of them
makes a query per version.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from conveyor.deployments import Deployment, Transition, Variant
from conveyor.workspace import Workspace

__all__ = [
    "Override",
    "deployment_histories",
    "newest_decisions",
    "overrides",
    "serving",
    "signed_versions",
    "state",
]

#: Gate decisions (audit events) the models list looks through for each model's newest.
DECISIONS_SCANNED = 5000

_GATE_STATE = {"PROMOTE": "pass", "HOLD": "hold", "REJECT": "reject"}


@dataclass(frozen=True)
class Override:
    """A deployment that went ahead although the gate rejected the version."""

    environment: str
    revision: int
    reason: str
    actor: str
    at: Any


def serving(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    """Model -> where its versions serve now: environment, revision, state, variant."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in ws.deployments.environments():
        for variant in d.variants:
            out[variant.model].append(_served(d, variant))
    return out


def _served(d: Deployment, variant: Variant) -> dict[str, Any]:
    return {
        "environment": d.environment,
        "revision": d.revision,
        "state": d.state,
        "version": variant.version,
        "role": variant.role,
        "weight": variant.weight,
    }


def _deployed(t: Transition) -> list[Variant]:
    """The variants a deploy transition put in: its challengers, else all of them."""
    challengers = [v for v in t.variants if v.role == "challenger"]
    return challengers or list(t.variants)


def deployment_histories(ws: Workspace) -> dict[str, list[Transition]]:
    """Environment -> its deployment history (one query per environment)."""
    return {
        d.environment: ws.deployments.history(d.environment) for d in ws.deployments.environments()
    }


def overrides(
    ws: Workspace, name: str | None = None, histories: dict[str, list[Transition]] | None = None
) -> dict[tuple[str, int], list[Override]]:
    """(model, version) -> the deployments that overrode a REJECT gate (``force_reason``)."""
    out: dict[tuple[str, int], list[Override]] = defaultdict(list)
    for env, transitions in (
        histories if histories is not None else deployment_histories(ws)
    ).items():
        for t in transitions:
            reason = (t.details or {}).get("force_reason")
            if t.action != "deploy" or not reason:
                continue
            for variant in _deployed(t):
                if name is None or variant.model == name:
                    out[(variant.model, variant.version)].append(
                        Override(env, t.revision, str(reason), t.actor, t.at)
                    )
    return out


def newest_decisions(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Model -> its newest recorded gate decision (version, verdict, champion, when, who)."""
    out: dict[str, dict[str, Any]] = {}
    for event in ws.audit_log(action="model.evaluate", limit=DECISIONS_SCANNED):
        model, _, number = event.target.removeprefix("model:").partition("@")
        version = event.details.get("version")
        if not isinstance(version, int):
            version = int(number) if number.isdigit() else None
        if version is None:
            continue
        out[model] = {
            "version": version,
            "verdict": str(event.details.get("verdict") or ""),
            "champion": event.details.get("champion"),
            "at": event.at,
            "actor": event.actor,
        }
    return out


def signed_versions(ws: Workspace, name: str) -> Counter[int]:
    """Version -> how many signatures it has (from the ``model.sign`` audit events)."""
    counts: Counter[int] = Counter()
    for event in ws.audit_log(action="model.sign", target=f"model:{name}@"):
        version = event.details.get("version")
        if isinstance(version, int):
            counts[version] += 1
    return counts


def state(verdict: str | None, overrides: list[Override]) -> str | None:
    """``pass``, ``hold``, ``reject`` or ``overridden`` (a REJECT deployed anyway)."""
    if not verdict:
        return None
    if verdict == "REJECT" and overrides:
        return "overridden"
    return _GATE_STATE.get(verdict, verdict.lower())
