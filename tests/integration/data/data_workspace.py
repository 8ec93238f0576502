"""Workspaces for dataset tests: a real metadata store and a local artifact store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conveyor.artifacts import ArtifactStore, open_artifact_store
from conveyor.core import Actor
from conveyor.data import DatasetRegistry
from conveyor.store import MetadataStore, open_store


@dataclass
class Workspace:
    root: Path
    store: MetadataStore
    artifacts: ArtifactStore
    registry: DatasetRegistry


def open_workspace(root: Path, metadata_url: str | None = None, actor: str = "tester") -> Workspace:
    """A project folder with its own metadata database and artifact folder."""
    root.mkdir(parents=True, exist_ok=True)
    url = metadata_url or f"sqlite:///{root / '.conveyor' / 'conveyor.db'}"
    store = open_store(url)
    artifacts = open_artifact_store(str(root / ".conveyor" / "artifacts"))
    registry = DatasetRegistry(store, artifacts, actor=Actor(actor), root=root)
    return Workspace(root, store, artifacts, registry)
