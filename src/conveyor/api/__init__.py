"""The control plane: ``conveyor server``, the team server over a project's stores.

A FastAPI application (:func:`create_app`) that serves a workspace's records, artifacts,
deployments and audit trail under ``/api/v1`` to remote workspaces and other clients,
with a token on every request, one access policy per route (:data:`API_POLICIES`, the
default deny) and the caller's token as the actor of every change.
"""

from __future__ import annotations

from conveyor.api._app import create_app
from conveyor.api._interfaces import INTERFACES, Interface
from conveyor.api._launch import serve
from conveyor.api._policies import API_POLICIES
from conveyor.api._records_routes import IdempotencyKeyError, RequestAlreadyAppliedError

__all__ = [
    "API_POLICIES",
    "INTERFACES",
    "IdempotencyKeyError",
    "Interface",
    "RequestAlreadyAppliedError",
    "create_app",
    "serve",
]
