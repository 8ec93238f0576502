"""Restoring the dataset versions ``conveyor.lock`` pins before ``conveyor ci`` trains.

A fresh CI checkout has the code and ``conveyor.lock`` but not the bytes: every pinned
version whose record or objects are missing locally is pulled from ``store.remote_url``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.data import LockFile
from conveyor.errors import (
    ArtifactNotFoundError,
    DatasetNotFoundError,
    LockFileError,
    VersionNotFoundError,
)

if TYPE_CHECKING:
    from conveyor.data import LockEntry
    from conveyor.workspace import Workspace


def restore_data(ws: Workspace) -> dict[str, int]:
    """Make every version pinned in ``conveyor.lock`` available locally; return the pins.

    Returns:
        ``{dataset: version}`` as pinned (empty when nothing is pinned).

    Raises:
        LockFileError: A pinned version is missing locally and no remote is configured, or
            the local record's content differs from the pin.
    """
    lock = LockFile.load(ws.root)
    missing = sorted(name for name, entry in lock.entries.items() if not _present(ws, name, entry))
    if missing:
        if ws.settings.remote_url is None:
            pins = ", ".join(f"{n}@{lock.entries[n].version}" for n in missing)
            raise LockFileError(
                f"conveyor.lock pins {pins}, which this workspace does not have, and "
                "store.remote_url is not set to pull from.",
                hint="Set store.remote_url (and push the data there with `conveyor data push`), "
                "or add the data with `conveyor data add`.",
                missing=missing,
            )
        ws.datasets.pull(ws.open_remote(), names=missing)
    return {name: entry.version for name, entry in sorted(lock.entries.items())}


def _present(ws: Workspace, name: str, entry: LockEntry) -> bool:
    try:
        version = ws.datasets.get(f"{name}@{entry.version}")
        manifest = ws.datasets.manifest(version)
    except (DatasetNotFoundError, VersionNotFoundError, ArtifactNotFoundError):
        return False
    if version.content_hash != entry.content_hash:
        raise LockFileError(
            f"conveyor.lock pins {name}@{entry.version} with content {entry.content_hash[:12]}..., "
            f"but this workspace recorded {version.content_hash[:12]}... for that version.",
            hint="Restore conveyor.lock from git, or re-pin with `conveyor data add`.",
            name=name,
            version=entry.version,
        )
    files = manifest.get("files", {})
    return all(ws.artifacts.exists(str(item["hash"])) for item in files.values())
