"""The dataset registry: add, look up, load, diff and check out dataset versions.

An add's objects are stored by :func:`~conveyor.data._upload.upload_content`.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from conveyor.artifacts import ArtifactStore
from conveyor.artifacts._linking import LinkMode, check_link_mode
from conveyor.core import Actor, ProgressCallback, utcnow, validate_name
from conveyor.data._base import BaseDatasetRecords
from conveyor.data._checkout import CheckoutFormat, checkout_version
from conveyor.data._diff import DatasetDiff, compute_diff
from conveyor.data._errors import DatasetVersionConflictError, NotATableError
from conveyor.data._ingest import PreparedContent, prepare, reap_stale_temp
from conveyor.data._lock import LockFile, exclusive_lock
from conveyor.data._manifest import manifest_bytes, parse_manifest
from conveyor.data._models import DatasetSummary, DatasetVersion, PullResult, PushResult
from conveyor.data._refs import DatasetRef, parse_dataset_ref
from conveyor.data._scan import AddStats
from conveyor.data._sealing import sealer_for, unsealed
from conveyor.data._sql import SqlDatasetRecords
from conveyor.data._sync import pull_datasets, push_datasets
from conveyor.data._table_paths import TABLE_FILE
from conveyor.data._upload import upload_content
from conveyor.errors import ArtifactNotFoundError
from conveyor.store import MetadataStore

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")
STATE_DB = Path(".conveyor") / "cache" / "state.db"
_TMP_DIR = Path(".conveyor") / "tmp"
_LOCK_GUARD = Path(".conveyor") / "cache" / "lockfile.lock"
# An add's temporary Parquet lives minutes; one this old was left by a killed add.
_TEMP_BOUND = timedelta(days=1)
# Each lost race means another writer recorded a version meanwhile; this many in a row
# means the dataset is being written far faster than one add can keep up with.
_ADD_ATTEMPTS = 20


class DatasetRegistry:
    """Versioned datasets of one project: records in a metadata store, bytes in artifacts.

    Every version is immutable and has a manifest (a JSON object in the artifact store
    whose hash is the version's ``content_hash``). Writing a version takes one atomic
    records write, made only once every object is stored, so an interrupted ``add``
    leaves either the whole version or nothing visible. ``conveyor.lock`` under ``root``
    pins the version of each dataset the project uses.

    Records go through a :class:`BaseDatasetRecords` (by default
    :class:`SqlDatasetRecords` over ``store``). An instance keeps no state between
    calls (an add's statistics come back in its result), so threads may share one, and
    any number of processes may share the records and the project folder; concurrent
    adds of one dataset get contiguous version numbers.

    Args:
        store: The metadata store (``None`` when ``records`` are given).
        artifacts: The local artifact store.
        actor: Who records new versions.
        root: The project root (holds ``conveyor.lock`` and ``.conveyor/cache``).
        records: Where version records live (default: ``SqlDatasetRecords(store)``).
        link: How files enter a local artifact store (``data.link``): ``"reflink"``
            (default), ``"copy"`` or ``"hardlink"`` (see ``conveyor.artifacts._linking``).

    Raises:
        TypeError: Neither ``store`` nor ``records`` is given.
        ConfigError: ``link`` is not a link mode.

    Example:
        >>> reg = DatasetRegistry(store, art, actor=Actor("alice"), root=".")  # doctest: +SKIP
        >>> reg.add("orders", "data/orders.csv").ref  # doctest: +SKIP
        'orders@1'
    """

    def __init__(
        self,
        store: MetadataStore | None,
        artifacts: ArtifactStore,
        *,
        actor: Actor,
        root: str | os.PathLike[str],
        records: BaseDatasetRecords | None = None,
        link: LinkMode = "reflink",
    ) -> None:
        if records is None:
            if store is None:
                raise TypeError("DatasetRegistry needs a metadata store or records=; got neither.")
            records = SqlDatasetRecords(store)
        self.store = store
        self.artifacts = artifacts
        self.actor = actor
        self.root = Path(root).absolute()
        self.records = records
        self.link: LinkMode = check_link_mode(link)

    # -- writing -------------------------------------------------------------------------

    def add(
        self,
        name: str,
        source: str | os.PathLike[str] | pd.DataFrame,
        *,
        message: str | None = None,
        progress: ProgressCallback | None = None,
        link: LinkMode | None = None,
    ) -> DatasetVersion:
        """Record ``source`` as the next version of dataset ``name``.

        CSV and Parquet files and DataFrames become ``table`` versions (one canonical
        Parquet object plus a profile); other files become ``file`` versions; folders
        become ``folder`` versions. If the content equals the latest version's, no version
        is made and the latest is returned with ``unchanged=True``. ``conveyor.lock`` is
        updated to pin the returned version.

        Args:
            name: Dataset name (letters, digits, ``.``, ``_``, ``-``).
            source: A path or a pandas DataFrame.
            message: What changed, kept with the version.
            progress: Receives ``(stage, done, total)`` for the stages "Hashing files",
                "Uploading" (bytes) and "Recording version".
            link: How new files enter a local artifact store (default: the registry's
                ``link``). With ``"hardlink"`` each stored file becomes read-only.

        Returns:
            The new (or unchanged latest) version; its ``stats`` say what this add did
            (files hashed, taken from the hash cache, uploaded, and how each upload was
            stored: copied, reflinked or hardlinked).

        Raises:
            InvalidNameError: ``name`` is not a valid dataset name.
            DataSourceError: ``source`` is missing, unreadable, empty or malformed.
            IntegrityError: a file changed while it was being stored.
            ConfigError: ``link`` is not a link mode.
        """
        validate_name(name, kind="dataset name")
        stats = AddStats(link=self.link if link is None else check_link_mode(link))
        reap_stale_temp(self.root / _TMP_DIR, _TEMP_BOUND)
        content = prepare(
            source,
            tmp_dir=self.root / _TMP_DIR,
            cache_path=self.root / STATE_DB,
            stats=stats,
            progress=progress,
        )
        try:
            result = self._add_content(name, content, message, stats, progress)
        finally:
            content.cleanup()
        self._pin(result)
        return replace(result, stats=stats)

    def _add_content(
        self,
        name: str,
        content: PreparedContent,
        message: str | None,
        stats: AddStats,
        progress: ProgressCallback | None,
    ) -> DatasetVersion:
        current = self._latest(name)
        if current is not None and self._same_content(current, content):
            return replace(current, unchanged=True)
        upload_content(self.artifacts, content, stats, progress, state_db=self.root / STATE_DB)
        for _ in range(_ADD_ATTEMPTS - 1):
            try:
                return self._record(name, content, current, message, progress)
            except DatasetVersionConflictError:
                # Another writer recorded a version since ``current`` was read.
                current = self._latest(name)
                if current is not None and self._same_content(current, content):
                    return replace(current, unchanged=True)
        return self._record(name, content, current, message, progress)

    def _same_content(self, current: DatasetVersion, content: PreparedContent) -> bool:
        if current.kind != content.kind:
            return False
        try:
            manifest = self.manifest(current.ref)
        except ArtifactNotFoundError:
            return False
        # Same rows from a DataFrame keep the latest version (and the file it restores);
        # a file whose bytes differ from the recorded original makes a new version.
        original = content.manifest_original()
        return bool(
            manifest["files"] == content.manifest_files()
            and (original is None or manifest.get("original") == original)
        )

    def _record(
        self,
        name: str,
        content: PreparedContent,
        previous: DatasetVersion | None,
        message: str | None,
        progress: ProgressCallback | None,
    ) -> DatasetVersion:
        """Record ``content`` as the version after ``previous`` (one atomic write).

        Raises:
            DatasetVersionConflictError: ``previous`` is no longer the latest version.
        """
        # Two steps, the manifest then the record, so that a process stopped half way
        # through the stage has recorded nothing.
        if progress is not None:
            progress("Recording version", 0, 2)
        number = 1 if previous is None else previous.version + 1
        parent = None if previous is None else (previous.version, previous.content_hash)
        manifest = content.manifest(
            name, number, parent=parent, now=utcnow(), actor=self.actor.name, message=message
        )
        content_hash = self.artifacts.put_bytes(manifest_bytes(manifest)).hash
        version = DatasetVersion.from_manifest(manifest, content_hash)
        seal = sealer_for(self.artifacts)
        objects = {f.hash for f in content.objects()}
        if progress is not None:
            progress("Recording version", 1, 2)
        stored = self.records.add_version(self.actor, seal(version), objects)
        if progress is not None:
            progress("Recording version", 2, 2)
        return self._open(stored)

    def _pin(self, version: DatasetVersion) -> None:
        with exclusive_lock(self.root / _LOCK_GUARD):
            lock = LockFile.load(self.root)
            pinned = lock.get(version.name)
            # Two concurrent adds: keep the newer pin rather than whichever wrote last.
            if (
                pinned is not None
                and pinned.version > version.version
                and self._has(version.name, pinned.version, pinned.content_hash)
            ):
                return
            lock.pin(version.name, version.version, version.content_hash)
            lock.save()

    def _has(self, name: str, number: int, content_hash: str) -> bool:
        found = self.records.find_version(name, number)
        return found is not None and found.content_hash == content_hash

    def reap_temp(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Delete leftovers of interrupted adds in ``.conveyor/tmp`` older than ``older_than``.

        ``add`` reaps those older than a day on its own; ``gc`` calls this with its grace.

        Returns:
            The number of bytes freed.
        """
        return reap_stale_temp(self.root / _TMP_DIR, older_than)

    def _open(self, version: DatasetVersion) -> DatasetVersion:
        """``version`` as users see it: its profile's sealed statistics opened."""
        return unsealed(version, self.artifacts.field_cipher)

    # -- reading -------------------------------------------------------------------------

    def _latest(self, name: str) -> DatasetVersion | None:
        found = self.records.find_version(name)
        return None if found is None else self._open(found)

    def get(
        self, name_or_ref: str | DatasetRef, version: int | str | None = None
    ) -> DatasetVersion:
        """Look up one version: ``"orders"`` / ``"orders@latest"`` (newest) or ``"orders@3"``.

        Raises:
            DatasetNotFoundError: No such dataset (the message lists known names).
            VersionNotFoundError: No such version (the message lists existing versions).
        """
        ref = parse_dataset_ref(name_or_ref, version)
        return self._open(self.records.get_version(ref.name, ref.version))

    def list(self) -> builtins.list[DatasetSummary]:
        """Every dataset with its newest version, sorted by name."""
        return self.records.summaries()

    def log(self, name: str) -> builtins.list[DatasetVersion]:
        """Every version of ``name``, newest first.

        Raises:
            DatasetNotFoundError: No such dataset.
        """
        validate_name(name, kind="dataset name")
        return [self._open(version) for version in self.records.log(name)]

    def manifest(self, ref: str | DatasetRef | DatasetVersion) -> dict[str, Any]:
        """The manifest of a version, verified against its content hash.

        Raises:
            ArtifactNotFoundError: The manifest is not in the local artifact store.
            IntegrityError: The stored manifest is corrupt.
        """
        version = ref if isinstance(ref, DatasetVersion) else self.get(ref)
        data = self._fetch(version, version.content_hash, self.artifacts.get_bytes)
        return parse_manifest(data, version.content_hash)

    def _fetch(self, version: DatasetVersion, digest: str, read: Callable[[str], T]) -> T:
        try:
            return read(digest)
        except ArtifactNotFoundError as exc:
            raise ArtifactNotFoundError(
                f"Dataset {version.ref}: object {digest} is recorded but its bytes are not "
                f"present locally in {self.artifacts.url}.",
                hint=f"Run `conveyor data pull {version.ref}` to fetch it from the remote.",
                name=version.name,
                version=version.version,
                hash=digest,
            ) from exc

    def load(self, ref: str | DatasetRef) -> pd.DataFrame:
        """Load a table version as a pandas DataFrame (bytes verified on read).

        Raises:
            NotATableError: The version is a file or folder.
            ArtifactNotFoundError: Its bytes are not present locally.
        """
        version = self.get(ref)
        if version.kind != "table":
            raise NotATableError(
                f"Dataset {version.ref} is a {version.kind}, not a table; only tables load "
                "as DataFrames.",
                hint=f"Use `conveyor data checkout {version.ref} <dest>` to get its files.",
                name=version.name,
                version=version.version,
                kind=version.kind,
            )
        digest = self.manifest(version)["files"][TABLE_FILE]["hash"]
        data = self._fetch(version, digest, self.artifacts.get_bytes)
        # Dates come back as datetime64 (as pandas reads them), not as datetime.date
        # objects in an object column that encoders and signatures would take for strings.
        from conveyor.data._tables import read_parquet_bytes

        frame: pd.DataFrame = read_parquet_bytes(data).to_pandas(date_as_object=False)
        return frame

    def diff(self, a_ref: str | DatasetRef, b_ref: str | DatasetRef) -> DatasetDiff:
        """Compare two versions: files, and for tables schema, rows and statistics."""
        a, b = self.get(a_ref), self.get(b_ref)
        return compute_diff(a, b, self.manifest(a), self.manifest(b))

    def checkout(
        self,
        ref: str | DatasetRef,
        dest: str | os.PathLike[str],
        *,
        force: bool = False,
        format: CheckoutFormat | None = None,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Write a version's files to ``dest``, every byte verified, each file atomically.

        A file or folder version is restored byte for byte, and so is a table added from
        a CSV or Parquet file (its original file is kept). ``dest`` is the file path or,
        if it is an existing folder, the file goes inside it under its original name
        (``<name>.parquet`` for a table from a DataFrame). A folder version is restored
        under ``dest``; files there that the version does not list are left alone. No
        path from the manifest may leave ``dest`` or go through a symbolic link.

        Args:
            ref: ``NAME@VERSION`` (or ``NAME`` / ``NAME@latest``).
            dest: Destination file or folder.
            force: Overwrite existing files whose content differs.
            format: For tables: ``"original"`` (the default when recorded), ``"parquet"``
                (the canonical Parquet object) or ``"csv"`` (exported from it).
            progress: Receives ``("Checking out", bytes_done, bytes_total)``.

        Returns:
            The file or folder written.

        Raises:
            CheckoutConflictError: An existing file differs and ``force`` is false
                (nothing is written).
            CheckoutFormatError: ``format`` does not fit the version, or the bytes would
                not match the destination's suffix (``.csv`` vs ``.parquet``).
            CheckoutPathError: A path would leave ``dest`` or cross a symbolic link.
            ArtifactNotFoundError: The bytes are not present locally (run ``data pull``).
            IntegrityError: A stored object is corrupt (no destination file is written).

        Example:
            >>> reg.checkout("survey@1", "out/survey-v1.csv")  # doctest: +SKIP
            PosixPath('out/survey-v1.csv')
        """
        version = self.get(ref)
        manifest = self.manifest(version)
        return checkout_version(
            version,
            manifest,
            self.artifacts,
            Path(dest),
            force=force,
            fmt=format,
            progress=progress,
        )

    # -- remotes -------------------------------------------------------------------------

    def push(
        self,
        remote: ArtifactStore,
        names: builtins.list[str] | None = None,
        progress: ProgressCallback | None = None,
        *,
        all_versions: bool = False,
    ) -> PushResult:
        """Upload dataset versions to ``remote``: the pinned ones, or those ``names`` select.

        For each dataset: the manifests of all its versions, and the data objects of the
        version pinned in ``conveyor.lock`` (the latest for names not pinned), of
        ``NAME@V`` when ``names`` holds one, or of every version with ``all_versions``
        (versions whose bytes are not here are listed in ``missing``). Objects the remote
        already has are skipped; ``progress`` receives bytes.

        Raises:
            DatasetNotFoundError, VersionNotFoundError: A name or version does not exist.
            LockFileError: ``conveyor.lock`` pins a version this store does not have.
            ArtifactNotFoundError: An object to push is not present locally.
        """
        lock = LockFile.load(self.root)
        return push_datasets(
            self.records,
            self.artifacts,
            remote,
            lock=lock,
            names=names,
            all_versions=all_versions,
            progress=progress,
        )

    def pull(
        self,
        remote: ArtifactStore,
        names: builtins.list[str] | None = None,
        progress: ProgressCallback | None = None,
        *,
        all_versions: bool = False,
    ) -> PullResult:
        """Fetch dataset versions from ``remote``: the pinned ones, or those ``names`` select.

        Records come first from the pinned manifest (checked against the lock's content
        hash) back along its parent links, so version numbers equal the original ones.
        Bytes (verified) come for the pinned version, for ``NAME@V`` when ``names`` holds
        one (any version known from the lock's history), or for every version with
        ``all_versions`` (versions whose bytes are not on the remote are listed in
        ``missing``). ``progress`` receives bytes.

        Raises:
            LockFileError: A pinned manifest is missing on the remote, the local records
                disagree with it, or a dataset is neither pinned nor known here.
            VersionNotFoundError: ``NAME@V`` is not in the history the lock names.
            ArtifactNotFoundError: The remote lacks bytes of a requested version.
            IntegrityError: A fetched object does not match its hash.

        Example:
            >>> reg.pull(remote, ["survey@1"]).datasets  # doctest: +SKIP
            ['survey@1']
        """
        lock = LockFile.load(self.root)
        return pull_datasets(
            self.records,
            self.artifacts,
            remote,
            lock=lock,
            actor=self.actor,
            seal=sealer_for(self.artifacts),
            names=names,
            all_versions=all_versions,
            progress=progress,
        )
