"""Value objects of the prediction log: records, what a write stored, feedback outcomes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conveyor.predictions._errors import InvalidPredictionRecordError

#: Outcomes a logged prediction can have.
STATUSES = ("ok", "error")


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One served prediction, as the server hands it to the log.

    Construction is cheap (the server builds one per request) and checks only what would
    otherwise corrupt the log: a non-empty string request id and an aware timestamp.

    Attributes:
        request_id: The id returned to the client (``X-Request-Id``); feedback joins on it.
        at: When the request was answered (timezone-aware).
        model: Model name.
        version: Model version number.
        inputs: One row of input features, ``{feature: value}``.
        prediction: The output for that row (a scalar, or any JSON-able value).
        latency_ms: Time spent answering, in milliseconds.
        environment: Deployment environment, if served by a deployment.
        variant: Deployment variant (``"champion"``, ``"canary"``, ...), if any.
        revision: Deployment revision, if any.
        status: ``"ok"``, or ``"error"`` when the model failed on this request (failed
            predictions are logged too, so error rates per variant can be read from the log).
        error: What failed (``"ValueError: ..."``) when ``status`` is ``"error"``.

    Raises:
        InvalidPredictionRecordError: ``request_id`` is empty, ``at`` has no time zone, or
            ``status`` is not one of :data:`STATUSES`.

    Example:
        >>> from datetime import UTC, datetime
        >>> PredictionRecord("r1", datetime(2026, 1, 1, tzinfo=UTC), "churn", 3,
        ...                  {"age": 41}, 0.82, 1.5).model
        'churn'
    """

    request_id: str
    at: datetime
    model: str
    version: int
    inputs: dict[str, Any]
    prediction: Any
    latency_ms: float
    environment: str | None = None
    variant: str | None = None
    revision: int | None = None
    status: str = "ok"
    error: str | None = None

    def __post_init__(self) -> None:
        _check_head(self.request_id, self.at, self.status)

    @property
    def partition_key(self) -> tuple[str, int, str | None, str | None, int | None]:
        """What every record of one stored batch shares: model, version and deployment."""
        return (self.model, self.version, self.environment, self.variant, self.revision)


@dataclass(frozen=True, slots=True)
class PredictionBatch:
    """All rows of one served request, as columns: what the server queues per request.

    It stands for the :class:`PredictionRecord` objects :meth:`records` returns, and is
    stored exactly as they would be (same Parquet rows, same request ids), without a dict
    or an object per row on the request path. Row ``i`` of a multi-row request has the
    request id ``<request_id>:<i>``; a single row has ``request_id`` itself.

    Construction checks what would otherwise corrupt the log or stop its writer: the
    request id, the time zone, the status, column names (strings), and that every column
    and ``predictions`` hold ``rows`` values (lists, tuples or 1-D NumPy arrays). The
    values themselves are not inspected: one the log cannot store as its type is stored
    as JSON text, as for a record.

    Attributes:
        request_id: The id returned to the client (``X-Request-Id``).
        at: When the request was answered (timezone-aware).
        model: Model name.
        version: Model version number.
        columns: Input feature -> its values, one per row.
        predictions: One output per row (``None`` for each row of a failed request).
        latency_ms: Time spent answering, in milliseconds.
        environment: Deployment environment, if any.
        variant: Deployment variant, if any.
        revision: Deployment revision, if any.
        status: ``"ok"`` or ``"error"``.
        error: What failed when ``status`` is ``"error"``.
        rows: Number of rows.

    Raises:
        InvalidPredictionRecordError: any of the checks above fails.

    Example:
        >>> from datetime import UTC, datetime
        >>> batch = PredictionBatch("r1", datetime(2026, 1, 1, tzinfo=UTC), "churn", 3,
        ...                         {"age": [41, 52]}, [0.8, 0.1], 1.5, rows=2)
        >>> batch.request_ids()
        ['r1:0', 'r1:1']
    """

    request_id: str
    at: datetime
    model: str
    version: int
    columns: Mapping[str, Any]  # values: a list, tuple or 1-D NumPy array per column
    predictions: Any  # a list, tuple or 1-D NumPy array
    latency_ms: float
    environment: str | None = None
    variant: str | None = None
    revision: int | None = None
    status: str = "ok"
    error: str | None = None
    rows: int = 1

    def __post_init__(self) -> None:
        _check_head(self.request_id, self.at, self.status)
        rows = self.rows
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise InvalidPredictionRecordError(
                f"Prediction batch {self.request_id!r} has {rows!r} rows.",
                hint="Pass the number of rows of the request, at least 1.",
                request_id=self.request_id,
            )
        if not isinstance(self.columns, Mapping):
            raise InvalidPredictionRecordError(
                f"Prediction batch {self.request_id!r} has columns of type "
                f"{type(self.columns).__name__}; expected a mapping of name to values.",
                hint="Pass {feature: [value per row]}.",
                request_id=self.request_id,
            )
        for name, values in self.columns.items():
            if not isinstance(name, str) or not name:
                raise InvalidPredictionRecordError(
                    f"Prediction batch {self.request_id!r} has a column named "
                    f"{repr(name)[:80]}; column names are non-empty strings.",
                    hint="Pass the input feature names as strings.",
                    request_id=self.request_id,
                )
            _check_length(self.request_id, f"column {name[:80]!r}", values, rows)
        _check_length(self.request_id, "predictions", self.predictions, rows)

    @property
    def partition_key(self) -> tuple[str, int, str | None, str | None, int | None]:
        """What every row of one stored batch shares: model, version and deployment."""
        return (self.model, self.version, self.environment, self.variant, self.revision)

    def request_ids(self) -> list[str]:
        """The request id of each row: ``<id>`` for one row, else ``<id>:<i>``."""
        if self.rows == 1:
            return [self.request_id]
        return list(map(self.request_id.__add__, _suffixes(self.rows)))

    def column(self, name: str) -> list[Any]:
        """The values of input ``name`` as a list (``None`` per row when it is absent)."""
        values = self.columns.get(name)
        if values is None:
            return [None] * self.rows
        return _as_list(values)

    def prediction_list(self) -> list[Any]:
        """The predictions as a list."""
        return _as_list(self.predictions)

    def records(self) -> list[PredictionRecord]:
        """The rows as :class:`PredictionRecord` objects (for spill files and quarantine)."""
        names = list(self.columns)
        columns = [_as_list(self.columns[name]) for name in names]
        return [
            PredictionRecord(
                request_id=rid,
                at=self.at,
                model=self.model,
                version=self.version,
                inputs=dict(zip(names, values, strict=True)),
                prediction=prediction,
                latency_ms=self.latency_ms,
                environment=self.environment,
                variant=self.variant,
                revision=self.revision,
                status=self.status,
                error=self.error,
            )
            for rid, prediction, *values in zip(
                self.request_ids(), self.prediction_list(), *columns, strict=True
            )
        ]


#: What the logger queues and the log writes: a row, or all rows of a request.
Loggable = PredictionRecord | PredictionBatch


def row_count(item: Loggable) -> int:
    """How many rows ``item`` stands for."""
    return item.rows if isinstance(item, PredictionBatch) else 1


def as_records(items: Sequence[Loggable]) -> list[PredictionRecord]:
    """``items`` as one :class:`PredictionRecord` per row, in order."""
    records: list[PredictionRecord] = []
    for item in items:
        if isinstance(item, PredictionBatch):
            records += item.records()
        else:
            records.append(item)
    return records


_suffix_cache: list[str] = []


def _suffixes(rows: int) -> list[str]:
    """``[":0", ":1", ...]`` for ``rows`` rows, from a cache shared by every batch.

    The cache is replaced, never changed in place, so concurrent callers are safe.
    """
    global _suffix_cache  # noqa: PLW0603 - a cache, replaced whole
    cache = _suffix_cache
    if len(cache) < rows:
        cache = [f":{i}" for i in range(max(rows, 2 * len(cache)))]
        _suffix_cache = cache
    return cache[:rows]


def _as_list(values: Any) -> list[Any]:
    """A column's values as a Python list (NumPy values become Python scalars)."""
    if isinstance(values, list):
        return values
    if hasattr(values, "tolist") and getattr(values, "ndim", 1) == 1:
        converted: list[Any] = values.tolist()
        return converted
    return list(values)


def _check_length(request_id: str, what: str, values: object, rows: int) -> None:
    if isinstance(values, (str, bytes, Mapping)) or getattr(values, "ndim", 1) != 1:
        shape = getattr(values, "shape", None)
        kind = type(values).__name__ + ("" if shape is None else f" of shape {shape}")
        raise InvalidPredictionRecordError(
            f"Prediction batch {request_id!r} has {what} of type {kind}; expected a list "
            "or a 1-D array with one value per row.",
            hint="Pass a list (or 1-D NumPy array) of values, one per row.",
            request_id=request_id,
        )
    try:
        length = len(values)  # type: ignore[arg-type]
    except TypeError:
        length = None
    if length != rows:
        raise InvalidPredictionRecordError(
            f"Prediction batch {request_id!r} has {what} with "
            f"{'no length' if length is None else length} values for {rows} rows.",
            hint="Pass one value per row in every column and in the predictions.",
            request_id=request_id,
        )


def _check_head(request_id: object, at: object, status: object) -> None:
    if not isinstance(request_id, str) or not request_id:
        raise InvalidPredictionRecordError(
            f"Prediction record has an invalid request id {request_id!r}.",
            hint="Pass the request id returned to the client, a non-empty string.",
            request_id=repr(request_id),
        )
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise InvalidPredictionRecordError(
            f"Prediction record {request_id!r} has a time without a time zone ({at!r}).",
            hint="Pass an aware UTC datetime, e.g. conveyor.core.utcnow().",
            request_id=request_id,
        )
    if status not in STATUSES:
        raise InvalidPredictionRecordError(
            f"Prediction record {request_id!r} has status {status!r}; "
            f"expected one of {', '.join(STATUSES)}.",
            hint=f"Use one of {', '.join(STATUSES)}.",
            request_id=request_id,
            status=repr(status),
        )


@dataclass(frozen=True)
class PartitionInfo:
    """One stored Parquet object of predictions (one ``prediction_batches`` row).

    Attributes:
        id: The batch row id.
        model: Model name.
        version: Model version.
        environment: Deployment environment, or ``None``.
        variant: Deployment variant, or ``None``.
        revision: Deployment revision, or ``None``.
        first_at: Time of the earliest prediction in it.
        last_at: Time of the latest prediction in it.
        rows: Number of predictions.
        content_hash: Hash of the Parquet object in the artifact store.
    """

    id: int
    model: str
    version: int
    environment: str | None
    variant: str | None
    revision: int | None
    first_at: datetime
    last_at: datetime
    rows: int
    content_hash: str


@dataclass(frozen=True)
class NewPartition:
    """A Parquet object of predictions to index: a :class:`PartitionInfo` without its id.

    Attributes:
        model: Model name.
        version: Model version.
        environment: Deployment environment, or ``None``.
        variant: Deployment variant, or ``None``.
        revision: Deployment revision, or ``None``.
        first_at: Time of the earliest prediction in it (aware).
        last_at: Time of the latest prediction in it (aware).
        rows: Number of predictions.
        content_hash: Hash of the Parquet object, already stored in the artifact store.
    """

    model: str
    version: int
    environment: str | None
    variant: str | None
    revision: int | None
    first_at: datetime
    last_at: datetime
    rows: int
    content_hash: str


@dataclass(frozen=True)
class FeedbackLabel:
    """The ground-truth label a request id has.

    Attributes:
        request_id: The request the label is for.
        label: The label, the JSON value it was given as.
        at: When the label was last set.
        updates: How many times a label was given for this id, in all.
        first_at: When the first label for this id arrived.
    """

    request_id: str
    label: Any
    at: datetime
    updates: int
    first_at: datetime


@dataclass(frozen=True)
class BatchInfo:
    """What one :meth:`PredictionLog.write` stored, in one metadata transaction.

    Records of different model versions or variants go to separate Parquet objects, so a
    window of one version never opens another's data.

    Attributes:
        rows: Number of predictions written.
        partitions: The Parquet objects written (one per model version and variant).
    """

    rows: int
    partitions: tuple[PartitionInfo, ...]

    @property
    def first_at(self) -> datetime | None:
        """Earliest prediction time in the batch (``None`` for an empty write)."""
        return min((p.first_at for p in self.partitions), default=None)

    @property
    def last_at(self) -> datetime | None:
        """Latest prediction time in the batch (``None`` for an empty write)."""
        return max((p.last_at for p in self.partitions), default=None)


@dataclass(frozen=True)
class FeedbackResult:
    """Outcome of :meth:`PredictionLog.feedback`.

    Attributes:
        accepted: Distinct request ids whose label was stored (new or replaced).
        unknown: Ids that match no logged prediction and none the server is about to log.
            Their labels are kept by the Python API (``keep_unknown=True``) and dropped by
            the prediction server.
        updated: Ids that already had a label, now replaced.
        kept: Ids that already had a label, left as it was (``overwrite=False``).
    """

    accepted: int
    unknown: int
    updated: int
    kept: int = 0


@dataclass(frozen=True)
class LoggerStats:
    """A snapshot of a :class:`PredictionLogger`'s health (what ``/metrics`` exports).

    Attributes:
        queue_depth: Rows waiting to be written (including those waiting to be spilled);
            a request's :class:`PredictionBatch` counts its rows.
        lag_s: Age in seconds of the oldest record waiting to be written (0 when empty).
        written: Rows written to the prediction log.
        spilled: Rows written to local spill files instead (ingest with
            :meth:`PredictionLogger.recover_spill`).
        failed: Rows that could not be written anywhere and are lost.
        write_errors: Batches the prediction log could not take (spilled), or took only
            in part (the records it refused were quarantined).
        quarantined: Records (or spill lines) the log refused for themselves, moved to the
            spill folder's ``quarantine/`` instead of blocking the others.
    """

    queue_depth: int
    lag_s: float
    written: int
    spilled: int
    failed: int
    write_errors: int
    quarantined: int = 0


def as_utc(value: datetime) -> datetime:
    """``value`` converted to UTC (it must be aware)."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)
