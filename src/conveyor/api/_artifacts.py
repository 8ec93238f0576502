"""Artifact routes of the control plane (content-addressed uploads and downloads)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI

from conveyor.serving import Policy
from conveyor.workspace import Workspace

#: The policy of each artifact route.
ARTIFACT_POLICIES: Mapping[str, Policy] = {}


def add_artifact_routes(app: FastAPI, ws: Workspace) -> None:
    """Add the artifact routes over the artifact store of ``ws`` to ``app``."""
