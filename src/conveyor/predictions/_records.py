"""Value objects of the prediction log: records, what a write stored, feedback outcomes."""

from __future__ import annotations

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
        if not isinstance(self.request_id, str) or not self.request_id:
            raise InvalidPredictionRecordError(
                f"Prediction record has an invalid request id {self.request_id!r}.",
                hint="Pass the request id returned to the client, a non-empty string.",
                request_id=repr(self.request_id),
            )
        if not isinstance(self.at, datetime) or self.at.tzinfo is None:
            raise InvalidPredictionRecordError(
                f"Prediction record {self.request_id!r} has a time without a time zone "
                f"({self.at!r}).",
                hint="Pass an aware UTC datetime, e.g. conveyor.core.utcnow().",
                request_id=self.request_id,
            )
        if self.status not in STATUSES:
            raise InvalidPredictionRecordError(
                f"Prediction record {self.request_id!r} has status {self.status!r}; "
                f"expected one of {', '.join(STATUSES)}.",
                hint=f"Use one of {', '.join(STATUSES)}.",
                request_id=self.request_id,
                status=repr(self.status),
            )

    @property
    def partition_key(self) -> tuple[str, int, str | None, str | None, int | None]:
        """What every record of one stored batch shares: model, version and deployment."""
        return (self.model, self.version, self.environment, self.variant, self.revision)


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
        queue_depth: Records waiting to be written (including those waiting to be spilled).
        lag_s: Age in seconds of the oldest record waiting to be written (0 when empty).
        written: Records written to the prediction log.
        spilled: Records written to local spill files instead (ingest with
            :meth:`PredictionLogger.recover_spill`).
        failed: Records that could not be written anywhere and are lost.
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
