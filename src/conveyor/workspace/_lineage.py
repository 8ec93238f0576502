"""The registry's lineage source over the workspace's run tracker and dataset registry.

The registry owns neither runs nor dataset versions and may not import the packages that
do (they sit beside it); the workspace, above all three, answers its questions through
their public facades.
"""

from __future__ import annotations

from typing import Any

from conveyor.data import DatasetRegistry
from conveyor.errors import DatasetNotFoundError, InvalidNameError, VersionNotFoundError
from conveyor.registry import DatasetFacts, RunLineage
from conveyor.tracking import AmbiguousRunError, Run, RunNotFoundError, RunTracker

#: Guards against a corrupted parent chain that loops.
MAX_DEPTH = 64


class WorkspaceLineage:
    """A :class:`~conveyor.registry.LineageSource` over ``ws.runs`` and ``ws.datasets``.

    Thread-safe as its two facades are.

    Args:
        runs: The run tracker.
        datasets: The dataset registry (it opens sealed profile values).

    Example:
        >>> source = WorkspaceLineage(ws.runs, ws.datasets)  # doctest: +SKIP
        >>> source.dataset_version("orders", None).version  # doctest: +SKIP
        3
    """

    def __init__(self, runs: RunTracker, datasets: DatasetRegistry) -> None:
        self.runs = runs
        self.datasets = datasets

    def __repr__(self) -> str:
        return f"WorkspaceLineage({self.runs!r}, {self.datasets!r})"

    def run_lineage(self, run_id: str) -> RunLineage | None:
        """The lineage of the run with exactly this id (a prefix is not enough).

        Datasets and the code version are usually recorded on the pipeline run, while the
        model comes out of a step run: the parent chain is walked, the nearest record of
        each winning. Metrics and params are the run's own.
        """
        run = self._run(run_id)
        if run is None:
            return None
        datasets: dict[str, dict[str, Any]] = {}
        code_version: dict[str, Any] | None = None
        current = run
        for _ in range(MAX_DEPTH):
            if code_version is None:
                code_version = current.code_version
            for entry in self.runs.datasets(current.id):
                datasets.setdefault(entry["name"], dict(entry))
            parent = self._run(current.parent_id) if current.parent_id else None
            if parent is None:
                break
            current = parent
        return RunLineage(
            run_id=run.id,
            code_version=code_version,
            datasets=tuple(datasets[name] for name in sorted(datasets)),
            metrics={k: float(v) for k, v in self.runs.latest_metrics(run.id).items()},
            params=dict(run.params or {}),
        )

    def dataset_version(self, name: str, version: int | None) -> DatasetFacts | None:
        """Version ``version`` of ``name`` (``None``: the newest), or ``None`` if unknown."""
        try:
            found = self.datasets.get(name, version)
        except (DatasetNotFoundError, VersionNotFoundError, InvalidNameError):
            return None
        return DatasetFacts(
            name=found.name,
            version=found.version,
            content_hash=found.content_hash,
            row_count=found.row_count,
            profile=found.profile,
        )

    def dataset_versions(self, name: str) -> list[int]:
        """The recorded versions of ``name``, ascending (empty when there is no such dataset)."""
        try:
            return sorted(v.version for v in self.datasets.log(name))
        except (DatasetNotFoundError, InvalidNameError):
            return []

    def _run(self, run_id: str) -> Run | None:
        try:
            run = self.runs.get(run_id)
        except (RunNotFoundError, AmbiguousRunError):
            return None
        return run if run.id == run_id else None  # the registry records exact ids only
