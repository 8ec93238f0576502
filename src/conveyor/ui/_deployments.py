"""The deployments pages of the web UI.

``/deployments`` shows every environment (configured or recorded) with its live split;
``/deployments/{env}`` its revision history (one page of it, read as a page), the canary
analysis of a rollout over its recorded steps (found among the transitions around the
newest or the selected revision), and the actions (promote, rollback, pause, resume,
approve) the viewer may take in the current state. Actions run through the rollout
controller as the signed-in viewer, with the same permission rules as the API's deployment
actions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.responses import RedirectResponse, Response

from conveyor.config import EnvironmentConfig
from conveyor.core import validate_name
from conveyor.deployments import (
    IN_PROGRESS_STATES,
    BaseDeploymentRecords,
    Deployment,
    Transition,
    Variant,
)
from conveyor.rollout import Controller
from conveyor.security import Permission
from conveyor.ui._core import UI, PageRequest
from conveyor.ui._render import segment

__all__ = ["ACTIONS", "add_pages", "analysis_steps", "available_actions", "rollouts"]

#: Each action: the permission it needs, the reason recorded when none is given, its label.
ACTIONS: Mapping[str, tuple[Permission, str, str]] = {
    "promote": (Permission.PROMOTE, "promoted by hand", "Promote"),
    "rollback": (Permission.ROLLBACK, "rolled back by hand", "Roll back"),
    "pause": (Permission.DEPLOY, "paused", "Pause"),
    "resume": (Permission.DEPLOY, "resumed", "Resume"),
    "approve": (Permission.APPROVE, "approved", "Approve"),
}
#: The variant carrying the new version, by strategy (as the controller reads it).
_CANDIDATE_ROLE = {"canary": "challenger", "shadow": "shadow", "ab": "b", "blue-green": "green"}
#: What an analysed transition decided.
_DECISIONS = {
    "advance": "continue",
    "promote": "promote",
    "rollback": "rollback",
    "pause": "hold",
}
_HISTORY_PAGE = 20
#: Transitions read to find rollouts: the newest ones, or as many around a selected
#: revision (half before it). A rollout longer than half of this shows its part in reach.
_ROLLOUT_WINDOW = 60


@dataclass(frozen=True)
class Rollout:
    """The transitions of one rollout, from the one that started it to the one that ended it.

    Attributes:
        transitions: Oldest first.
        finished: Whether the last transition left the in-progress states.
    """

    transitions: tuple[Transition, ...]
    finished: bool

    @property
    def first(self) -> int:
        """The revision that started the rollout."""
        return self.transitions[0].revision

    @property
    def last(self) -> int:
        """The newest revision of the rollout."""
        return self.transitions[-1].revision


def rollouts(history: Sequence[Transition]) -> list[Rollout]:
    """The rollouts in ``history`` (oldest first): runs of in-progress revisions with
    the transition that ended each (a promotion, a rollback), oldest rollout first."""
    found: list[Rollout] = []
    current: list[Transition] = []
    for transition in history:
        if current:
            current.append(transition)
            if transition.to_state not in IN_PROGRESS_STATES:
                found.append(Rollout(tuple(current), finished=True))
                current = []
        elif transition.to_state in IN_PROGRESS_STATES:
            current = [transition]
    if current:
        found.append(Rollout(tuple(current), finished=False))
    return found


def analysis_steps(rollout: Rollout) -> list[dict[str, Any]]:
    """The recorded analysis steps of ``rollout``: one per transition the analysis made."""
    steps: list[dict[str, Any]] = []
    for transition in rollout.transitions:
        analysis = transition.details.get("analysis")
        if not isinstance(analysis, Mapping):
            continue
        measures = analysis.get("measures") or {}
        metric = measures.get("metric") if isinstance(measures, Mapping) else None
        errors = measures.get("error_rate") if isinstance(measures, Mapping) else None
        requests = measures.get("requests") if isinstance(measures, Mapping) else None
        steps.append(
            {
                "revision": transition.revision,
                "at": transition.at,
                "action": transition.action,
                "decision": _DECISIONS.get(transition.action, transition.action),
                "verdict": str(analysis.get("verdict", "")),
                "reasons": [str(r) for r in analysis.get("reasons") or ()],
                "metric": _bounds(metric),
                "metric_name": str(metric.get("metric", "metric"))
                if isinstance(metric, Mapping)
                else None,
                "error_rate": _bounds(errors),
                "requests": {str(k): int(v) for k, v in dict(requests or {}).items()},
                "evidence": [str(e) for e in measures.get("evidence") or ()]
                if isinstance(measures, Mapping)
                else [],
            }
        )
    return steps


def _bounds(measure: Any) -> dict[str, float] | None:
    if not isinstance(measure, Mapping):
        return None
    try:
        return {
            "difference": float(measure["difference"]),
            "lower": float(measure["rollback_lower"]),
            "upper": float(measure["promote_upper"]),
            "tolerance": float(measure.get("tolerance", 0.0)),
        }
    except (KeyError, TypeError, ValueError):
        return None


def available_actions(current: Deployment | None) -> list[str]:
    """The actions that apply to ``current`` (what the controller would not refuse)."""
    if current is None:
        return []
    shown: list[str] = []
    candidate = _candidate(current)
    if current.state in ("progressing", "paused") and candidate is not None:
        shown.append("promote")
    if current.stable_revision is not None and current.stable_revision != current.revision:
        shown.append("rollback")
    if current.state == "progressing":
        shown.append("pause")
    if current.state == "paused":
        shown.append("resume")
    if current.state == "awaiting_approval":
        shown.append("approve")
    return shown


def _candidate(deployment: Deployment) -> Variant | None:
    role = _CANDIDATE_ROLE.get(deployment.strategy)
    return None if role is None else deployment.by_role(role)


def _protected(cfg: EnvironmentConfig | None) -> bool:
    return bool(cfg is not None and cfg.protected)


def _progress(deployment: Deployment | None) -> str | None:
    """The rollout in progress in words (``None`` when none is)."""
    if deployment is None or not deployment.in_progress:
        return None
    if deployment.state == "awaiting_approval":
        pending = deployment.params.get("pending") or {}
        ref = f"{pending.get('model', '?')}@{pending.get('version', '?')}"
        return f"{ref} ({pending.get('strategy', deployment.strategy)}) awaits approval"
    candidate = _candidate(deployment)
    what = candidate.ref if candidate is not None else deployment.strategy
    text = f"{what} at {candidate.weight:g}%" if candidate is not None else what
    if deployment.strategy == "canary" and deployment.steps:
        text += f", step {deployment.step_index + 1} of {len(deployment.steps)}"
    if deployment.state == "paused":
        text += " (paused)"
    return text


def _split(deployment: Deployment | None) -> list[dict[str, Any]]:
    if deployment is None:
        return []
    return [
        {"ref": v.ref, "role": v.role, "weight": v.weight, "model": v.model, "version": v.version}
        for v in deployment.variants
        if v.weight > 0 or v.role == "shadow"
    ]


def _analysis_figure(steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    labels = [f"r{s['revision']} {s['decision']}" for s in steps]
    data: list[dict[str, Any]] = []
    for key, name in (("metric", None), ("error_rate", "error rate")):
        shown = [(label, s[key]) for label, s in zip(labels, steps, strict=True) if s[key]]
        if not shown:
            continue
        title = name or next((str(s["metric_name"]) for s in steps if s["metric_name"]), "metric")
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{title}: how much worse the challenger is",
                "x": [label for label, _ in shown],
                "y": [b["difference"] for _, b in shown],
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [b["upper"] - b["difference"] for _, b in shown],
                    "arrayminus": [b["difference"] - b["lower"] for _, b in shown],
                },
                "customdata": [[b["lower"], b["upper"]] for _, b in shown],
                "hovertemplate": "%{y:.4f} (band %{customdata[0]:.4f} .. %{customdata[1]:.4f})",
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"{title} tolerance",
                "x": [label for label, _ in shown],
                "y": [b["tolerance"] for _, b in shown],
                "line": {"dash": "dash"},
            }
        )
    return {
        "data": data,
        "layout": {
            "title": {"text": "Challenger minus champion, with its confidence sequence band"},
            "xaxis": {"title": {"text": "analysis step (revision, decision)"}, "type": "category"},
            "yaxis": {"title": {"text": "difference (> 0: challenger worse)"}, "zeroline": True},
            "margin": {"t": 40, "r": 10},
        },
        "steps": [
            {k: v for k, v in s.items() if k != "at"} | {"at": s["at"].isoformat()} for s in steps
        ],
    }


def _requests_figure(steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    labels = [f"r{s['revision']} {s['decision']}" for s in steps]
    roles = sorted({role for s in steps for role in s["requests"]})
    data = [
        {
            "type": "bar",
            "name": role,
            "x": labels,
            "y": [s["requests"].get(role, 0) for s in steps],
        }
        for role in roles
    ]
    return {
        "data": data,
        "layout": {
            "barmode": "group",
            "title": {"text": "Requests per variant since the rollout started"},
            "xaxis": {"type": "category"},
            "yaxis": {"title": {"text": "requests"}},
            "margin": {"t": 40, "r": 10},
        },
    }


def _around(records: BaseDeploymentRecords, env: str, revision: int) -> list[Transition]:
    """The transitions in which to look for rollouts, oldest first: the newest
    :data:`_ROLLOUT_WINDOW`, or as many around ``revision`` (when one is selected)."""
    if not revision:
        newest, _ = records.history_page(env, limit=_ROLLOUT_WINDOW)
        return newest[::-1]
    start = max(revision - 1 - _ROLLOUT_WINDOW // 2, 0)
    window, _ = records.history_page(env, offset=start, limit=_ROLLOUT_WINDOW, newest_first=False)
    return window


def add_pages(ui: UI) -> None:
    """Add the deployments pages to ``ui``."""

    @ui.page("/deployments", name="deployments.index")
    def deployments(page: PageRequest) -> Response:
        configured = page.ws.settings.config.environments
        recorded = {d.environment: d for d in page.ws.deployments.environments()}
        rows = []
        for env in sorted(set(configured) | set(recorded)):
            cfg = configured.get(env)
            current = recorded.get(env)
            rows.append(
                {
                    "env": env,
                    "configured": cfg is not None,
                    "protected": _protected(cfg),
                    "deployment": current,
                    "strategy": current.strategy
                    if current is not None
                    else (cfg.strategy if cfg is not None else ""),
                    "state": current.state if current is not None else "never deployed",
                    "split": _split(current),
                    "progress": _progress(current),
                }
            )
        return ui.render(page, "deployments.html.j2", rows=rows)

    @ui.page("/deployments/{env}", name="deployments.show")
    def deployment(page: PageRequest, env: str) -> Response:
        env = validate_name(env, kind="environment")
        ws = page.ws
        cfg = ws.settings.config.environments.get(env)
        current = ws.deployments.current(env)
        if current is None and cfg is None:
            Controller(ws).environment(env)  # raises EnvironmentNotFoundError (404)
        records = ws.deployments.records
        _, total = records.history_page(env, limit=0)
        revision = page.query_int("revision", 0, low=1, high=2**62)
        if revision and revision > total:
            raise LookupError(
                f"Environment {env!r} has no revision {revision}; "
                + (f"its revisions are 1 to {total}." if total else "it was never deployed.")
            )
        offset = page.query_int("offset", 0, low=0, high=max(total - 1, 0))
        shown, total = records.history_page(env, offset=offset, limit=_HISTORY_PAGE)
        found = rollouts(_around(records, env, revision))
        selected: Rollout | None = None
        if revision:
            selected = next((r for r in found if r.first <= revision <= r.last), None)
        elif found:
            selected = found[-1]
        steps = analysis_steps(selected) if selected is not None else []
        outcome: dict[str, Any] | None = None
        if selected is not None:
            last = selected.transitions[-1]
            outcome = {
                "finished": selected.finished,
                "decision": _DECISIONS.get(last.action, last.action)
                if selected.finished
                else "continue",
                "action": last.action,
                "reason": last.reason,
                "revision": last.revision,
                "state": last.to_state,
            }
        protected = _protected(cfg)
        actions = [
            (name, ACTIONS[name][2])
            for name in available_actions(current)
            if page.viewer.can(ACTIONS[name][0], environment=env, protected=protected)
        ]
        return ui.render(
            page,
            "deployment_show.html.j2",
            env=env,
            cfg=cfg,
            protected=protected,
            current=current,
            split=_split(current),
            progress=_progress(current),
            transitions=shown,
            pager={"offset": offset, "limit": _HISTORY_PAGE, "total": total},
            query={"revision": revision or None},
            revision=revision or None,
            selected=selected,
            rollouts=found[::-1][:20],
            steps=steps,
            outcome=outcome,
            analysis_figure=_analysis_figure(steps),
            requests_figure=_requests_figure(steps),
            actions=actions,
        )

    def action_page(action: str) -> None:
        permission, default_reason, _ = ACTIONS[action]

        @ui.page(
            f"/deployments/{{env}}/{action}",
            name=f"deployments.{action}",
            permission=Permission.READ,
            method="POST",
        )
        def act(page: PageRequest, env: str) -> Response:
            env = validate_name(env, kind="environment")
            cfg = page.ws.settings.config.environments.get(env)
            page.viewer.require(permission, environment=env, protected=_protected(cfg))
            reason = page.field("reason") or default_reason
            controller = Controller(page.ws, notifier=ui.ws.notifier())
            # A state that does not allow it (nothing to promote, a concurrent change, a
            # rollout in progress) raises an error whose class answers 409.
            if action == "rollback":
                controller.rollback(env, reason=reason)
            else:
                getattr(controller, action)(env, reason=reason)
            return RedirectResponse(f"/deployments/{segment(env)}", status_code=303)

    for action in ACTIONS:
        action_page(action)
