"""The workspace: the one entry point of conveyor's Python API.

A :class:`Workspace` is a project folder (holding ``conveyor.yaml``) plus the stores its
configuration resolves to: the metadata store, the artifact store and, on top of them, the
record-keeping services (datasets today; models, runs and deployments as they arrive). It is
the composition root of layers 0-2: faces and operations receive a workspace instead of
building stores themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.workspace._errors import NoMetadataStoreError
from conveyor.workspace._scaffold import init_project
from conveyor.workspace._workspace import Workspace

if TYPE_CHECKING:
    from typing import Any

    from conveyor.workspace._lineage import WorkspaceLineage

__all__ = ["NoMetadataStoreError", "Workspace", "WorkspaceLineage", "init_project"]


def __getattr__(name: str) -> Any:
    # The lineage source imports the registry and the tracker: loaded when asked for.
    if name == "WorkspaceLineage":
        from conveyor.workspace._lineage import WorkspaceLineage

        return WorkspaceLineage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
