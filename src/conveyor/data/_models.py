"""Value objects returned by the dataset registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from conveyor.core import isoformat
from conveyor.data._scan import AddStats


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset, as recorded in the metadata store.

    Attributes:
        name: Dataset name.
        version: Version number (1, 2, ... contiguous).
        kind: ``"table"``, ``"file"`` or ``"folder"``.
        content_hash: Hash of the version's manifest (identifies its content and history).
        size_bytes: Total size of the version's files.
        file_count: Number of files (1 for tables and files).
        row_count: Rows of a table, else ``None``.
        schema: ``{column: arrow type}`` of a table, else ``None``.
        profile: Column statistics of a table (see :func:`compute_profile`), else ``None``.
        parent_version: The version this one follows, or ``None`` for version 1.
        message: What the author said about the change.
        source: Where the content came from (a path, or ``<DataFrame>``).
        created_at: When the version was recorded (UTC).
        created_by: Who recorded it.
        unchanged: ``True`` when :meth:`DatasetRegistry.add` found the content equal to
            the latest version and returned that version instead of making a new one.
        stats: What the :meth:`DatasetRegistry.add` that returned this version did
            (files hashed, taken from the cache, uploaded); ``None`` on versions looked
            up. Not part of equality.
    """

    name: str
    version: int
    kind: str
    content_hash: str
    size_bytes: int
    file_count: int
    row_count: int | None
    schema: dict[str, Any] | None
    profile: dict[str, Any] | None
    parent_version: int | None
    message: str | None
    source: str | None
    created_at: datetime
    created_by: str
    unchanged: bool = False
    stats: AddStats | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        """``"name@version"``."""
        return f"{self.name}@{self.version}"

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], content_hash: str) -> DatasetVersion:
        """The version a (verified) manifest describes; ``content_hash`` is the manifest's."""
        files = manifest["files"].values()
        parent = manifest["parent"]
        return cls(
            name=manifest["name"],
            version=manifest["version"],
            kind=manifest["kind"],
            content_hash=content_hash,
            size_bytes=sum(int(f["size"]) for f in files),
            file_count=len(manifest["files"]),
            row_count=manifest["row_count"],
            schema=manifest["schema"],
            profile=manifest["profile"],
            parent_version=None if parent is None else parent["version"],
            message=manifest["message"],
            source=manifest["source"],
            created_at=datetime.fromisoformat(manifest["created_at"]),
            created_by=manifest["created_by"],
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (without the profile, which can be large); with ``stats``
        when the version comes from an add."""
        out = {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "content_hash": self.content_hash,
            "size_bytes": self.size_bytes,
            "file_count": self.file_count,
            "row_count": self.row_count,
            "schema": self.schema,
            "parent_version": self.parent_version,
            "message": self.message,
            "source": self.source,
            "created_at": isoformat(self.created_at),
            "created_by": self.created_by,
            "unchanged": self.unchanged,
        }
        if self.stats is not None:
            out["stats"] = asdict(self.stats)
        return out


@dataclass(frozen=True)
class DatasetSummary:
    """One line of :meth:`DatasetRegistry.list`.

    Attributes:
        name: Dataset name.
        latest_version: The newest version number.
        versions: How many versions exist.
        kind: Kind of the newest version.
        updated_at: When the newest version was recorded.
    """

    name: str
    latest_version: int
    versions: int
    kind: str
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "name": self.name,
            "latest_version": self.latest_version,
            "versions": self.versions,
            "kind": self.kind,
            "updated_at": isoformat(self.updated_at),
        }


@dataclass
class PushResult:
    """What :meth:`DatasetRegistry.push` sent.

    Attributes:
        datasets: ``name@version`` of each dataset whose data was pushed.
        manifests_uploaded: Manifests the remote did not have before.
        objects_uploaded: Data objects uploaded.
        objects_skipped: Data objects the remote already had.
        bytes_uploaded: Bytes of the uploaded data objects.
        missing: ``name@version`` of versions skipped by ``all_versions`` because their
            bytes are not in this workspace.
    """

    datasets: list[str] = field(default_factory=list)
    manifests_uploaded: int = 0
    objects_uploaded: int = 0
    objects_skipped: int = 0
    bytes_uploaded: int = 0
    missing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{', '.join(self.datasets) or 'nothing'}: {self.objects_uploaded} object(s) "
            f"({self.bytes_uploaded:,} bytes) and {self.manifests_uploaded} manifest(s) "
            f"uploaded, {self.objects_skipped} already there"
            + (f"; not here to push: {', '.join(self.missing)}" if self.missing else "")
        )


@dataclass
class PullResult:
    """What :meth:`DatasetRegistry.pull` fetched and recorded.

    Attributes:
        datasets: ``name@version`` of each version whose bytes were pulled.
        versions_recorded: ``name@version`` of each metadata record recreated locally.
        manifests_fetched: Manifests copied from the remote.
        objects_fetched: Data objects downloaded (each verified).
        objects_skipped: Data objects already present locally.
        bytes_fetched: Bytes of the downloaded data objects.
        missing: ``name@version`` of versions skipped by ``all_versions`` because their
            bytes are not on the remote.
    """

    datasets: list[str] = field(default_factory=list)
    versions_recorded: list[str] = field(default_factory=list)
    manifests_fetched: int = 0
    objects_fetched: int = 0
    objects_skipped: int = 0
    bytes_fetched: int = 0
    missing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        recorded = (
            f"; recorded {', '.join(self.versions_recorded)}" if self.versions_recorded else ""
        )
        return (
            f"{', '.join(self.datasets) or 'nothing'}: {self.objects_fetched} object(s) "
            f"({self.bytes_fetched:,} bytes) fetched and verified, "
            f"{self.objects_skipped} already here{recorded}"
            + (f"; not on the remote: {', '.join(self.missing)}" if self.missing else "")
        )
