"""Moving dataset versions between artifact stores: ``data push`` and ``data pull``.

What moves are manifests and data objects, both content-addressed, so a transfer is
idempotent and resumable: an object the other side has is skipped, and every object read
is verified. Metadata records are never copied; ``pull`` rebuilds them from manifests,
which carry everything a record holds (the chain of ``parent`` links keeps version numbers
identical to the original ones). Which versions move: the pinned one by default, any
version named ``NAME@V``, or every version with ``all_versions``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor, ProgressCallback
from conveyor.data._base import BaseDatasetRecords
from conveyor.data._lock import LockEntry, LockFile
from conveyor.data._manifest import files_of, original_of, parse_manifest
from conveyor.data._models import DatasetVersion, PullResult, PushResult
from conveyor.data._progress import offset_progress
from conveyor.data._refs import DatasetRef, parse_dataset_ref
from conveyor.data._sealing import Sealer
from conveyor.errors import ArtifactNotFoundError, LockFileError, VersionNotFoundError


@dataclass(frozen=True)
class _Transfer:
    """Where objects go and how their bytes are reported."""

    source: ArtifactStore
    target: ArtifactStore
    progress: ProgressCallback | None
    upload: bool  # report the write (push) rather than the read (pull)

    def copy(self, digest: str, label: str, base: int, total: int) -> int:
        """Copy one object through a local temporary file (verified on read and write)."""
        chunks = offset_progress(self.progress, label, base, total)
        fd, name = tempfile.mkstemp(prefix="conveyor-transfer-", suffix=".part")
        os.close(fd)
        temp = Path(name)
        try:
            self.source.get_file(digest, temp, progress=None if self.upload else chunks)
            info = self.target.put_file(
                temp, known_hash=digest, progress=chunks if self.upload else None
            )
            return info.size
        finally:
            temp.unlink(missing_ok=True)

    def copy_missing(self, sizes: dict[str, int], label: str) -> tuple[int, int, int]:
        """Copy the objects ``target`` lacks; return ``(copied, skipped, bytes)``.

        ``sizes`` maps each hash to its content size, so progress is in bytes over the
        whole set. An object the target has is protected there (its gc keeps it).
        """
        total = sum(sizes.values())
        copied = skipped = size = done = 0
        for digest in sorted(sizes):
            if self.target.protect(digest):
                skipped += 1
            else:
                size += self.copy(digest, label, done, total)
                copied += 1
            done += sizes[digest]
            if self.progress is not None:
                self.progress(label, done, total)
        return copied, skipped, size


def object_sizes(manifest: dict[str, Any]) -> dict[str, int]:
    """``hash -> size`` of every data object of a version (the original file too)."""
    sizes = dict(files_of(manifest).values())
    original = original_of(manifest)
    if original is not None:
        sizes[original[1]] = original[2]
    return sizes


def _selection(lock: LockFile, names: list[str] | None) -> list[DatasetRef]:
    if not names:
        return [DatasetRef(name) for name in sorted(lock.entries)]
    return [parse_dataset_ref(name) for name in names]


def push_datasets(
    records: BaseDatasetRecords,
    local: ArtifactStore,
    remote: ArtifactStore,
    *,
    lock: LockFile,
    names: list[str] | None,
    all_versions: bool = False,
    progress: ProgressCallback | None,
) -> PushResult:
    """See :meth:`DatasetRegistry.push`."""
    result = PushResult()
    transfer = _Transfer(local, remote, progress, upload=True)
    for ref in _selection(lock, names):
        pinned = lock.get(ref.name)
        rows = records.log(ref.name)[::-1]  # oldest first
        if all_versions:
            chosen = rows
        elif ref.version is not None:
            chosen = [records.get_version(ref.name, ref.version)]
        else:
            number = rows[-1].version if pinned is None else pinned.version
            row = next((r for r in rows if r.version == number), None)
            _check_pin(lock, ref.name, pinned, row)
            chosen = [row] if row is not None else []
        copied, _, _ = transfer.copy_missing(
            {r.content_hash: 1 for r in rows}, f"Pushing {ref.name} manifests"
        )
        result.manifests_uploaded += copied
        for row in chosen:
            label = f"{ref.name}@{row.version}"
            manifest = parse_manifest(local.get_bytes(row.content_hash), row.content_hash)
            sizes = object_sizes(manifest)
            if all_versions and not all(local.exists(h) for h in sizes):
                result.missing.append(label)  # never pulled here: nothing to push
                continue
            copied, skipped, size = transfer.copy_missing(sizes, f"Pushing {label}")
            result.objects_uploaded += copied
            result.objects_skipped += skipped
            result.bytes_uploaded += size
            result.datasets.append(label)
    return result


def _check_pin(
    lock: LockFile, name: str, pinned: LockEntry | None, row: DatasetVersion | None
) -> None:
    if row is not None and (pinned is None or row.content_hash == pinned.content_hash):
        return
    raise LockFileError(
        f"{lock.path} pins {name}@{pinned.version if pinned else '?'} "
        f"({pinned.content_hash[:12] if pinned else '?'}...), which this workspace's "
        "metadata store does not have.",
        hint=f"Run `conveyor data pull {name}` first, or re-pin it with "
        f"`conveyor data add {name} <path>`.",
        name=name,
        version=pinned.version if pinned else None,
    )


def _remote_manifest(
    remote: ArtifactStore, name: str, version: int, digest: str, lock: LockFile
) -> dict[str, Any]:
    if not remote.exists(digest):
        raise LockFileError(
            f"{lock.path.name} pins {name}@{version} (manifest {digest}), but the remote "
            f"{remote.url} does not have that manifest.",
            hint=f"Push it from a workspace that has it (`conveyor data push {name}@{version}`), "
            "or check that the remote URL is the one the team pushes to.",
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
            hint="Restore conveyor.lock from git or regenerate it with "
            f"`conveyor data add {name} <path>`.",
            name=name,
            version=version,
            hash=digest,
        )
    return manifest


def _chain(
    records: BaseDatasetRecords,
    remote: ArtifactStore,
    lock: LockFile,
    name: str,
    entry: LockEntry,
) -> list[tuple[str, dict[str, Any]]]:
    """``(content_hash, manifest)`` from the pinned version back to the first one the
    local store already has (or version 1), oldest first."""
    chain: list[tuple[str, dict[str, Any]]] = []
    digest, number = entry.content_hash, entry.version
    while True:
        row = records.find_version(name, number)
        if row is not None:
            if row.content_hash != digest:
                raise LockFileError(
                    f"Local dataset {name}@{number} has content hash {row.content_hash}, "
                    f"but the remote's history (from {lock.path.name}) has {digest}: the "
                    "two workspaces recorded different versions under the same number.",
                    hint="Pull into a fresh workspace, or restore conveyor.lock from git "
                    "(`git checkout -- conveyor.lock`).",
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


def _known_versions(
    records: BaseDatasetRecords, name: str, chain: list[tuple[str, dict[str, Any]]]
) -> dict[int, str]:
    """``version -> manifest hash`` known locally or through the pinned chain."""
    known = {manifest["version"]: digest for digest, manifest in chain}
    known.update({row.version: row.content_hash for row in records.versions(name)})
    return known


def _targets(
    ref: DatasetRef, entry: LockEntry | None, known: dict[int, str], all_versions: bool
) -> list[int]:
    if all_versions:
        return sorted(known)
    number = ref.version if ref.version is not None else entry.version if entry else None
    if number is not None and number in known:
        return [number]
    shown = ", ".join(str(v) for v in sorted(known)) or "none"
    pin = f"conveyor.lock pins {ref.name}@{entry.version}" if entry else "it is not pinned"
    raise VersionNotFoundError(
        f"Cannot pull {ref.name}@{number}: the versions known here and through "
        f"conveyor.lock are {shown} ({pin}).",
        hint="Update conveyor.lock (e.g. `git pull`) from the workspace that added it, then "
        f"run `conveyor data pull {ref.name}@{number}` again.",
        name=ref.name,
        version=number,
    )


def pull_datasets(
    records: BaseDatasetRecords,
    local: ArtifactStore,
    remote: ArtifactStore,
    *,
    lock: LockFile,
    actor: Actor,
    seal: Sealer,
    names: list[str] | None,
    all_versions: bool = False,
    progress: ProgressCallback | None,
) -> PullResult:
    """See :meth:`DatasetRegistry.pull`."""
    result = PullResult()
    transfer = _Transfer(remote, local, progress, upload=False)
    for ref in _selection(lock, names):
        entry = lock.get(ref.name)
        chain = [] if entry is None else _chain(records, remote, lock, ref.name, entry)
        known = _known_versions(records, ref.name, chain)
        if entry is None and not known:
            raise LockFileError(
                f"{lock.path.name} does not pin a dataset named {ref.name!r}, and this "
                "workspace has no record of it.",
                hint=f"Pin it with `conveyor data add {ref.name} <path>` in the workspace "
                "that has it, run `conveyor data push`, and commit conveyor.lock.",
                name=ref.name,
            )
        manifests = dict.fromkeys(known.values(), 1) if all_versions else {}
        manifests.update({d: 1 for d, _ in chain})
        if entry is not None:
            manifests[entry.content_hash] = 1
        for number in _targets(ref, entry, known, all_versions):
            manifests[known[number]] = 1
        copied, _, _ = transfer.copy_missing(manifests, "Manifests")
        result.manifests_fetched += copied
        for number in _targets(ref, entry, known, all_versions):
            digest = known[number]
            label = f"{ref.name}@{number}"
            sizes = object_sizes(parse_manifest(local.get_bytes(digest), digest))
            absent = sorted(h for h in sizes if not local.exists(h) and not remote.exists(h))
            if absent:
                if all_versions:
                    result.missing.append(label)
                    continue
                raise ArtifactNotFoundError(
                    f"Cannot pull {label}: {len(absent)} of its object(s) (first {absent[0]}) "
                    f"are not on the remote {remote.url}.",
                    hint=f"Run `conveyor data push {label}` in a workspace that has its bytes.",
                    name=ref.name,
                    version=number,
                    hash=absent[0],
                    url=remote.url,
                )
            copied, skipped, size = transfer.copy_missing(sizes, f"Pulling {label}")
            result.objects_fetched += copied
            result.objects_skipped += skipped
            result.bytes_fetched += size
            result.datasets.append(label)
        if chain:
            recorded = records.import_versions(
                actor,
                [
                    (seal(DatasetVersion.from_manifest(manifest, digest)), object_sizes(manifest))
                    for digest, manifest in chain
                ],
            )
            result.versions_recorded += [version.ref for version in recorded]
    return result
