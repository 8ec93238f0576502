"""Resource routes of the control plane: datasets, runs, models, deployments, reports."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI

from conveyor.serving import Policy
from conveyor.workspace import Workspace

#: The policy of each resource route.
RESOURCE_POLICIES: Mapping[str, Policy] = {}


def add_resource_routes(app: FastAPI, ws: Workspace) -> None:
    """Add the resource routes over ``ws`` to ``app``."""
