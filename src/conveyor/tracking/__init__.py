"""Experiment tracking: runs, their metrics, parameters, datasets, outputs and files.

:class:`RunTracker` (``ws.runs``) records each pipeline, step, tuning study and trial as a
run in the metadata store, with its code version (git commit, dirty flag, diff hash),
environment (Python and a hash of installed packages), timings and outcome; every change
of record is audited. Metric values are buffered in memory and written in batches, so
logging one value costs microseconds and nothing logged is lost when the code raises (the
run's finish flushes them). :meth:`RunTracker.run_tree_metrics` gathers the metrics of a
pipeline run's steps, each named after its step where several steps logged the same key.
Code running inside a run uses the module functions :func:`log_metric`,
:func:`log_metrics`, :func:`log_params` and :func:`log_artifact`, which log to
:func:`current` (set with :func:`run_context`, per thread). :class:`Heartbeat` keeps a run
marked alive so :meth:`RunTracker.reap_stale` can fail runs whose process died (after the
``runs.heartbeat_timeout_s`` setting). :meth:`RunTracker.compare` lines two runs up
(:class:`RunComparison`). The tracker keeps runs through :class:`BaseRunRecords`, by
default :class:`SqlRunRecords` in the metadata store; another backend can be injected.
"""

from __future__ import annotations

from conveyor.tracking._base import BaseRunRecords, MetricValue, search_run_list
from conveyor.tracking._buffer import InvalidMetricError
from conveyor.tracking._capture import capture_code_version, capture_environment
from conveyor.tracking._compare import MetricComparison, RunComparison
from conveyor.tracking._context import (
    RunContext,
    current,
    log_artifact,
    log_metric,
    log_metrics,
    log_params,
    run_context,
)
from conveyor.tracking._heartbeat import Heartbeat, stale_runs
from conveyor.tracking._records import (
    METRIC_FILTER_OPS,
    RUN_KINDS,
    RUN_SORTS,
    RUN_STATUSES,
    AmbiguousRunError,
    InvalidMetricFilterError,
    MetricFilter,
    MetricPoint,
    OutputRecord,
    Run,
    RunExistsError,
    RunNotFoundError,
    RunPage,
    StepNotFoundError,
    TreeMetric,
    parse_metric_filter,
    parse_run_sort,
)
from conveyor.tracking._sql import SqlRunRecords
from conveyor.tracking._tracker import RunTracker

__all__ = [
    "AmbiguousRunError",
    "BaseRunRecords",
    "Heartbeat",
    "InvalidMetricError",
    "InvalidMetricFilterError",
    "METRIC_FILTER_OPS",
    "MetricComparison",
    "MetricFilter",
    "MetricPoint",
    "MetricValue",
    "OutputRecord",
    "RUN_KINDS",
    "RUN_SORTS",
    "RUN_STATUSES",
    "Run",
    "RunComparison",
    "RunContext",
    "RunExistsError",
    "RunNotFoundError",
    "RunPage",
    "RunTracker",
    "SqlRunRecords",
    "StepNotFoundError",
    "TreeMetric",
    "capture_code_version",
    "capture_environment",
    "current",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_params",
    "parse_metric_filter",
    "parse_run_sort",
    "run_context",
    "search_run_list",
    "stale_runs",
]
