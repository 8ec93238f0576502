"""Resource routes of the control plane: datasets, runs, models, gates, deployments,
monitoring, the audit trail and tokens, as readable JSON under ``/api/v1``.

What the CLI shows, for people, scripts and the web UI. Reads need ``read`` (tokens:
``manage_tokens``); deployment actions need the action's permission, checked again in the
handler against the environment they change (a protected one takes a deployer's token),
and run through the rollout controller with the calling token as the actor. Every path
parameter is a name checked by :func:`conveyor.core.validate_name` before anything is
looked up (400 ``invalid_name``); the access guard answers before that, so a caller
without ``read`` never learns whether a resource exists.

The deployment routes (status, history and actions) are in
:mod:`conveyor.api._deployment_routes`, and the JSON bodies every route answers with in
:mod:`conveyor.api._resource_json`; :func:`add_resource_routes` adds them all, and
:data:`RESOURCE_POLICIES` holds the policy of each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Literal

from fastapi import FastAPI, Query
from fastapi.responses import Response

from conveyor.api._deployment_routes import add_deployment_routes
from conveyor.api._resource_json import ok, plain
from conveyor.checks import list_decisions
from conveyor.core import validate_name, validate_version
from conveyor.cost import card_with_cost
from conveyor.errors import ConveyorError, InvalidNameError
from conveyor.monitoring import BaseMonitoringRecords, SqlMonitoringRecords
from conveyor.registry import parse_model_ref, validate_alias
from conveyor.remote import API_PREFIX
from conveyor.security import BaseTokenRecords, Permission, SqlTokenRecords
from conveyor.serving import Policy
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


def add_resource_routes(app: FastAPI, ws: Workspace) -> None:
    """Add the resource routes over ``ws`` to ``app`` (full paths, one policy each)."""
    _data_routes(app, ws)
    _run_routes(app, ws)
    _model_routes(app, ws)
    add_deployment_routes(app, ws)
    _monitoring_routes(app, ws)
    _audit_routes(app, ws)


# -- datasets ----------------------------------------------------------------------------


def _data_routes(app: FastAPI, ws: Workspace) -> None:
    tags: list[str | Enum] = ["datasets"]

    @app.get(f"{_P}/datasets", tags=tags, summary="Every dataset with its newest version.")
    def datasets() -> Response:
        return ok(ws.datasets.list())

    @app.get(f"{_P}/datasets/{{name}}", tags=tags, summary="A dataset's versions, newest first.")
    def dataset(name: str) -> Response:
        name = validate_name(name, kind="dataset name")
        return ok({"name": name, "versions": plain(ws.datasets.log(name))})

    @app.get(
        f"{_P}/datasets/{{name}}/versions/{{version}}",
        tags=tags,
        summary="One dataset version: metadata, schema and column profile.",
    )
    def dataset_version(name: str, version: str) -> Response:
        found = ws.datasets.get(validate_name(name, kind="dataset name"), _selector(version))
        return ok({**found.to_dict(), "profile": found.profile})

    @app.get(
        f"{_P}/datasets/{{name}}/diff",
        tags=tags,
        summary="What changed from version a to version b: files, schema, rows, statistics.",
    )
    def dataset_diff(
        name: str, a: Annotated[str, Query(max_length=40)], b: Annotated[str, Query(max_length=40)]
    ) -> Response:
        name = validate_name(name, kind="dataset name")
        return ok(ws.datasets.diff(f"{name}@{_selector(a)}", f"{name}@{_selector(b)}"))


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
        return ok(
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
        return ok(ws.runs.compare(_run_id(parts[0]), _run_id(parts[1])))

    @app.get(
        f"{_P}/runs/{{run_id}}",
        tags=tags,
        summary="One run: parameters, latest metrics, datasets, outputs, artifacts, steps.",
    )
    def run(run_id: str) -> Response:
        found = ws.runs.get(_run_id(run_id))
        tree = ws.runs.run_tree_metrics(found.id)
        return ok(
            {
                "run": found.to_dict(),
                "params": found.params,
                "metrics": {key: metric.value for key, metric in tree.items()},
                "metric_sources": {key: metric.source for key, metric in tree.items()},
                "datasets": ws.runs.datasets(found.id),
                "outputs": plain(ws.runs.outputs(found.id)),
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
        return ok(ws.runs.metrics(found.id, key))


# -- models and gate decisions -----------------------------------------------------------


def _model_routes(app: FastAPI, ws: Workspace) -> None:
    tags: list[str | Enum] = ["models"]

    @app.get(f"{_P}/models", tags=tags, summary="Every model with its latest version and aliases.")
    def models() -> Response:
        return ok(ws.models.list())

    @app.get(f"{_P}/models/{{name}}", tags=tags, summary="A model's versions, newest first.")
    def model(name: str) -> Response:
        name = validate_name(name, kind="model name")
        return ok({"name": name, "versions": plain(ws.models.versions(name))})

    @app.get(
        f"{_P}/models/{{name}}/history",
        tags=tags,
        summary="Registrations, archives and alias moves of a model, oldest first.",
    )
    def model_history(name: str) -> Response:
        return ok(ws.models.history(validate_name(name, kind="model name")))

    @app.get(
        f"{_P}/models/{{name}}/versions/{{version}}",
        tags=tags,
        summary="One model version, by number or alias.",
    )
    def model_version(name: str, version: str) -> Response:
        return ok(ws.models.get(_model_ref(name, version)))

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
            return ok({"ref": ws.models.get(ref).ref, "markdown": card.markdown, "html": card.html})
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
        return ok([d for ref in refs for d in list_decisions(ws, "model", ref)])


# -- monitoring --------------------------------------------------------------------------


def _monitoring_routes(app: FastAPI, ws: Workspace) -> None:
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
        return ok(records.reports(env, limit=limit))

    @app.get(f"{_P}/monitoring/alerts", tags=["monitoring"], summary="Open alert incidents.")
    def alerts() -> Response:
        return ok(ws.records(BaseMonitoringRecords, SqlMonitoringRecords).open_alerts())


# -- audit and tokens --------------------------------------------------------------------


def _audit_routes(app: FastAPI, ws: Workspace) -> None:
    @app.get(f"{_P}/events", tags=["audit"], summary="The audit log, oldest first (newest limit).")
    def events(
        limit: _Limit = 100,
        action: Annotated[str | None, Query(max_length=128)] = None,
        target: _Text = None,
    ) -> Response:
        return ok(ws.audit_log(limit=limit, action=action, target=target))

    @app.get(
        f"{_P}/audit/verify", tags=["audit"], summary="Recompute the audit hash chain and report."
    )
    def verify() -> Response:
        return ok(ws.verify_audit())

    @app.get(
        f"{_P}/tokens", tags=["tokens"], summary="Every token with its role and state (no secret)."
    )
    def tokens() -> Response:
        now = datetime.now(UTC)
        listed = ws.records(BaseTokenRecords, SqlTokenRecords).list()
        return ok([{**t.to_dict(), "state": t.state(now)} for t in listed])


# -- path and query parameters -----------------------------------------------------------


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


__all__ = ["RESOURCE_POLICIES", "InvalidQueryError", "add_resource_routes"]
