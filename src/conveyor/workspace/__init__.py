"""The workspace: the one entry point of conveyor's Python API.

A :class:`Workspace` is a project folder (holding ``conveyor.yaml``) plus the stores its
configuration resolves to: the metadata store, the artifact store and, on top of them, the
record-keeping services (datasets today; models, runs and deployments as they arrive). It is
the composition root of layers 0-2: faces and operations receive a workspace instead of
building stores themselves.
"""

from __future__ import annotations

from conveyor.workspace._errors import NoMetadataStoreError
from conveyor.workspace._lineage import WorkspaceLineage
from conveyor.workspace._scaffold import init_project
from conveyor.workspace._workspace import Workspace

__all__ = ["NoMetadataStoreError", "Workspace", "WorkspaceLineage", "init_project"]
