"""Moving dataset versions between artifact stores: ``data push`` and ``data pull``.

What moves are manifests and data objects, both content-addressed, so a transfer is
idempotent and resumable: an object the other side has is skipped, and every object read
is verified. Metadata records are never copied; ``pull`` rebuilds them from manifests,
which carry everything a record holds (the chain of ``parent`` links keeps version numbers
identical to the original ones).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor, ProgressCallback
from conveyor.data._lock import LockEntry, LockFile
from conveyor.data._manifest import files_of, parse_manifest
from conveyor.data._models import PullResult, PushResult
from conveyor.data._records import (
    add_refs,
    find_dataset,
    latest_row,
    owner_of,
    require_dataset,
    version_row,
    version_row_from_manifest,
)
from conveyor.errors import LockFileError
from conveyor.store import DatasetRow, DatasetVersionRow, MetadataStore, WriteTx


def _copy_object(source: ArtifactStore, target: ArtifactStore, digest: str) -> int:
    """Copy one object through a local temporary file (verified on read and on write)."""
    fd, name = tempfile.mkstemp(prefix="conveyor-transfer-", suffix=".part")
    os.close(fd)
    temp = Path(name)
    try:
        source.get_file(digest, temp)
        return target.put_file(temp, known_hash=digest).size
    finally:
        temp.unlink(missing_ok=True)


def _copy_missing(
    source: ArtifactStore,
    target: ArtifactStore,
    hashes: Iterable[str],
    progress: ProgressCallback | None,
    label: str,
) -> tuple[int, int, int]:
    """Copy objects ``target`` lacks; return ``(copied, skipped, bytes)``."""
    todo = sorted(set(hashes))
    copied = skipped = size = 0
    for done, digest in enumerate(todo, start=1):
        if target.exists(digest):
            skipped += 1
        else:
            size += _copy_object(source, target, digest)
            copied += 1
        if progress is not None:
            progress(label, done, len(todo))
    return copied, skipped, size


def push_datasets(
    store: MetadataStore,
    local: ArtifactStore,
    remote: ArtifactStore,
    *,
    lock: LockFile,
    names: list[str] | None,
    progress: ProgressCallback | None,
) -> PushResult:
    """See :meth:`DatasetRegistry.push`."""
    result = PushResult()
    selected = sorted(lock.entries) if names is None else list(names)
    for name in selected:
        pinned = lock.get(name)
        with store.read() as session:
            dataset = require_dataset(session, name)
            rows = list(
                session.scalars(
                    select(DatasetVersionRow).where(DatasetVersionRow.dataset_id == dataset.id)
                )
            )
            chosen = (
                latest_row(session, dataset.id)
                if pinned is None
                else version_row(session, dataset.id, pinned.version)
            )
        if chosen is None or (pinned is not None and chosen.content_hash != pinned.content_hash):
            raise LockFileError(
                f"{lock.path} pins {name}@{pinned.version if pinned else '?'} "
                f"({pinned.content_hash[:12] if pinned else '?'}...), which this workspace's "
                "metadata store does not have.",
                hint="Run `conveyor data pull` first, or re-pin with `conveyor data add`.",
                name=name,
                version=pinned.version if pinned else None,
            )
        copied, _, _ = _copy_missing(
            local, remote, (r.content_hash for r in rows), progress, f"Pushing {name} manifests"
        )
        result.manifests_uploaded += copied
        manifest = parse_manifest(local.get_bytes(chosen.content_hash), chosen.content_hash)
        data_hashes = (h for h, _ in files_of(manifest).values())
        copied, skipped, size = _copy_missing(
            local, remote, data_hashes, progress, f"Pushing {name}@{chosen.version}"
        )
        result.objects_uploaded += copied
        result.objects_skipped += skipped
        result.bytes_uploaded += size
        result.datasets.append(owner_of(name, chosen.version).removeprefix("dataset:"))
    return result


def _remote_manifest(
    remote: ArtifactStore, name: str, version: int, digest: str, lock: LockFile
) -> dict[str, Any]:
    if not remote.exists(digest):
        raise LockFileError(
            f"{lock.path.name} pins {name}@{version} (manifest {digest}), but the remote "
            f"{remote.url} does not have that manifest.",
            hint=f"Push it from a workspace that has it (`conveyor data push {name}`), or "
            "check that the remote URL is the one the team pushes to.",
            name=name,
            version=version,
            hash=digest,
            url=remote.url,
        )
    manifest = parse_manifest(remote.get_bytes(digest), digest)
    if manifest["name"] != name or manifest["version"] != version:
        raise LockFileError(
            f"{lock.path.name} pins {name}@{version}, but manifest {digest} describes "
            f"{manifest['name']}@{manifest['version']}.",
            hint="Restore conveyor.lock from git or regenerate it with `conveyor data add`.",
            name=name,
            version=version,
            hash=digest,
        )
    return manifest


def _chain(
    store: MetadataStore, remote: ArtifactStore, lock: LockFile, name: str, entry: LockEntry
) -> list[tuple[str, dict[str, Any]]]:
    """``(content_hash, manifest)`` from the pinned version back to the first one the
    local store already has (or version 1), oldest first."""
    chain: list[tuple[str, dict[str, Any]]] = []
    digest, number = entry.content_hash, entry.version
    while True:
        with store.read() as session:
            dataset = find_dataset(session, name)
            row = None if dataset is None else version_row(session, dataset.id, number)
        if row is not None:
            if row.content_hash != digest:
                raise LockFileError(
                    f"Local dataset {name}@{number} has content hash {row.content_hash}, "
                    f"but the remote's history (from {lock.path.name}) has {digest}: the "
                    "two workspaces recorded different versions under the same number.",
                    hint="Pull into a fresh workspace, or restore conveyor.lock from git.",
                    name=name,
                    version=number,
                )
            break
        manifest = _remote_manifest(remote, name, number, digest, lock)
        chain.append((digest, manifest))
        parent = manifest["parent"]
        if parent is None:
            break
        digest, number = parent["content_hash"], parent["version"]
    chain.reverse()
    return chain


def _record_chain(
    tx: WriteTx, *, name: str, chain: list[tuple[str, dict[str, Any]]], actor: Actor
) -> list[str]:
    session = tx.session
    dataset = find_dataset(session, name)
    if dataset is None:
        first = chain[0][1]
        dataset = DatasetRow(
            name=name,
            created_at=version_row_from_manifest(first, 0, chain[0][0]).created_at,
            created_by=first["created_by"] if first["version"] == 1 else actor.name,
        )
        session.add(dataset)
        session.flush()
    recorded: list[str] = []
    for digest, manifest in chain:
        if version_row(session, dataset.id, manifest["version"]) is not None:
            continue  # recorded by a concurrent pull
        session.add(version_row_from_manifest(manifest, dataset.id, digest))
        add_refs(
            tx, name, manifest["version"], {digest, *(h for h, _ in files_of(manifest).values())}
        )
        recorded.append(f"{name}@{manifest['version']}")
    session.flush()
    tx.details.update(versions=recorded)
    return recorded


def pull_datasets(
    store: MetadataStore,
    local: ArtifactStore,
    remote: ArtifactStore,
    *,
    lock: LockFile,
    actor: Actor,
    names: list[str] | None,
    progress: ProgressCallback | None,
) -> PullResult:
    """See :meth:`DatasetRegistry.pull`."""
    result = PullResult()
    selected = sorted(lock.entries) if names is None else list(names)
    for name in selected:
        entry = lock.get(name)
        if entry is None:
            raise LockFileError(
                f"{lock.path.name} does not pin a dataset named {name!r}; pull restores "
                "pinned versions only.",
                hint=f"Pin it with `conveyor data add {name} <path>` in the workspace that "
                "has it, push, and commit conveyor.lock.",
                name=name,
            )
        chain = _chain(store, remote, lock, name, entry)
        pinned = _remote_manifest(remote, name, entry.version, entry.content_hash, lock)
        copied, _, _ = _copy_missing(
            remote, local, [d for d, _ in chain] + [entry.content_hash], progress, "Manifests"
        )
        result.manifests_fetched += copied
        data_hashes = (h for h, _ in files_of(pinned).values())
        copied, skipped, size = _copy_missing(
            remote, local, data_hashes, progress, f"Pulling {name}@{entry.version}"
        )
        result.objects_fetched += copied
        result.objects_skipped += skipped
        result.bytes_fetched += size
        if chain:
            result.versions_recorded += store.transact(
                actor,
                "data.pull",
                owner_of(name, entry.version),
                partial(_record_chain, name=name, chain=chain, actor=actor),
            )
        result.datasets.append(f"{name}@{entry.version}")
    return result
