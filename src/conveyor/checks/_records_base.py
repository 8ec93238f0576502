"""The records interface of checks: where results, gate decisions and data schemas are kept.

:class:`BaseCheckRecords` is the contract a backend implements (the SQL one is
:class:`~conveyor.checks.SqlCheckRecords`); :func:`~conveyor.checks.record_suite`,
:func:`~conveyor.checks.record_decision`, the schema store of :mod:`conveyor.checks.data`
and ``conveyor ci`` work only through it. Every method speaks the checks' own types.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.checks._base import CheckResult

if TYPE_CHECKING:
    from conveyor.checks._decision import GateDecision
    from conveyor.checks._suite import SuiteResult
    from conveyor.core import Actor


@dataclass(frozen=True)
class CheckRecord:
    """One stored check result with its suite, time and actor."""

    result: CheckResult
    suite_id: str
    at: datetime
    actor: str


@dataclass(frozen=True)
class SchemaRecord:
    """One stored schema version of a dataset, as the records keep it.

    Attributes:
        dataset: The dataset name.
        version: The schema version (1, 2, ... per dataset).
        from_dataset_version: The dataset version it was inferred from.
        document: The schema document (see :func:`conveyor.checks.data.infer_schema`).
        created_at: When it was stored (UTC).
        created_by: Who stored it.
    """

    dataset: str
    version: int
    from_dataset_version: int
    document: dict[str, Any]
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        """``"<dataset> schema v<version>"``, as explanations name it."""
        return f"{self.dataset} schema v{self.version}"


class BaseCheckRecords(ABC):
    """Stored check results, gate decisions and versioned data schemas.

    Each method's docstring is its contract; ``conveyor.testing.records`` ships the tests
    of it (``CheckRecordsContract``). Every write takes the :class:`~conveyor.core.Actor`
    making it, is atomic (all of it is stored, or nothing and the error propagates) and
    appends exactly one audit event, with the action and target named in its docstring,
    in the same transaction (none when it writes nothing). Implementations must be safe to
    share between threads. Results and decisions are append-only: nothing is updated in
    place.

    Storage failures raise the store's errors (:class:`~conveyor.errors.StoreError` and
    its subclasses).
    """

    # -- check results -------------------------------------------------------------------

    @abstractmethod
    def record_suite(self, actor: Actor, suite: SuiteResult) -> None:
        """Store every result of ``suite`` against its own subject, in one write.

        Each result is stored with ``suite.suite_id``, the current time (UTC) and
        ``actor.name``; its value, threshold and details are stored in their
        :func:`~conveyor.checks.json_safe` form (non-finite floats become ``None``).
        Audited as ``checks.record`` on target ``str(suite.subject)`` with details
        ``{"suite_id", "checks": <number of results>, "passed", "failed", "error",
        "skipped"}``. Not idempotent: recording the same suite twice stores it twice. A
        suite without results stores nothing but the audit event.
        """

    @abstractmethod
    def list_results(
        self, subject_kind: str, subject_ref: str, *, suite_id: str | None = None
    ) -> list[CheckRecord]:
        """The stored results about one subject, oldest first.

        Args:
            subject_kind: ``"dataset"``, ``"run"`` or ``"model"``.
            subject_ref: The subject's ref (``"name@version"`` or a run id).
            suite_id: Only the results of this suite.

        Returns:
            The results in the order they were recorded (within a suite, the suite's
            order); an empty list when there are none.
        """

    @abstractmethod
    def latest_results(self) -> dict[str, CheckRecord]:
        """The newest stored result of each check name, whatever its subject.

        Returns:
            ``check name -> record``, sorted by check name; empty when nothing is stored.
            "Newest" is the one recorded last (the last of its suite when a suite ran a
            check twice).
        """

    # -- gate decisions ------------------------------------------------------------------

    @abstractmethod
    def record_decision(self, actor: Actor, decision: GateDecision) -> GateDecision:
        """Store ``decision``, stamped with the current time and ``actor.name``.

        Audited as ``gate.decide`` on target ``"<kind>:<ref>"`` of the decision's subject,
        with details ``{"decision", "suite_id", "champion", "reasons"}``.

        Returns:
            ``decision`` with ``at`` (UTC, now) and ``actor`` set, equal to what
            :meth:`list_decisions` returns for it.
        """

    @abstractmethod
    def list_decisions(self, subject_kind: str, subject_ref: str) -> list[GateDecision]:
        """Every decision recorded about one subject, oldest first (empty when none)."""

    @abstractmethod
    def has_decisions(self) -> bool:
        """True when a gate decision has been recorded about any subject."""

    def latest_decision(self, model_ref: str) -> GateDecision | None:
        """The newest decision about model version ``model_ref`` (``"name@v"``), or ``None``."""
        decisions = self.list_decisions("model", model_ref)
        return decisions[-1] if decisions else None

    # -- data schemas --------------------------------------------------------------------

    @abstractmethod
    def add_schema(
        self,
        actor: Actor,
        dataset: str,
        from_dataset_version: int,
        document: dict[str, Any],
    ) -> tuple[SchemaRecord, bool]:
        """Store ``document`` as the next schema version of ``dataset``, unless it is stored.

        Idempotent: when the newest stored version of ``dataset`` has an equal document
        and the same ``from_dataset_version``, nothing is written (no audit event) and that
        version is returned. Otherwise the next version is stored (1 for the first;
        versions stay contiguous when writers race), audited as ``schema.infer`` on target
        ``"dataset:<dataset>"`` with details ``{"schema_version", "from_dataset_version"}``.

        Returns:
            ``(record, created)``: the stored version, and False when it was already
            stored.
        """

    @abstractmethod
    def list_schemas(self, dataset: str) -> list[SchemaRecord]:
        """Every stored schema version of ``dataset``, by ascending version (empty when none)."""

    @abstractmethod
    def latest_schema(self, dataset: str) -> SchemaRecord | None:
        """The newest stored schema version of ``dataset``, or ``None`` when none is stored."""

    @abstractmethod
    def has_schemas(self) -> bool:
        """True when a schema is stored for any dataset."""
