"""The prediction log: every served prediction, its feedback label, and the server's logger.

This package owns how live traffic is recorded for monitoring. :class:`PredictionLog`
stores predictions in batches as Parquet objects in the artifact store, indexes each batch
(model version, deployment variant, time span) in the metadata store so that a window is
read without opening unrelated batches, and joins ground-truth labels sent later through
:meth:`PredictionLog.feedback` by request id. :class:`PredictionLogger` is what the server
calls on every request, with one columnar :class:`PredictionBatch` of the request's rows:
a non-blocking queue written by a background thread, spilling to local JSON Lines files
under overload instead of dropping, with counters (in rows) for ``/metrics``.
The index and the labels sit behind :class:`BasePredictionRecords`
(:class:`SqlPredictionRecords` keeps them in the metadata store). Personal-data columns
are hashed or left out before anything is queued or written (:class:`PiiPolicy`), and
:meth:`PredictionLog.erase` and :meth:`PredictionLog.expire` remove logged rows. The
server also counts what it uses (CPU, memory, wall and busy time, predictions served) in a
:class:`UsageMeter`, written as :class:`ServingUsage` records for ``conveyor cost``.
"""

from __future__ import annotations

from conveyor.predictions._base import BasePredictionRecords
from conveyor.predictions._erase import RemovalResult
from conveyor.predictions._errors import (
    InvalidPredictionRecordError,
    PiiKeyMissingError,
    PredictionLogError,
)
from conveyor.predictions._log import PredictionLog
from conveyor.predictions._privacy import PiiPolicy, pii_policy
from conveyor.predictions._queue import PredictionLogger
from conveyor.predictions._records import (
    BatchInfo,
    FeedbackLabel,
    FeedbackResult,
    LoggerStats,
    NewPartition,
    PartitionInfo,
    PredictionBatch,
    PredictionRecord,
)
from conveyor.predictions._sql import SqlPredictionRecords
from conveyor.predictions._usage import ServingUsage, UsageMeter

__all__ = [
    "BasePredictionRecords",
    "BatchInfo",
    "FeedbackLabel",
    "FeedbackResult",
    "InvalidPredictionRecordError",
    "LoggerStats",
    "NewPartition",
    "PartitionInfo",
    "PiiKeyMissingError",
    "PiiPolicy",
    "PredictionBatch",
    "PredictionLog",
    "PredictionLogError",
    "PredictionLogger",
    "PredictionRecord",
    "RemovalResult",
    "ServingUsage",
    "SqlPredictionRecords",
    "UsageMeter",
    "pii_policy",
]
