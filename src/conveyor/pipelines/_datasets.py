"""``load_dataset``: the built-in step that brings a dataset version into a pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.pipelines._step import Step

if TYPE_CHECKING:
    from conveyor.data import DatasetVersion
    from conveyor.workspace import Workspace

_CHECKOUTS = Path(".conveyor") / "cache" / "checkouts"


def _load_dataset(ref: str) -> Any:
    """Load ``ref`` from the current run's workspace (or the project in the working folder)."""
    from conveyor.tracking import current
    from conveyor.workspace import Workspace

    context = current()
    root = context.workspace_root if context is not None else Path(".")
    with Workspace.open(root) as ws:
        return dataset_value(ws, ws.datasets.get(ref))


#: ``load_dataset("iris@latest")``: inside a pipeline, a step whose output is the version's
#: content (a DataFrame for tables, else a local Path to a verified checkout). The reference
#: is resolved to an exact version when the run starts and recorded on the run; the
#: step's cache key is the version's content hash. Outside a pipeline, loads directly.
load_dataset = Step(_load_dataset, name="load_dataset")


def is_dataset_step(step: Step) -> bool:
    """True for the built-in ``load_dataset`` step."""
    return step is load_dataset


def dataset_value(ws: Workspace, version: DatasetVersion) -> Any:
    """A table as a DataFrame; a file or folder as a Path to a checkout in the cache."""
    if version.kind == "table":
        return ws.datasets.load(version.ref)
    dest = ws.root / _CHECKOUTS / version.content_hash
    if not dest.exists():
        dest.mkdir(parents=True)
    return ws.datasets.checkout(version.ref, dest, force=True)
