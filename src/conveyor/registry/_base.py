"""The registry's extension points: where its records live and where lineage comes from.

:class:`BaseModelRecords` is the contract of a records backend (models, versions, aliases
and their history); :class:`SqlModelRecords` implements it over the metadata store.
:class:`LineageSource` is what the registry asks about runs and dataset versions, which it
does not own: the workspace provides one over the run tracker and the dataset registry.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from conveyor.core import Actor
from conveyor.registry._models import HistoryEntry, ModelSummary, ModelVersion
from conveyor.registry._refs import ModelRef
from conveyor.registry._signing import NewSignature, Signature


@dataclass(frozen=True)
class NewVersion:
    """Everything a new version records, as the registry hands it to its records backend.

    ``input_example`` and ``description`` arrive as they are to be stored: sealed text in an
    encrypted workspace (the backend never opens them).

    Attributes:
        flavor: The flavor that saved the model.
        content_hash: Hash of the version's manifest object.
        object_hashes: Every artifact object the version references (kept from garbage
            collection).
        signature: The input signature, or ``None``.
        input_example: The stored input example (a JSON value or sealed text), or ``None``.
        metrics: Metric values (a non-finite value already ``None``).
        params: Training parameters.
        tags: Free-form labels.
        description: The stored description (maybe sealed), or ``None``.
        run_id: The producing run, if any.
        lineage: ``{"run_id", "code_version", "datasets", ...}`` as recorded.
        evaluation: How the version was evaluated (empty: nothing recorded).
        onnx: The ONNX twin record, or ``None``.
        importance: Global feature importance, or ``None``.
        trusted: Registered with ``trusted=True``.
        idempotency_key: The key of an idempotent registration, or ``None``.
    """

    flavor: str
    content_hash: str
    object_hashes: frozenset[str] = frozenset()
    signature: dict[str, Any] | None = None
    input_example: Any = None
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    run_id: str | None = None
    lineage: Mapping[str, Any] = field(default_factory=dict)
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    onnx: dict[str, Any] | None = None
    importance: dict[str, Any] | None = None
    trusted: bool = False
    idempotency_key: str | None = None


class BaseModelRecords(abc.ABC):
    """Where the registry keeps models, versions, aliases and alias history.

    Implementations must be safe to share between threads, and every write must be atomic
    and audited: it appends exactly one audit event (action and target as named on each
    method) in the same transaction as its change, or changes nothing and records nothing.
    Values are domain types; ``input_example`` and ``description`` are stored and returned
    exactly as given (the registry seals and opens them). Version numbers are contiguous
    from 1 per model, also under concurrent writers in several processes.

    Errors name what exists: :class:`ModelNotFoundError` lists the models,
    :class:`ModelVersionNotFoundError` the versions and :class:`AliasNotFoundError` the
    aliases of the model.
    """

    # -- writes --------------------------------------------------------------------------

    @abc.abstractmethod
    def insert_version(
        self, actor: Actor, name: str, new: NewVersion, *, model_description: str | None
    ) -> ModelVersion:
        """Record ``new`` as the next version of ``name``, creating the model if needed.

        The number is one more than the highest version of ``name`` (archived included);
        the version is ``ready``, has no aliases, and its ``lineage`` holds
        ``new.lineage`` plus ``idempotency_key`` when a key is given. A new model takes
        ``model_description``; an existing one keeps its description. Every hash of
        ``new.object_hashes`` is recorded as referenced by ``model:<name>@<version>``.

        Idempotent with a key: when a version of ``name`` was registered with
        ``new.idempotency_key``, that version is returned and nothing is written or
        audited. Otherwise audited as ``model.register`` on ``model:<name>@<version>``
        (details ``version``, ``content_hash``, ``flavor``, ``run_id``, ``trusted``).

        Returns:
            The new version (or the one registered before with the same key).
        """

    @abc.abstractmethod
    def set_aliases(
        self,
        actor: Actor,
        name: str,
        version: int,
        aliases: Sequence[str],
        *,
        reason: str | None,
    ) -> list[str]:
        """Point every alias of ``aliases`` (validated, distinct) at ``name@version`` at once.

        An alias already pointing there is left alone; each one that moves adds one event
        to the history. Audited as ``model.alias.set`` on ``model:<name>``; when nothing
        moves, nothing is written and nothing audited.

        Returns:
            The aliases that moved, in the given order.

        Raises:
            ModelNotFoundError, ModelVersionNotFoundError: unknown model or version.
            ModelStateError: the version is archived (nothing moves).
        """

    @abc.abstractmethod
    def remove_alias(self, actor: Actor, name: str, alias: str, *, reason: str | None) -> None:
        """Delete ``alias`` of ``name``, adding a removal event to the history.

        Audited as ``model.alias.remove`` on ``model:<name>``.

        Raises:
            ModelNotFoundError, AliasNotFoundError: unknown model or alias.
        """

    @abc.abstractmethod
    def archive(self, actor: Actor, name: str, version: int, *, reason: str | None) -> None:
        """Mark ``name@version`` archived (it is never the latest ready version again).

        Audited as ``model.archive`` on ``model:<name>@<version>`` (details ``version``,
        ``reason``); archiving an archived version audits again and changes nothing else.

        Raises:
            ModelNotFoundError, ModelVersionNotFoundError: unknown model or version.
            ModelStateError: an alias points at the version (its ``aliases`` field lists them).
        """

    @abc.abstractmethod
    def record_decision(
        self,
        actor: Actor,
        ref: ModelRef,
        *,
        verdict: str,
        reasons: Sequence[str],
        champion: str | None,
        details: Mapping[str, Any],
        metrics: Mapping[str, float],
    ) -> ModelVersion:
        """Record the gate decision on the version ``ref`` selects, in one write.

        ``details`` are merged into the version's ``evaluation``; each metric of
        ``metrics`` the version has no value for is added (non-finite as ``None``) and
        named ``holdout`` in ``evaluation["metric_sources"]``; ``evaluation["decision"]``
        becomes ``{"verdict", "reasons", "champion", "at"}``, replacing an earlier one.
        Audited as ``model.evaluate`` on ``model:<name>@<version>`` (details ``version``,
        ``verdict``, ``champion``).

        Returns:
            The updated version.

        Raises:
            RegistrationError: ``verdict`` is not PROMOTE, HOLD or REJECT.
            ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: unknown ref.
        """

    @abc.abstractmethod
    def add_signature(self, actor: Actor, ref: ModelRef, signature: NewSignature) -> Signature:
        """Append ``signature`` to the signatures of the version ``ref`` selects.

        A version may have several signatures (also several by one key); none is ever
        replaced. The records do not check the signature: the registry does, when reading.
        Audited as ``model.sign`` on ``model:<name>@<version>`` (details ``version``,
        ``key_name``, ``public_key``, ``statement_hash``).

        Returns:
            The recorded signature.

        Raises:
            ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: unknown ref
                (nothing is written).
        """

    # -- reads ---------------------------------------------------------------------------

    @abc.abstractmethod
    def signatures(self, ref: ModelRef) -> list[Signature]:
        """The signatures of the version ``ref`` selects, oldest first (empty: none).

        Raises:
            ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: unknown ref.
        """

    @abc.abstractmethod
    def get_version(self, ref: ModelRef) -> ModelVersion:
        """The version ``ref`` selects: a number, an alias, or the newest ready version.

        Raises:
            ModelNotFoundError: no model named ``ref.name``.
            ModelVersionNotFoundError: no such number, or no ready version at all.
            AliasNotFoundError: no such alias.
        """

    @abc.abstractmethod
    def find_keyed(self, name: str, key: str) -> ModelVersion | None:
        """The version of ``name`` registered with idempotency key ``key``, else ``None``
        (also when there is no model ``name``)."""

    @abc.abstractmethod
    def list_models(self, *, offset: int = 0, limit: int | None = None) -> list[ModelSummary]:
        """Every model, sorted by name, with its newest ready version (``None`` when all
        are archived), version count, aliases, and when its newest version was registered
        (the model's creation when it has none).

        Args:
            offset: Models to skip, by name (negative counts as 0).
            limit: At most this many models (``None``: all of them).
        """

    @abc.abstractmethod
    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name`` (archived included), newest first.

        Raises:
            ModelNotFoundError: no model named ``name``.
        """

    @abc.abstractmethod
    def history(self, name: str, *, limit: int | None = None) -> list[HistoryEntry]:
        """Registrations, archives and alias changes of ``name``, oldest first.

        Args:
            name: The model.
            limit: Only the newest ``limit`` entries (still oldest first; ``None``: all).

        Raises:
            ModelNotFoundError: no model named ``name``.
        """

    # -- reads with a default (a backend may answer them faster) -------------------------

    def versions_page(
        self, name: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[ModelVersion]]:
        """One page of the versions of ``name`` (archived included), newest first.

        Args:
            name: The model.
            offset: How many of the newest versions to skip (negative: none).
            limit: The most versions to return (0 or less: none).

        Returns:
            ``(total, versions)``: how many versions the model has, and the page, the same
            versions :meth:`list_versions` returns at those positions.

        Raises:
            ModelNotFoundError: no model named ``name``.
        """
        every = self.list_versions(name)
        start = max(offset, 0)
        return len(every), every[start : start + max(limit, 0)]

    def alias_history(self, name: str) -> list[HistoryEntry]:
        """The alias changes of ``name`` (set, moved, removed), oldest first: the
        ``alias.*`` entries of :meth:`history`.

        Raises:
            ModelNotFoundError: no model named ``name``.
        """
        return [entry for entry in self.history(name) if entry.alias is not None]


@dataclass(frozen=True)
class RunLineage:
    """What a run tells about a model it produced.

    Attributes:
        run_id: The run.
        code_version: The nearest code version on the run or its ancestors, or ``None``.
        datasets: ``{"name", "version", "content_hash"}`` of each dataset the run or its
            ancestors used (the nearest record of a name wins), sorted by name.
        metrics: The last value of each metric the run itself logged (NaN kept).
        params: The run's own parameters.
    """

    run_id: str
    code_version: dict[str, Any] | None
    datasets: tuple[dict[str, Any], ...]
    metrics: dict[str, float]
    params: dict[str, Any]


@dataclass(frozen=True)
class DatasetFacts:
    """What the registry records and shows of a dataset version.

    Attributes:
        name: The dataset.
        version: The version number.
        content_hash: The version's content hash.
        row_count: Rows of a table, else ``None``.
        profile: The column profile with its values opened, else ``None``.
    """

    name: str
    version: int
    content_hash: str
    row_count: int | None
    profile: dict[str, Any] | None


@runtime_checkable
class LineageSource(Protocol):
    """Where the registry reads the runs and dataset versions a model comes from.

    The registry owns neither: the workspace wires in a source over its run tracker and
    dataset registry. Implementations must be safe to share between threads.
    """

    def run_lineage(self, run_id: str) -> RunLineage | None:
        """The lineage of the run with exactly this id, or ``None`` when there is none."""
        ...

    def dataset_version(self, name: str, version: int | None) -> DatasetFacts | None:
        """Version ``version`` of dataset ``name`` (``None``: the newest), or ``None``
        when the dataset or the version is not recorded."""
        ...

    def dataset_versions(self, name: str) -> list[int]:
        """The recorded version numbers of dataset ``name``, ascending (empty: none)."""
        ...
