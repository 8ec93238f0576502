"""What the tracker returns: runs, metric points, output records, and its errors."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from conveyor.core import isoformat
from conveyor.errors import ConveyorError

#: Every kind of run the tracker records.
RUN_KINDS = frozenset({"pipeline", "step", "tune", "trial"})
#: Every status a run may have.
RUN_STATUSES = frozenset({"running", "completed", "failed", "cached", "pending", "skipped"})
#: The plain orders :meth:`~conveyor.tracking.BaseRunRecords.search_runs` takes (besides
#: ``"metric:<key>"`` and ``"param:<key>"``).
RUN_SORTS = ("started_at", "name", "status", "duration")


#: The comparisons a :class:`MetricFilter` takes.
METRIC_FILTER_OPS = ("<", "<=", ">", ">=", "==", "!=")

MetricFilterOp = Literal["<", "<=", ">", ">=", "==", "!="]


class InvalidMetricFilterError(ConveyorError, ValueError):
    """A metric filter (``rmse<0.5``) is not a metric key, a comparison and a finite number."""

    code = "invalid_metric_filter"


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
class MetricFilter:
    """Keep the runs whose value of metric ``key`` compares to ``value`` with ``op``.

    The value compared is the one :meth:`~conveyor.tracking.BaseRunRecords.search_runs`
    sorts by for ``"metric:<key>"``: the value last logged under ``key`` by the run or one
    of its step runs (a cached step counts with the run it reused). A run without a value
    of ``key``, or whose value is NaN, matches no filter (``!=`` included).

    Attributes:
        key: The metric key as logged (``"rmse"``).
        op: One of :data:`METRIC_FILTER_OPS`.
        value: A finite number.

    Raises:
        InvalidMetricFilterError: an empty key, an unknown comparison, or a value that is
            not a finite number.
    """

    key: str
    op: MetricFilterOp
    value: float

    def __post_init__(self) -> None:
        if type(self.key) is not str or not self.key:
            raise InvalidMetricFilterError(
                f"Metric filter key {self.key!r} is not a non-empty string.",
                hint="Name the metric as it was logged, e.g. MetricFilter('rmse', '<', 0.5).",
                key=repr(self.key),
            )
        if self.op not in METRIC_FILTER_OPS:
            raise InvalidMetricFilterError(
                f"Metric filter comparison {self.op!r} is not one of "
                f"{' '.join(METRIC_FILTER_OPS)}.",
                hint="Compare with <, <=, >, >=, == or !=.",
                op=repr(self.op),
            )
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidMetricFilterError(
                f"Metric filter value {value!r} for {self.key!r} is not a number.",
                hint="Compare with a finite number, e.g. 0.5 or 1e-3.",
                value=repr(value),
            )
        if not math.isfinite(value):
            raise InvalidMetricFilterError(
                f"Metric filter value {value!r} for {self.key!r} is not finite.",
                hint="Compare with a finite number; NaN matches nothing and infinities "
                "are out of range.",
                value=repr(value),
            )
        object.__setattr__(self, "value", float(value))

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value:g}"

    def matches(self, value: float | None) -> bool:
        """Whether a run whose value of the key is ``value`` (``None``: none) is kept."""
        if value is None or math.isnan(value):
            return False
        return bool(_COMPARE[self.op](value, self.value))


_COMPARE = {
    "<": float.__lt__,
    "<=": float.__le__,
    ">": float.__gt__,
    ">=": float.__ge__,
    "==": float.__eq__,
    "!=": float.__ne__,
}

#: ``KEY OP NUMBER``: an ASCII key (letters, digits, ``_ . - /``), a comparison, a plain
#: decimal number.
_FILTER = re.compile(
    r"(?P<key>[A-Za-z0-9_][A-Za-z0-9_./-]*)[ ]*(?P<op><=|>=|==|!=|<|>)[ ]*"
    r"(?P<value>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)",
    re.ASCII,
)
_MAX_FILTER = 200


def parse_metric_filter(text: str) -> MetricFilter:
    """``"rmse<0.5"`` -> ``MetricFilter("rmse", "<", 0.5)``, strictly.

    Accepted: a metric key of ASCII letters, digits and ``_ . - /`` (starting with a
    letter, digit or ``_``), one of ``< <= > >= == !=``, and a finite decimal number
    (``0.5``, ``-3``, ``1e-3``); spaces around the comparison are allowed.

    Raises:
        InvalidMetricFilterError: anything else (named in the message).
    """
    shown = text[:_MAX_FILTER]
    hint = (
        "Write KEY OP NUMBER, e.g. 'rmse<0.5' or 'accuracy>=0.9': the key in ASCII letters, "
        "digits and _ . - /, OP one of < <= > >= == !=, NUMBER a finite decimal number."
    )
    match = _FILTER.fullmatch(text.strip(" ")) if len(text) <= _MAX_FILTER else None
    if match is None:
        raise InvalidMetricFilterError(
            f"Metric filter {shown!r} is not KEY OP NUMBER.", hint=hint, expression=shown
        )
    value = float(match["value"])
    if not math.isfinite(value):
        raise InvalidMetricFilterError(
            f"Metric filter {shown!r} compares with {match['value']!r}, which is out of range.",
            hint=hint,
            expression=shown,
        )
    op: Any = match["op"]
    return MetricFilter(match["key"], op, value)


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
