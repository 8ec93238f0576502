"""Resource routes of the control plane: datasets, runs, models, gates, deployments,
monitoring, the audit trail and tokens, as readable JSON under ``/api/v1``.

What the CLI shows, for people, scripts and the web UI. Reads need ``read`` (tokens:
``manage_tokens``); deployment actions need the action's permission, checked again in the
handler against the environment they change (a protected one takes a deployer's token),
and run through the rollout controller with the calling token as the actor. Every path
parameter is a name checked by :func:`conveyor.core.validate_name` before anything is
looked up (400 ``invalid_name``); the access guard answers before that, so a caller
without ``read`` never learns whether a resource exists.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import is_dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from conveyor.checks import list_decisions
from conveyor.core import Actor, validate_name, validate_version
from conveyor.cost import card_with_cost
from conveyor.deployments import Deployment
from conveyor.errors import ConveyorError, InvalidNameError
from conveyor.monitoring import BaseMonitoringRecords, SqlMonitoringRecords
from conveyor.registry import parse_model_ref, validate_alias
from conveyor.remote import API_PREFIX
from conveyor.rollout import Controller
from conveyor.security import BaseTokenRecords, Permission, SqlTokenRecords, TokenInfo, authorize
from conveyor.serving import Policy
from conveyor.serving._wire import json_response
from conveyor.workspace import Workspace

_P = API_PREFIX
_READ = Permission.READ

#: The policy of each resource route (the access guard refuses a route missing here).
RESOURCE_POLICIES: Mapping[str, Policy] = {
    f"{_P}/datasets": _READ,
    f"{_P}/datasets/{{name}}": _READ,
    f"{_P}/datasets/{{name}}/versions/{{version}}": _READ,
    f"{_P}/datasets/{{name}}/diff": _READ,
    f"{_P}/runs": _READ,
    f"{_P}/runs/compare": _READ,
    f"{_P}/runs/{{run_id}}": _READ,
    f"{_P}/runs/{{run_id}}/metrics": _READ,
    f"{_P}/models": _READ,
    f"{_P}/models/{{name}}": _READ,
    f"{_P}/models/{{name}}/history": _READ,
    f"{_P}/models/{{name}}/versions/{{version}}": _READ,
    f"{_P}/models/{{name}}/versions/{{version}}/card": _READ,
    f"{_P}/checks/decisions": _READ,
    f"{_P}/deployments": _READ,
    f"{_P}/deployments/{{env}}": _READ,
    f"{_P}/deployments/{{env}}/history": _READ,
    f"{_P}/deployments/{{env}}/deploy": Permission.DEPLOY,
    f"{_P}/deployments/{{env}}/promote": Permission.PROMOTE,
    f"{_P}/deployments/{{env}}/rollback": Permission.ROLLBACK,
    f"{_P}/deployments/{{env}}/pause": Permission.DEPLOY,
    f"{_P}/deployments/{{env}}/resume": Permission.DEPLOY,
    f"{_P}/deployments/{{env}}/approve": Permission.APPROVE,
    f"{_P}/monitoring/reports": _READ,
    f"{_P}/monitoring/alerts": _READ,
    f"{_P}/events": _READ,
    f"{_P}/audit/verify": _READ,
    f"{_P}/tokens": Permission.MANAGE_TOKENS,
}

_RUN_ID = re.compile(r"[0-9a-f]{6,64}")
_Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many.")]
_Text = Annotated[str | None, Query(max_length=512)]


class InvalidQueryError(ConveyorError, ValueError):
    """A query parameter of a resource route is not of the form the route takes."""

    code = "invalid_query"


class DeployBody(BaseModel):
    """``POST .../deploy``: what to deploy and how."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(max_length=300, description="NAME@VERSION or NAME@ALIAS.")
    strategy: str | None = Field(default=None, max_length=40)
    steps: list[int] | None = Field(default=None, max_length=20)
    force_reason: str | None = Field(default=None, max_length=1000)


class ActionBody(BaseModel):
    """``POST .../promote|pause|resume|approve``: why (recorded with the transition)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class RollbackBody(ActionBody):
    """``POST .../rollback``: why, and optionally the revision to restore."""

    to_revision: int | None = Field(default=None, ge=1, le=2**63 - 1)


def add_resource_routes(app: FastAPI, ws: Workspace) -> None:
    """Add the resource routes over ``ws`` to ``app`` (full paths, one policy each)."""
    _data_routes(app, ws)
    _run_routes(app, ws)
    _model_routes(app, ws)
    _deployment_routes(app, ws)
    _audit_routes(app, ws)


# -- datasets ----------------------------------------------------------------------------


def _data_routes(app: FastAPI, ws: Workspace) -> None:
    tags: list[str | Enum] = ["datasets"]

    @app.get(f"{_P}/datasets", tags=tags, summary="Every dataset with its newest version.")
    def datasets() -> Response:
        return _ok(ws.datasets.list())

    @app.get(f"{_P}/datasets/{{name}}", tags=tags, summary="A dataset's versions, newest first.")
    def dataset(name: str) -> Response:
        name = validate_name(name, kind="dataset name")
        return _ok({"name": name, "versions": _plain(ws.datasets.log(name))})

    @app.get(
        f"{_P}/datasets/{{name}}/versions/{{version}}",
        tags=tags,
        summary="One dataset version: metadata, schema and column profile.",
    )
    def dataset_version(name: str, version: str) -> Response:
        found = ws.datasets.get(validate_name(name, kind="dataset name"), _selector(version))
        return _ok({**found.to_dict(), "profile": found.profile})

    @app.get(
        f"{_P}/datasets/{{name}}/diff",
        tags=tags,
        summary="What changed from version a to version b: files, schema, rows, statistics.",
    )
    def dataset_diff(
        name: str, a: Annotated[str, Query(max_length=40)], b: Annotated[str, Query(max_length=40)]
    ) -> Response:
        name = validate_name(name, kind="dataset name")
        return _ok(ws.datasets.diff(f"{name}@{_selector(a)}", f"{name}@{_selector(b)}"))


# -- runs --------------------------------------------------------------------------------


def _run_routes(app: FastAPI, ws: Workspace) -> None:
    tags: list[str | Enum] = ["runs"]

    @app.get(f"{_P}/runs", tags=tags, summary="Runs, newest first, with their latest metrics.")
    def runs(
        limit: _Limit = 50,
        status: Annotated[str | None, Query(max_length=40)] = None,
        name: _Text = None,
    ) -> Response:
        records = ws.runs.records
        found = records.list_runs(status=status, limit=None if name else limit)
        if name is not None:
            found = [r for r in found if r.name == name][:limit]
        latest = records.latest_metrics([r.id for r in found]) if found else {}
        return _ok(
            [
                r.to_dict() | {"metrics": {k: p.value for k, p in latest.get(r.id, {}).items()}}
                for r in found
            ]
        )

    @app.get(
        f"{_P}/runs/compare",
        tags=tags,
        summary="Two runs side by side: parameters, latest metrics and histories.",
    )
    def compare(ids: Annotated[str, Query(max_length=200, description="ID_A,ID_B")]) -> Response:
        parts = [part.strip() for part in ids.split(",")]
        if len(parts) != 2:
            raise InvalidQueryError(
                f"ids={ids[:80]!r} names {len(parts)} runs; compare takes exactly two.",
                hint="Pass ids=FIRST,SECOND (run ids or unique prefixes of 6+ characters).",
                ids=ids[:200],
            )
        return _ok(ws.runs.compare(_run_id(parts[0]), _run_id(parts[1])))

    @app.get(
        f"{_P}/runs/{{run_id}}",
        tags=tags,
        summary="One run: parameters, latest metrics, datasets, outputs, artifacts, steps.",
    )
    def run(run_id: str) -> Response:
        found = ws.runs.get(_run_id(run_id))
        tree = ws.runs.run_tree_metrics(found.id)
        return _ok(
            {
                "run": found.to_dict(),
                "params": found.params,
                "metrics": {key: metric.value for key, metric in tree.items()},
                "metric_sources": {key: metric.source for key, metric in tree.items()},
                "datasets": ws.runs.datasets(found.id),
                "outputs": _plain(ws.runs.outputs(found.id)),
                "artifacts": ws.runs.artifacts(found.id),
                "steps": [step.to_dict() for step in ws.runs.children(found.id)],
            }
        )

    @app.get(
        f"{_P}/runs/{{run_id}}/metrics",
        tags=tags,
        summary="Every value a run logged (of one key, with key=), in logged order.",
    )
    def run_metrics(run_id: str, key: _Text = None) -> Response:
        found = ws.runs.get(_run_id(run_id))
        return _ok(ws.runs.metrics(found.id, key))


# -- models and gate decisions -----------------------------------------------------------


def _model_routes(app: FastAPI, ws: Workspace) -> None:
    tags: list[str | Enum] = ["models"]

    @app.get(f"{_P}/models", tags=tags, summary="Every model with its latest version and aliases.")
    def models() -> Response:
        return _ok(ws.models.list())

    @app.get(f"{_P}/models/{{name}}", tags=tags, summary="A model's versions, newest first.")
    def model(name: str) -> Response:
        name = validate_name(name, kind="model name")
        return _ok({"name": name, "versions": _plain(ws.models.versions(name))})

    @app.get(
        f"{_P}/models/{{name}}/history",
        tags=tags,
        summary="Registrations, archives and alias moves of a model, oldest first.",
    )
    def model_history(name: str) -> Response:
        return _ok(ws.models.history(validate_name(name, kind="model name")))

    @app.get(
        f"{_P}/models/{{name}}/versions/{{version}}",
        tags=tags,
        summary="One model version, by number or alias.",
    )
    def model_version(name: str, version: str) -> Response:
        return _ok(ws.models.get(_model_ref(name, version)))

    @app.get(
        f"{_P}/models/{{name}}/versions/{{version}}/card",
        tags=tags,
        summary="The model card, as Markdown (format=markdown) or JSON with HTML (format=json).",
        responses={200: {"content": {"text/markdown": {}, "application/json": {}}}},
    )
    def model_card(
        name: str, version: str, format: Literal["markdown", "json"] = "markdown"
    ) -> Response:
        ref = _model_ref(name, version)
        keys = dict(ws.settings.config.signing.public_keys)
        card = card_with_cost(ws, ref, ws.models.card(ref, public_keys=keys))
        if format == "json":
            return _ok(
                {"ref": ws.models.get(ref).ref, "markdown": card.markdown, "html": card.html}
            )
        return Response(
            card.markdown,
            200,
            {"x-content-type-options": "nosniff"},
            media_type="text/markdown; charset=utf-8",
        )

    @app.get(
        f"{_P}/checks/decisions",
        tags=["checks"],
        summary="Gate decisions about a model version (NAME@REF) or every version (NAME).",
    )
    def decisions(model: Annotated[str, Query(max_length=300)]) -> Response:
        name, sep, selector = model.partition("@")
        if sep:
            refs = [ws.models.get(_model_ref(name, selector)).ref]
        else:
            versions = ws.models.versions(validate_name(name, kind="model name"))
            refs = [v.ref for v in reversed(versions)]
        return _ok([d for ref in refs for d in list_decisions(ws, "model", ref)])


# -- deployments -------------------------------------------------------------------------


def _deployment_routes(app: FastAPI, ws: Workspace) -> None:
    tags: list[str | Enum] = ["deployments"]
    environments = ws.settings.config.environments

    def shown(env: str, deployment: Deployment | None) -> dict[str, Any]:
        cfg = environments.get(env)
        return {
            "environment": env,
            "configured": cfg is not None,
            "protected": bool(cfg is not None and cfg.protected),
            "deployment": None if deployment is None else deployment.to_dict(),
        }

    @app.get(f"{_P}/deployments", tags=tags, summary="The current deployment of every environment.")
    def deployments() -> Response:
        recorded = {d.environment: d for d in ws.deployments.environments()}
        names = sorted(set(environments) | set(recorded))
        return _ok([shown(env, recorded.get(env)) for env in names])

    @app.get(f"{_P}/deployments/{{env}}", tags=tags, summary="The current deployment of env.")
    def deployment(env: str) -> Response:
        env = validate_name(env, kind="environment")
        return _ok(shown(env, Controller(ws).status(env)))

    @app.get(
        f"{_P}/deployments/{{env}}/history",
        tags=tags,
        summary="Every transition of env with its actor, time and reason, oldest first.",
    )
    def deployment_history(env: str) -> Response:
        env = validate_name(env, kind="environment")
        Controller(ws).environment(env)
        return _ok(ws.deployments.history(env))

    _action_routes(app, ws)

    @app.get(
        f"{_P}/monitoring/reports",
        tags=["monitoring"],
        summary="The newest monitoring reports (of env), oldest first.",
    )
    def reports(
        env: Annotated[str | None, Query(max_length=128)] = None, limit: _Limit = 50
    ) -> Response:
        if env is not None:
            env = validate_name(env, kind="environment")
        records = ws.records(BaseMonitoringRecords, SqlMonitoringRecords)
        return _ok(records.reports(env, limit=limit))

    @app.get(f"{_P}/monitoring/alerts", tags=["monitoring"], summary="Open alert incidents.")
    def alerts() -> Response:
        return _ok(ws.records(BaseMonitoringRecords, SqlMonitoringRecords).open_alerts())


def _action_routes(app: FastAPI, ws: Workspace) -> None:
    actions = _Actions(ws)

    def deploy(request: Request, env: str, body: Annotated[DeployBody, Body()]) -> Response:
        return actions.run(
            request,
            env,
            Permission.DEPLOY,
            lambda c, e: c.deploy(
                _deployable(body.model),
                e,
                strategy=body.strategy,
                steps=body.steps,
                force_reason=body.force_reason,
            ),
        )

    def rollback(
        request: Request, env: str, body: Annotated[RollbackBody | None, Body()] = None
    ) -> Response:
        given = body or RollbackBody()
        reason = given.reason or "rolled back by hand"
        return actions.run(
            request,
            env,
            Permission.ROLLBACK,
            lambda c, e: c.rollback(e, to_revision=given.to_revision, reason=reason),
        )

    def reasoned(action: str, permission: Permission, default: str) -> Callable[..., Response]:
        def handler(
            request: Request, env: str, body: Annotated[ActionBody | None, Body()] = None
        ) -> Response:
            reason = (body.reason if body is not None else None) or default

            def act(controller: Controller, environment: str) -> Deployment:
                done: Deployment = getattr(controller, action)(environment, reason=reason)
                return done

            return actions.run(request, env, permission, act)

        handler.__name__ = f"deployment_{action}"
        return handler

    routes: tuple[tuple[str, Callable[..., Response], str], ...] = (
        ("deploy", deploy, "Deploy a model version to env with a rollout strategy."),
        (
            "promote",
            reasoned("promote", Permission.PROMOTE, "promoted by hand"),
            "Promote the rollout in progress: its new version takes all traffic.",
        ),
        ("rollback", rollback, "Return env to its last stable state (or revision to_revision)."),
        (
            "pause",
            reasoned("pause", Permission.DEPLOY, "paused"),
            "Freeze a progressing rollout at its current weights.",
        ),
        (
            "resume",
            reasoned("resume", Permission.DEPLOY, "resumed"),
            "Let a paused rollout progress again.",
        ),
        (
            "approve",
            reasoned("approve", Permission.APPROVE, "approved"),
            "Start the deploy waiting for approval in env.",
        ),
    )
    for action, endpoint, summary in routes:
        app.add_api_route(
            f"{_P}/deployments/{{env}}/{action}",
            endpoint,
            methods=["POST"],
            name=f"deployments.{action}",
            tags=["deployments"],
            summary=summary,
        )


class _Actions:
    """Deployment actions through the rollout controller, as the calling token."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.views = _Views(ws)

    def run(
        self,
        request: Request,
        env: str,
        permission: Permission,
        act: Callable[[Controller, str], Deployment],
    ) -> Response:
        """Authorize ``permission`` in ``env`` (protected or not), then ``act`` in it.

        Raises:
            InvalidNameError: ``env`` is not a valid environment name.
            AccessDeniedError: the token may not do this in ``env``.
        """
        env = validate_name(env, kind="environment")
        cfg = self.ws.settings.config.environments.get(env)
        token: TokenInfo = request.state.token
        protected = bool(cfg is not None and cfg.protected)
        authorize(token, permission, environment=env, protected=protected)
        # The view's actor is the token's: transitions, alias moves and audit events
        # name the caller; announcements go through the server's one notifier.
        controller = Controller(self.views.of(token), notifier=self.ws.notifier())
        return _ok(act(controller, env))


def _deployable(ref: str) -> str:
    """``ref`` if it names a version or an alias (a deploy never means "latest")."""
    model = parse_model_ref(ref)
    if model.version is None and model.alias is None:
        raise InvalidNameError(
            f"Model reference {ref[:80]!r} names no version or alias.",
            hint="Deploy NAME@VERSION or NAME@ALIAS, e.g. 'churn@3'.",
            name=model.name,
        )
    return ref


# -- audit and tokens --------------------------------------------------------------------


def _audit_routes(app: FastAPI, ws: Workspace) -> None:
    @app.get(f"{_P}/events", tags=["audit"], summary="The audit log, oldest first (newest limit).")
    def events(
        limit: _Limit = 100,
        action: Annotated[str | None, Query(max_length=128)] = None,
        target: _Text = None,
    ) -> Response:
        return _ok(ws.audit_log(limit=limit, action=action, target=target))

    @app.get(
        f"{_P}/audit/verify", tags=["audit"], summary="Recompute the audit hash chain and report."
    )
    def verify() -> Response:
        return _ok(ws.verify_audit())

    @app.get(
        f"{_P}/tokens", tags=["tokens"], summary="Every token with its role and state (no secret)."
    )
    def tokens() -> Response:
        now = datetime.now(UTC)
        listed = ws.records(BaseTokenRecords, SqlTokenRecords).list()
        return _ok([{**t.to_dict(), "state": t.state(now)} for t in listed])


# -- helpers -----------------------------------------------------------------------------


class _Views:
    """Workspaces over the same stores acting as a token's identity (``token:<name>``),
    so the controller's transitions, alias moves and audit events name the caller."""

    _MAX = 64

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._views: OrderedDict[str, Workspace] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, token: TokenInfo) -> Workspace:
        actor = Actor(name=f"token:{token.name}", kind="service")
        with self._lock:
            view = self._views.get(actor.name)
            if view is None:
                ws = self.ws
                view = Workspace(ws.settings, ws.store, ws.artifacts, actor)
                self._views[actor.name] = view
                while len(self._views) > self._MAX:
                    self._views.popitem(last=False)
            self._views.move_to_end(actor.name)
            return view


def _selector(version: str) -> str:
    """A dataset version selector from a path or query: a number or ``latest``."""
    if version.lower() == "latest":
        return "latest"
    return str(validate_version(version, kind="dataset version"))


def _model_ref(name: str, version: str) -> str:
    """``name@version`` from path parameters: a version number, an alias or ``latest``."""
    name = validate_name(name, kind="model name")
    selector = validate_name(version, kind="model version or alias")
    if not (selector.isdigit() or selector.lower() == "latest"):
        validate_alias(selector)
    ref = f"{name}@{selector}"
    parse_model_ref(ref)
    return ref


def _run_id(text: str) -> str:
    """A run id or id prefix (6-64 hex digits), else :class:`InvalidNameError`."""
    value = text.strip().lower()
    if _RUN_ID.fullmatch(value) is None:
        shown = repr(text[:40]) + ("..." if len(text) > 40 else "")
        raise InvalidNameError(
            f"Invalid run id {shown}: expected 6-64 hexadecimal digits (an id or its prefix).",
            hint="List runs and their ids with GET /api/v1/runs.",
            name=text[:80],
        )
    return value


def _ok(value: Any) -> Response:
    return json_response(_plain(value))


def _plain(value: Any) -> Any:
    """``value`` as JSON-able data: ``to_dict()`` where a record has one, else pydantic."""
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return _adapter(type(value)).dump_python(value, mode="json")
    return _adapter(Any).dump_python(value, mode="json")


@cache
def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


__all__ = ["RESOURCE_POLICIES", "InvalidQueryError", "add_resource_routes"]
