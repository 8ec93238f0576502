"""The prediction log: batches of predictions as Parquet objects, indexed in the store."""

from __future__ import annotations

import json
import os
from collections.abc import Container, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor, validate_name
from conveyor.predictions._base import BasePredictionRecords
from conveyor.predictions._erase import RemovalResult, matching, older_than, remove_rows
from conveyor.predictions._errors import InvalidPredictionRecordError, PredictionLogError
from conveyor.predictions._parquet import decode_batch, encode_batch
from conveyor.predictions._privacy import PiiPolicy
from conveyor.predictions._records import (
    BatchInfo,
    FeedbackResult,
    Loggable,
    NewPartition,
    row_count,
)
from conveyor.predictions._sql import SqlPredictionRecords
from conveyor.predictions._window import Window, count_window, read_window
from conveyor.store import MetadataStore

if TYPE_CHECKING:
    import pandas as pd

_PartitionKey = tuple[str, int, str | None, str | None, int | None]
_MAX_REQUEST_ID = 128
_MAX_COLUMN = 256


class PredictionLog:
    """Logged predictions of one project and the ground-truth labels that arrive later.

    Each :meth:`write` stores one Parquet object per model version and deployment variant
    in the artifact store (before touching the records), then indexes them in one atomic,
    audited write of the records (``predictions.log``): a killed write leaves no visible
    rows. :meth:`read` opens only the objects whose time span meets the window asked for.

    Thread safety: methods may be called from several threads.

    Args:
        store: The metadata store (``None`` when ``records`` are given).
        artifacts: The artifact store holding the Parquet objects.
        actor: Who writes predictions and feedback.
        root: The project root.
        records: Where the index and the labels live (default:
            :class:`SqlPredictionRecords` over ``store``).
        privacy: Personal-data columns to hash or leave out of every record written
            (see :func:`pii_policy`); settable later as the ``privacy`` attribute.

    Raises:
        TypeError: Neither ``store`` nor ``records`` is given.

    Example:
        >>> log = PredictionLog(store, artifacts, actor=Actor("server"), root=".")  # doctest: +SKIP
        >>> log.write([record]).rows  # doctest: +SKIP
        1
        >>> log.feedback({record.request_id: 1}).accepted  # doctest: +SKIP
        1
    """

    #: :meth:`write` takes :class:`PredictionBatch` objects (read by the logger).
    takes_batches = True

    def __init__(
        self,
        store: MetadataStore | None,
        artifacts: ArtifactStore,
        *,
        actor: Actor,
        root: str | os.PathLike[str],
        records: BasePredictionRecords | None = None,
        privacy: PiiPolicy | None = None,
    ) -> None:
        if records is None:
            if store is None:
                raise TypeError("PredictionLog needs a metadata store or records=; got neither.")
            records = SqlPredictionRecords(store)
        self.store = store
        self.artifacts = artifacts
        self.actor = actor
        self.root = Path(root).absolute()
        self.records: BasePredictionRecords = records
        self.privacy = privacy

    def __repr__(self) -> str:
        where = self.records if self.store is None else self.store.url
        return f"PredictionLog({where!r})"

    # -- writing -------------------------------------------------------------------------

    def write(self, records: Sequence[Loggable], *, idempotent: bool = False) -> BatchInfo:
        """Store ``records`` as one batch: a Parquet object per model version and variant.

        Args:
            records: The predictions, in any order and of any model versions: one
                :class:`PredictionRecord` per row, or one :class:`PredictionBatch` per
                request (stored as its rows, ``<id>:<i>``), or a mix.
            idempotent: Skip a Parquet object identical to one already indexed (used when
                ingesting spill files, which a crash may leave to be ingested again).

        Personal-data inputs are masked first when :attr:`privacy` is set.

        Returns:
            What was stored (rows and one :class:`PartitionInfo` per object).

        Raises:
            InvalidNameError: a model, environment or variant name is not allowed.
            PredictionLogError: the artifact or metadata store failed.
        """
        if not records:
            return BatchInfo(rows=0, partitions=())
        if self.privacy is not None:
            records = [self.privacy.apply(record) for record in records]
        groups: dict[_PartitionKey, list[Loggable]] = {}
        for record in records:
            groups.setdefault(record.partition_key, []).append(record)
        for model, _version, environment, variant, _revision in groups:
            _check_names(model, environment, variant)
        try:
            stored = [
                (key, rows, self.artifacts.put_bytes(encode_batch(rows)).hash)
                for key, rows in groups.items()
            ]
        except OSError as exc:
            raise PredictionLogError(
                f"Could not store {sum(map(row_count, records))} predictions in the artifact store "
                f"{self.artifacts.url}: {exc}",
                hint="Check that the artifact store is reachable and writable.",
                url=self.artifacts.url,
            ) from exc
        partitions = [_partition(key, rows, digest) for key, rows, digest in stored]
        indexed = self.records.add_partitions(self.actor, partitions, idempotent=idempotent)
        return BatchInfo(rows=sum(map(row_count, records)), partitions=tuple(indexed))

    def feedback(
        self,
        labels: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        overwrite: bool = True,
        keep_unknown: bool = True,
        pending: Container[str] = frozenset(),
        actor: Actor | None = None,
    ) -> FeedbackResult:
        """Record ground-truth labels by request id, in one audited transaction.

        Each row counts how many times its label was set. Within one call the last label
        of an id wins.

        Args:
            labels: ``{request_id: label}`` or ``(request_id, label)`` pairs; a label is
                any JSON value (NaN and infinities are refused).
            overwrite: Replace a label an id already has (``False``: keep it and count the
                id in ``kept``).
            keep_unknown: Store labels of ids that match no logged prediction (``False``:
                count them in ``unknown`` and drop them, so a flood of made-up ids cannot
                grow the database; what the prediction server does).
            pending: Ids answered but maybe not logged yet (logging is asynchronous): they
                are stored, and not counted unknown.
            actor: Who the labels are recorded by (default: this log's actor); the
                prediction server passes the identity of the caller's token.

        Returns:
            How many ids were stored, unknown, updated and kept.

        Raises:
            InvalidPredictionRecordError: a request id is empty or too long, or a label is
                not JSON.
            StoreBusyError: the database stayed locked by another writer.

        Example:
            >>> log.feedback({"r1": 1, "r2": 0})  # doctest: +SKIP
            FeedbackResult(accepted=2, unknown=0, updated=0, kept=0)
        """
        pairs = list(labels.items()) if isinstance(labels, Mapping) else list(labels)
        final: dict[str, Any] = {}
        times: dict[str, int] = {}
        for request_id, label in pairs:
            _check_label(request_id, label)
            final[request_id] = label
            times[request_id] = times.get(request_id, 0) + 1
        if not final:
            return FeedbackResult(accepted=0, unknown=0, updated=0)
        awaited = {request_id for request_id in final if request_id in pending}
        unknown_ids = set(final) - awaited - self._known_ids(set(final) - awaited)
        if not keep_unknown:
            final = {k: v for k, v in final.items() if k not in unknown_ids}
            if not final:
                return FeedbackResult(accepted=0, unknown=len(unknown_ids), updated=0)
        return self.records.record_feedback(
            actor or self.actor,
            final,
            updates=times,
            overwrite=overwrite,
            unknown=len(unknown_ids),
        )

    # -- removing ------------------------------------------------------------------------

    def erase(self, column: str, value: Any, *, environment: str | None = None) -> RemovalResult:
        """Remove every logged prediction whose input ``column`` equals ``value``.

        Objects holding such rows are rewritten without them and swapped in the index in
        one audited write (``predictions.erase``, with counts, never the value); the labels
        of the removed request ids go too. The old objects are left for ``conveyor gc``.
        When :attr:`privacy` hashes ``column``, ``value`` is hashed before matching; a
        column it drops was never stored, so nothing matches.

        Args:
            column: An input feature name.
            value: The value to erase; a string also matches a number or boolean logged
                with that text (``"42"`` matches ``42``).
            environment: Only predictions served in this deployment environment
                (``None``: everywhere, including outside deployments).

        Returns:
            How many rows, objects and labels were removed.

        Raises:
            InvalidPredictionRecordError: ``column`` is empty, too long or not printable.

        Example:
            >>> log.erase("email", "ana@example.com").rows  # doctest: +SKIP
            3
        """
        _check_column(column)
        wanted = value
        if self.privacy is not None and column in self.privacy.columns:
            if self.privacy.policy == "drop":
                return RemovalResult(rows=0, partitions=0)
            wanted = self.privacy.digest(value)
        return remove_rows(
            self.records,
            self.artifacts,
            self.actor,
            self.records.partitions(environment=environment),
            matching(column, wanted),
            action="predictions.erase",
            target=f"predictions:{column}",
            details={"column": column, "environment": environment},
        )

    def expire(self, cutoff: datetime) -> RemovalResult:
        """Remove every logged prediction older than ``cutoff`` (an aware time).

        Objects entirely older are dropped from the index; one that straddles the cutoff is
        rewritten with its newer rows only. One audited write (``predictions.retention``);
        labels of the removed request ids go too; old objects are left for ``conveyor gc``.

        Returns:
            How many rows, objects and labels were removed.
        """
        return remove_rows(
            self.records,
            self.artifacts,
            self.actor,
            self.records.partitions(until=cutoff),
            older_than(cutoff),
            action="predictions.retention",
            target="predictions",
            details={"cutoff": cutoff.isoformat()},
            whole=lambda partition: partition.last_at < cutoff,
        )

    # -- reading -------------------------------------------------------------------------

    def read(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        environment: str | None = None,
        variant: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        last_rows: int | None = None,
        with_feedback: bool = True,
    ) -> pd.DataFrame:
        """Return logged predictions in a window, oldest first, joined with their labels.

        Only Parquet objects whose ``[first_at, last_at]`` span meets the window are read.

        Args:
            model: Only this model.
            version: Only this model version.
            environment: Only this deployment environment.
            variant: Only this deployment variant.
            since: Only predictions at or after this time (aware).
            until: Only predictions before this time (aware).
            last_rows: Only the newest ``last_rows`` predictions of the window.
            with_feedback: Add ``label`` (``None`` when none arrived) and ``label_at``.

        Returns:
            One row per prediction: the Parquet columns (see :mod:`._parquet`), plus the
            label columns.

        Example:
            >>> log.read(model="churn", last_rows=1000)  # doctest: +SKIP
        """
        window = Window(model, version, environment, variant, since, until)
        frame = read_window(self.records, self.artifacts, window, last_rows=last_rows)
        if with_feedback:
            frame = self._join_feedback(frame)
        return frame

    def count(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        environment: str | None = None,
        variant: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """Number of logged predictions in a window (same filters as :meth:`read`).

        Objects entirely inside the window are counted from the index alone.
        """
        window = Window(model, version, environment, variant, since, until)
        return count_window(self.records, self.artifacts, window)

    def _join_feedback(self, frame: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        found = self.records.labels(dict.fromkeys(frame["request_id"].tolist()))
        rows = [found.get(request_id) for request_id in frame["request_id"]]
        frame["label"] = pd.Series(
            [None if row is None else row.label for row in rows], index=frame.index, dtype=object
        )
        frame["label_at"] = pd.Series(
            [pd.NaT if row is None else row.at for row in rows],
            index=frame.index,
            dtype="datetime64[us, UTC]",
        )
        return frame

    def _known_ids(self, wanted: set[str]) -> set[str]:
        """Which of ``wanted`` appear in the log, searching the newest batches first."""
        found: set[str] = set()
        if not wanted:
            return found
        hashes = dict.fromkeys(batch.content_hash for batch in self.records.partitions())
        for digest in hashes:
            table = decode_batch(self.artifacts.get_bytes(digest), columns=["request_id"])
            found.update(wanted.intersection(table.column("request_id").to_pylist()))
            if len(found) == len(wanted):
                break
        return found


def _partition(key: _PartitionKey, rows: list[Loggable], digest: str) -> NewPartition:
    model, version, environment, variant, revision = key
    times = [record.at for record in rows]
    return NewPartition(
        model=model,
        version=version,
        environment=environment,
        variant=variant,
        revision=revision,
        first_at=min(times),
        last_at=max(times),
        rows=sum(map(row_count, rows)),
        content_hash=digest,
    )


def _check_names(model: str, environment: str | None, variant: str | None) -> None:
    validate_name(model, kind="model name")
    if environment is not None:
        validate_name(environment, kind="environment name")
    if variant is not None:
        validate_name(variant, kind="variant name")


def _check_column(column: object) -> None:
    if (
        not isinstance(column, str)
        or not 0 < len(column) <= _MAX_COLUMN
        or not column.isprintable()
    ):
        shown = repr(column)[:80]
        raise InvalidPredictionRecordError(
            f"Cannot erase by column {shown}: not an input column name.",
            hint=f"Pass the name of an input feature (1-{_MAX_COLUMN} printable characters).",
            column=shown,
        )


def _check_label(request_id: object, label: object) -> None:
    if not isinstance(request_id, str) or not 0 < len(request_id) <= _MAX_REQUEST_ID:
        raise InvalidPredictionRecordError(
            f"Feedback has an invalid request id {request_id!r}.",
            hint=f"Pass the request id the server returned (1-{_MAX_REQUEST_ID} characters).",
            request_id=repr(request_id),
        )
    try:
        json.dumps(label, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidPredictionRecordError(
            f"The label for request {request_id!r} is not a JSON value ({label!r}): {exc}.",
            hint="Pass numbers, strings, booleans, null, or lists/objects of them "
            "(no NaN or infinity).",
            request_id=request_id,
        ) from exc
