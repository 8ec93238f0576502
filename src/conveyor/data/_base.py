"""The records interface of dataset versioning: what a backend stores for each version.

A records backend keeps one record per dataset version (the fields of
:class:`DatasetVersion`) and, with each recorded version, the artifact references that keep
its objects alive in garbage collection. Bytes never pass through it: manifests and data
objects live in the artifact store. :class:`SqlDatasetRecords` keeps the records in the
metadata store; another backend (a team server, say) subclasses :class:`BaseDatasetRecords`
and passes the contract suite :class:`conveyor.testing.records.DatasetRecordsContract`.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence

from conveyor.core import Actor
from conveyor.data._models import DatasetSummary, DatasetVersion
from conveyor.errors import DatasetNotFoundError, VersionNotFoundError

_SHOWN_NAMES = 5


def owner_of(name: str, version: int) -> str:
    """The artifact-reference owner and audit target of a version, ``dataset:<name>@<v>``."""
    return f"dataset:{name}@{version}"


def compact_ranges(numbers: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"`` (``"none"`` when empty)."""
    parts: list[str] = []
    ordered = sorted(numbers)
    start = prev = ordered[0] if ordered else 0
    for number in [*ordered[1:], None]:
        if number is not None and number == prev + 1:
            prev = number
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if number is not None:
            start = prev = number
    return ", ".join(parts) if ordered else "none"


class BaseDatasetRecords(abc.ABC):
    """Where dataset version records live: the contract every records backend keeps.

    A dataset exists exactly when it has at least one version: its first version creates
    it, in the same atomic write. Versions of a dataset are numbered 1, 2, ... without
    gaps, and a recorded version never changes.

    Profiles are stored and returned exactly as given. When the artifact store encrypts
    at rest, :class:`DatasetRegistry` hands in each profile with its sensitive values
    sealed by the artifact store's field cipher (bound to ``dataset:<name>@<version>``)
    and opens them again on read, so a backend never holds those values in plaintext.

    Every write is one atomic change that also appends one audit event (same action and
    target as listed on each method). Implementations must be safe to share between
    threads and processes; concurrent writers are told apart by
    :class:`DatasetVersionConflictError`, never by a lost or duplicated version.

    Subclasses implement the five abstract methods; :meth:`get_version` and :meth:`log`
    (with the errors users see) are written once on top of them.
    """

    # -- reading -------------------------------------------------------------------------

    @abc.abstractmethod
    def find_version(self, name: str, version: int | None = None) -> DatasetVersion | None:
        """One version of ``name``, or its latest when ``version`` is ``None``.

        Returns:
            The version (``unchanged`` false, ``stats`` ``None``), or ``None`` when the
            dataset or that version does not exist.
        """

    @abc.abstractmethod
    def versions(self, name: str) -> list[DatasetVersion]:
        """Every version of ``name``, oldest first (version 1 first).

        Returns:
            The versions; an empty list when no dataset is named ``name``.
        """

    @abc.abstractmethod
    def summaries(self) -> list[DatasetSummary]:
        """Every dataset with its latest version and version count, sorted by name."""

    # -- writing -------------------------------------------------------------------------

    @abc.abstractmethod
    def add_version(
        self, actor: Actor, version: DatasetVersion, objects: Collection[str]
    ) -> DatasetVersion:
        """Record ``version`` as the next version of dataset ``version.name``.

        ``version.version`` must be the number after the dataset's latest (1 for a new
        dataset, which this call creates with ``version.created_at`` and
        ``version.created_by``). In the same atomic write, ``version.content_hash`` and
        every hash in ``objects`` are referenced by the owner
        ``dataset:<name>@<version>`` (so garbage collection keeps them), and one audit
        event is appended: action ``data.add``, target ``dataset:<name>@<version>``,
        details ``version``, ``content_hash``, ``kind`` and ``files`` (the file count).

        Args:
            actor: Who records the version.
            version: The version to record (``unchanged`` and ``stats`` are ignored).
            objects: Hashes of the data objects the version references.

        Returns:
            The version as stored (what :meth:`find_version` returns from now on).

        Raises:
            DatasetVersionConflictError: ``version.version`` is not the number after the
                latest (another writer got there first); nothing is written.
        """

    @abc.abstractmethod
    def import_versions(
        self, actor: Actor, versions: Sequence[tuple[DatasetVersion, Collection[str]]]
    ) -> list[DatasetVersion]:
        """Record versions of one dataset known from elsewhere (``data pull``), oldest first.

        Each item is a version with the hashes of its data objects. Versions already
        recorded under the same number are skipped (a concurrent pull recorded them);
        the others are recorded under their own numbers with their references, as
        :meth:`add_version` does. A dataset not known yet is created with the first
        version's ``created_at``, and its ``created_by`` when that is version 1 (else
        ``actor``'s name). The whole call is one atomic write with one audit event:
        action ``data.pull``, target ``dataset:<name>@<last version given>``, details
        ``versions`` (the ``name@version`` of each version recorded), appended even when
        every version was already there.

        Args:
            actor: Who records the versions.
            versions: ``(version, objects)`` pairs of one dataset, oldest first; not empty.

        Returns:
            The versions recorded by this call, oldest first.

        Raises:
            ValueError: ``versions`` is empty or names more than one dataset.
        """

    # -- written on top ------------------------------------------------------------------

    def get_version(self, name: str, version: int | None = None) -> DatasetVersion:
        """Like :meth:`find_version`, but a missing dataset or version raises.

        Raises:
            DatasetNotFoundError: No dataset is named ``name`` (the message lists the
                first few known names).
            VersionNotFoundError: The dataset has no version ``version`` (the message
                lists the versions it has, e.g. ``Versions: 1-5.``).
        """
        found = self.find_version(name, version)
        if found is not None:
            return found
        numbers = [v.version for v in self.versions(name)] if version is not None else []
        if not numbers:
            raise self._not_found(name)
        raise VersionNotFoundError(
            f"Dataset {name!r} has no version {version}. Versions: {compact_ranges(numbers)}.",
            hint=f"Run `conveyor data log {name}` to see its versions.",
            name=name,
            version=version,
        )

    def log(self, name: str) -> list[DatasetVersion]:
        """Every version of ``name``, newest first.

        Raises:
            DatasetNotFoundError: No dataset is named ``name``.
        """
        found = self.versions(name)
        if not found:
            raise self._not_found(name)
        return found[::-1]

    def _not_found(self, name: str) -> DatasetNotFoundError:
        names = [s.name for s in self.summaries()[: _SHOWN_NAMES + 1]]
        if not names:
            known = "No datasets exist yet."
        else:
            more = ", ..." if len(names) > _SHOWN_NAMES else ""
            known = "Known datasets: " + ", ".join(names[:_SHOWN_NAMES]) + more + "."
        return DatasetNotFoundError(
            f"No dataset named {name!r}. {known}",
            hint=f"Run `conveyor data list` to see every dataset, or create it with "
            f"`conveyor data add {name} <path>`.",
            name=name,
        )
