"""The interface of the prediction records: the batch index and the feedback labels.

The predictions themselves are Parquet objects in the artifact store; :class:`PredictionLog`
writes and reads those. A backend keeps only the index that says which object holds which
model version, deployment variant and time span, and the labels sent back by request id.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from conveyor.core import Actor
from conveyor.predictions._records import (
    FeedbackLabel,
    FeedbackResult,
    NewPartition,
    PartitionInfo,
)
from conveyor.predictions._usage import ServingUsage


class BasePredictionRecords(abc.ABC):
    """Where the prediction log keeps its index of Parquet objects and its feedback labels.

    Times come back timezone-aware, in UTC, to the microsecond; labels come back as the
    JSON values they were given.

    Thread safety: an implementation may be shared by threads (the server's logger writes
    while requests send feedback) and by processes.
    """

    @abc.abstractmethod
    def add_partitions(
        self,
        actor: Actor,
        partitions: Sequence[NewPartition],
        *,
        idempotent: bool = False,
    ) -> list[PartitionInfo]:
        """Index Parquet objects already stored in the artifact store, in one atomic write.

        Each new partition gets a new id (ids increase) and its content hash is recorded
        as an artifact reference of ``prediction_batch:<id>``, so garbage collection keeps
        the object. One audit event ``predictions.log`` signed by ``actor`` records the
        write: its target is ``predictions:<model>@<version>`` for one partition and
        ``predictions`` for several, its details hold ``rows`` (the sum of their rows) and
        ``batches`` (the ids returned). Either everything is indexed or nothing is.

        Args:
            actor: Who writes (signs the audit event).
            partitions: The objects to index; an empty sequence writes nothing.
            idempotent: A partition whose content hash is indexed already is not indexed
                again: its existing entry is returned instead (replaying a spill file a
                crash left behind).

        Returns:
            One :class:`PartitionInfo` per partition given, in the same order.

        Raises:
            PredictionLogError: the index could not be written (nothing was).
            StoreBusyError: the store stayed locked by another writer.
        """

    @abc.abstractmethod
    def partitions(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        environment: str | None = None,
        variant: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PartitionInfo]:
        """Return the indexed partitions that may hold predictions of a window.

        Args:
            model: Only this model (``None``: any).
            version: Only this model version.
            environment: Only this deployment environment.
            variant: Only this deployment variant.
            since: Only partitions whose ``last_at`` is at or after this aware time.
            until: Only partitions whose ``first_at`` is before this aware time.

        Returns:
            The matching partitions, newest ``last_at`` first (the larger id first among
            equal times).
        """

    def row_count(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        environment: str | None = None,
        variant: str | None = None,
    ) -> int:
        """Return how many predictions the matching partitions hold, in all.

        The same filters as :meth:`partitions` (without a time window). The default adds
        up :meth:`partitions`; a backend that can add up in place should override it.

        Returns:
            The sum of ``rows`` of the matching partitions (0 when none match).
        """
        found = self.partitions(
            model=model, version=version, environment=environment, variant=variant
        )
        return sum(partition.rows for partition in found)

    @abc.abstractmethod
    def labels(self, request_ids: Collection[str]) -> dict[str, FeedbackLabel]:
        """Return the labels the given request ids have.

        Returns:
            ``{request_id: label}`` for the ids that have a label (any number of ids may
            be asked for at once); ids without one are left out.
        """

    @abc.abstractmethod
    def record_feedback(
        self,
        actor: Actor,
        labels: Mapping[str, Any],
        *,
        updates: Mapping[str, int] | None = None,
        overwrite: bool = True,
        unknown: int = 0,
    ) -> FeedbackResult:
        """Store ground-truth labels by request id, in one atomic, audited write.

        A new id gets its label, ``updates`` set to how many times it was given and
        ``first_at`` = ``at`` = now. An id that has a label already gets the new label, a
        new ``at`` and its ``updates`` increased when ``overwrite`` is true, and is left
        untouched otherwise. One audit event ``predictions.feedback`` on target
        ``predictions:feedback`` signed by ``actor`` holds ``accepted``, ``unknown``,
        ``updated`` and ``kept`` (as returned). An empty ``labels`` writes nothing.

        Args:
            actor: Who sends the labels (signs the audit event).
            labels: ``{request_id: label}``; labels are JSON values.
            updates: How many times each id's label was given in this call (default 1).
            overwrite: Replace labels ids already have.
            unknown: How many of these ids matched no logged prediction (the caller found
                out; recorded in the audit event and returned as is).

        Returns:
            ``accepted``: ids stored (new or replaced); ``updated``: ids that had a label,
            now replaced; ``kept``: ids that had a label, left as it was; ``unknown`` as
            given.

        Raises:
            StoreBusyError: the store stayed locked by another writer; nothing was stored
                (the prediction server answers 503 with ``Retry-After``).
        """

    @abc.abstractmethod
    def replace_partitions(
        self,
        actor: Actor,
        action: str,
        target: str,
        replacements: Mapping[int, NewPartition | None],
        *,
        forget_labels: Collection[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> list[PartitionInfo]:
        """Swap indexed partitions for rewritten objects, in one atomic, audited write.

        What erasure and retention use: each partition id in ``replacements`` is removed
        from the index together with its artifact reference (its object is left for
        garbage collection) and, when mapped to a :class:`NewPartition`, that object is
        indexed in its place under a new id and referenced as ``prediction_batch:<id>``.
        The labels of ``forget_labels`` are deleted. One audit event ``action`` on
        ``target`` signed by ``actor`` holds ``details`` plus ``removed`` (the ids
        removed) and ``batches`` (the ids added). An empty ``replacements`` and
        ``forget_labels`` write nothing.

        Args:
            actor: Who makes the change (signs the audit event).
            action: The audit action (``"predictions.erase"``, ``"predictions.retention"``).
            target: The audit target.
            replacements: ``{partition id: rewritten partition, or None to remove it}``.
            forget_labels: Request ids whose labels are deleted.
            details: More audit details (counts; never the values erased).

        Returns:
            The partitions added, in the order of ``replacements``.

        Raises:
            PredictionLogError: a partition id is not indexed (another process replaced
                it meanwhile); nothing was written.
            StoreBusyError: the store stayed locked by another writer.
        """

    # -- serving usage ---------------------------------------------------------------------

    @abc.abstractmethod
    def record_usage(self, actor: Actor, usage: Sequence[ServingUsage]) -> None:
        """Store the usage totals of server processes, in one atomic, audited write.

        A record replaces the stored one of the same ``(process_id, model, version)``
        (its totals are since the process started, so the newest is the whole truth). One
        audit event ``serving.usage`` on ``serving:<process_id>`` (of the first record)
        holds ``predictions`` (the sum over the records). An empty sequence writes nothing.

        Args:
            actor: Who writes (the server's actor).
            usage: The records to store.

        Raises:
            StoreBusyError: the store stayed locked by another writer; nothing was stored.
        """

    @abc.abstractmethod
    def usage(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        environment: str | None = None,
        since: datetime | None = None,
    ) -> list[ServingUsage]:
        """Return the stored usage records matching every given filter.

        Args:
            model: Only this model.
            version: Only this version.
            environment: Only processes that served this environment.
            since: Only records updated at or after this time (a process active then).

        Returns:
            The records, oldest ``started_at`` first (ties by process id, then version).
        """
