"""Deployment routes of the control plane: status, history and the deployment actions.

``GET`` routes read an environment's deployment and transitions (``read``); the ``POST``
actions (deploy, promote, rollback, pause, resume, approve) need the action's permission,
checked again in the handler against the environment they change (a protected one takes a
deployer's token), and run through the rollout controller with the calling token as the
actor. Their policies are in :data:`conveyor.api._resources.RESOURCE_POLICIES`, whose
:func:`~conveyor.api._resources.add_resource_routes` adds these routes with the others.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from conveyor.api._resource_json import ok
from conveyor.core import Actor, validate_name
from conveyor.deployments import Deployment
from conveyor.errors import InvalidNameError
from conveyor.registry import parse_model_ref
from conveyor.remote import API_PREFIX
from conveyor.rollout import Controller
from conveyor.security import Permission, TokenInfo, authorize
from conveyor.workspace import Workspace

_P = API_PREFIX


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


def add_deployment_routes(app: FastAPI, ws: Workspace) -> None:
    """Add the deployment routes over ``ws`` to ``app``: status, history, then actions."""
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
        return ok([shown(env, recorded.get(env)) for env in names])

    @app.get(f"{_P}/deployments/{{env}}", tags=tags, summary="The current deployment of env.")
    def deployment(env: str) -> Response:
        env = validate_name(env, kind="environment")
        return ok(shown(env, Controller(ws).status(env)))

    @app.get(
        f"{_P}/deployments/{{env}}/history",
        tags=tags,
        summary="Every transition of env with its actor, time and reason, oldest first.",
    )
    def deployment_history(env: str) -> Response:
        env = validate_name(env, kind="environment")
        Controller(ws).environment(env)
        return ok(ws.deployments.history(env))

    _action_routes(app, ws)


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
        return ok(act(controller, env))


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


__all__ = ["ActionBody", "DeployBody", "RollbackBody", "add_deployment_routes"]
