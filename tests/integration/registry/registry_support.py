"""An in-memory lineage source for registry tests (runs and dataset versions as dicts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conveyor.registry import DatasetFacts, RunLineage


@dataclass
class FakeLineage:
    """A :class:`~conveyor.registry.LineageSource` holding what it answers."""

    runs: dict[str, RunLineage] = field(default_factory=dict)
    datasets: dict[str, list[DatasetFacts]] = field(default_factory=dict)

    def add_dataset(
        self,
        name: str,
        version: int,
        *,
        content_hash: str = "c" * 64,
        row_count: int | None = None,
        profile: dict[str, Any] | None = None,
    ) -> None:
        facts = DatasetFacts(name, version, content_hash, row_count, profile)
        self.datasets.setdefault(name, []).append(facts)

    def run_lineage(self, run_id: str) -> RunLineage | None:
        return self.runs.get(run_id)

    def dataset_version(self, name: str, version: int | None) -> DatasetFacts | None:
        known = sorted(self.datasets.get(name, []), key=lambda d: d.version)
        if version is None:
            return known[-1] if known else None
        return next((d for d in known if d.version == version), None)

    def dataset_versions(self, name: str) -> list[int]:
        return sorted(d.version for d in self.datasets.get(name, []))
