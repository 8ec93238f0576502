"""What the tracker returns: runs, metric points, output records, and its errors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from conveyor.core import isoformat
from conveyor.errors import ConveyorError

#: Every kind of run the tracker records.
RUN_KINDS = frozenset({"pipeline", "step", "tune", "trial"})
#: Every status a run may have.
RUN_STATUSES = frozenset({"running", "completed", "failed", "cached", "pending", "skipped"})
#: The plain orders :meth:`~conveyor.tracking.BaseRunRecords.search_runs` takes (besides
#: ``"metric:<key>"`` and ``"param:<key>"``).
RUN_SORTS = ("started_at", "name", "status", "duration")


class RunNotFoundError(ConveyorError, KeyError):
    """No run has the given id (or unique id prefix)."""

    code = "run_not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class RunExistsError(ConveyorError):
    """A run with this id is already recorded (ids are unique)."""

    code = "run_exists"
    status = 409


class AmbiguousRunError(ConveyorError, LookupError):
    """A run id prefix matches more than one run."""

    code = "ambiguous_run"


class StepNotFoundError(RunNotFoundError):
    """A pipeline run has no step of the given name."""

    code = "step_not_found"


@dataclass(frozen=True)
class Run:
    """One recorded run (a pipeline, a step, a tuning study or a trial).

    Attributes mirror the ``runs`` table: ``params`` and ``tags`` are JSON objects,
    ``code_version`` is ``{"commit", "dirty", "diff_hash"}`` (``None`` outside git),
    ``environment`` is ``{"python", "platform", "packages_hash"}``, ``error`` the traceback
    of a failed run, ``wall_s``/``cpu_s`` the measured durations and ``peak_rss_mb`` the
    high-water mark of the resident memory of the process that ran it, in MiB (``None``
    when not measured; see :func:`conveyor.tracking.peak_rss_mb`).
    """

    id: str
    name: str
    kind: str
    parent_id: str | None
    status: str
    pipeline_ref: str | None
    params: dict[str, Any]
    tags: dict[str, Any]
    code_version: dict[str, Any] | None
    environment: dict[str, Any] | None
    executor: str | None
    cache_key: str | None
    cached_from: str | None
    error: str | None
    started_at: datetime
    ended_at: datetime | None
    heartbeat_at: datetime | None
    host: str
    pid: int
    wall_s: float | None
    cpu_s: float | None
    created_by: str
    peak_rss_mb: float | None = None

    @property
    def short_id(self) -> str:
        """The first 8 characters of the id (unique enough to type)."""
        return self.id[:8]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field (timestamps as ISO 8601 UTC) plus ``short_id``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = isoformat(value) if isinstance(value, datetime) else value
        out["short_id"] = self.short_id
        return out


@dataclass(frozen=True)
class RunPage:
    """One page of runs found by :meth:`~conveyor.tracking.BaseRunRecords.search_runs`.

    Attributes:
        runs: The runs of the page, in the order asked for.
        total: How many runs match the filters (on every page).
        offset: How many matching runs come before this page.
        limit: The most runs a page holds.
    """

    runs: list[Run]
    total: int
    offset: int
    limit: int


def parse_run_sort(sort: str) -> tuple[str, str | None]:
    """``"metric:auc"`` -> ``("metric", "auc")``, ``"name"`` -> ``("name", None)``.

    Raises:
        ValueError: ``sort`` is none of :data:`RUN_SORTS`, ``metric:<key>`` or
            ``param:<key>`` (with a non-empty key).
    """
    if sort in RUN_SORTS:
        return sort, None
    kind, _, key = sort.partition(":")
    if kind in ("metric", "param") and key:
        return kind, key
    raise ValueError(
        f"Unknown run order {sort[:80]!r}: sort by one of {', '.join(RUN_SORTS)}, "
        "'metric:<key>' or 'param:<key>'."
    )


@dataclass(frozen=True)
class MetricPoint:
    """One logged metric value (``value`` may be NaN or infinite, as logged)."""

    key: str
    value: float
    step: int | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON dict: NaN and infinities become ``None``."""
        value = self.value if math.isfinite(self.value) else None
        return {"key": self.key, "value": value, "step": self.step, "at": isoformat(self.at)}


@dataclass(frozen=True)
class OutputRecord:
    """One saved output of a step run.

    Attributes:
        name: Output name (``"output"``, or ``"output_0"``... for several outputs).
        hash: Content hash of the artifact.
        materializer: Name of the materializer that wrote it.
        materializer_version: That materializer's format version.
        type_name: Qualified type of the value, e.g. ``"pandas.DataFrame"``.
        size: Artifact size in bytes.
        meta: The materializer's JSON metadata needed to load the value.
    """

    name: str
    hash: str
    materializer: str
    materializer_version: int
    type_name: str
    size: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TreeMetric:
    """The latest value of one metric of a run tree (a pipeline run and its steps).

    Attributes:
        key: The key in the tree: the logged key, or ``"<step>.<key>"`` when several steps
            logged it (see :meth:`~conveyor.tracking.RunTracker.run_tree_metrics`).
        name: The key as logged.
        value: The last value logged (NaN and infinities as logged).
        step: The metric's step (epoch, iteration) of that value, ``None`` if not given.
        run_id: The run that logged it (for a cached step, the run whose work it reused).
        source: The step's name, or ``None`` for a value logged on the run itself.
    """

    key: str
    name: str
    value: float
    step: int | None
    run_id: str
    source: str | None

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON dict: NaN and infinities become ``None``."""
        value = self.value if math.isfinite(self.value) else None
        return {
            "key": self.key,
            "name": self.name,
            "value": value,
            "step": self.step,
            "run_id": self.run_id,
            "source": self.source,
        }
