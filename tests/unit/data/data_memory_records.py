"""An in-memory :class:`BaseDatasetRecords`: the fake the registry's unit tests run on."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

from conveyor.core import Actor, utcnow
from conveyor.data import (
    BaseDatasetRecords,
    DatasetSummary,
    DatasetVersion,
    DatasetVersionConflictError,
)
from conveyor.store import AuditEvent


class MemoryDatasetRecords(BaseDatasetRecords):
    """Versions in a dict, references in a set, audit events in a list; one lock for all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, list[DatasetVersion]] = {}
        self.references: set[tuple[str, str]] = set()
        self.events: list[AuditEvent] = []

    def find_version(self, name: str, version: int | None = None) -> DatasetVersion | None:
        with self._lock:
            found = self._versions.get(name, [])
            if version is None:
                return found[-1] if found else None
            return found[version - 1] if 0 < version <= len(found) else None

    def versions(self, name: str) -> list[DatasetVersion]:
        with self._lock:
            return list(self._versions.get(name, []))

    def summaries(self) -> list[DatasetSummary]:
        with self._lock:
            return [
                DatasetSummary(
                    name, found[-1].version, len(found), found[-1].kind, found[-1].created_at
                )
                for name, found in sorted(self._versions.items())
            ]

    def add_version(
        self, actor: Actor, version: DatasetVersion, objects: Collection[str]
    ) -> DatasetVersion:
        with self._lock:
            found = self._versions.setdefault(version.name, [])
            if version.version != len(found) + 1:
                if not found:
                    del self._versions[version.name]
                raise DatasetVersionConflictError(
                    f"Cannot record {version.ref}: the next version of dataset "
                    f"{version.name!r} is {len(found) + 1}.",
                    hint="Read the latest again and retry.",
                    name=version.name,
                    version=version.version,
                )
            stored = self._store(version, objects)
            self._event(
                actor,
                "data.add",
                f"dataset:{version.ref}",
                {
                    "version": version.version,
                    "content_hash": version.content_hash,
                    "kind": version.kind,
                    "files": version.file_count,
                },
            )
            return stored

    def import_versions(
        self, actor: Actor, versions: Sequence[tuple[DatasetVersion, Collection[str]]]
    ) -> list[DatasetVersion]:
        if len({v.name for v, _ in versions}) != 1:
            raise ValueError("import_versions takes versions of exactly one dataset")
        with self._lock:
            recorded = []
            for version, objects in versions:
                if version.version <= len(self._versions.get(version.name, [])):
                    continue
                recorded.append(self._store(version, objects))
            last = versions[-1][0]
            self._event(
                actor, "data.pull", f"dataset:{last.ref}", {"versions": [v.ref for v in recorded]}
            )
            return recorded

    def _store(self, version: DatasetVersion, objects: Collection[str]) -> DatasetVersion:
        stored = replace(version, unchanged=False, stats=None)
        self._versions.setdefault(version.name, []).append(stored)
        for digest in {version.content_hash, *objects}:
            self.references.add((digest, f"dataset:{version.ref}"))
        return stored

    def _event(self, actor: Actor, action: str, target: str, details: dict[str, Any]) -> None:
        seq = len(self.events) + 1
        self.events.append(
            AuditEvent(seq, utcnow(), actor.name, action, target, details, "0" * 64, "0" * 64)
        )
