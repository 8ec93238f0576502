"""Searching the SQL run records: the queries that filter, order and page runs (by a
column, by a metric of the run tree, by a parameter) and that find the runs which read
given dataset versions; with the conversion of rows into the tracker's records, which
every read of :class:`~conveyor.tracking._sql.SqlRunRecords` shares."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, func, literal, or_, select
from sqlalchemy.orm import aliased

from conveyor.store import MetadataStore
from conveyor.store._tracking_models import RunDatasetRow, RunMetricRow, RunOutputRow, RunRow
from conveyor.tracking._records import (
    MetricFilter,
    MetricPoint,
    OutputRecord,
    Run,
    RunPage,
    parse_run_sort,
)

RUN_FIELDS = tuple(f.name for f in fields(Run))


def search_runs(
    store: MetadataStore,
    *,
    kinds: Collection[str] | None,
    status: str | None,
    name_contains: str | None,
    pipeline_ref: str | None,
    parent_ids: Collection[str] | None,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
    where: Sequence[MetricFilter],
    top_level: bool,
) -> RunPage:
    """The page of runs ``SqlRunRecords.search_runs`` returns (see ``BaseRunRecords``)."""
    by, key = parse_run_sort(sort)
    offset, limit = max(offset, 0), max(limit, 0)
    filters = [_checked(test) for test in where]
    conditions: list[ColumnElement[bool]] = []
    if kinds is not None:
        conditions.append(RunRow.kind.in_(list(kinds)))
    if status is not None:
        conditions.append(RunRow.status == status)
    if name_contains:
        conditions.append(func.lower(RunRow.name).contains(name_contains.lower(), autoescape=True))
    if pipeline_ref is not None:
        conditions.append(RunRow.pipeline_ref == pipeline_ref)
    if parent_ids is not None:
        conditions.append(RunRow.parent_id.in_(list(parent_ids)))
    if top_level:
        conditions.append(RunRow.parent_id.is_(None))
    # The value a filter compares is the one "metric:<key>" sorts by, looked up per
    # run (a few index lookups each). A set-based form (the key's values grouped by the
    # run they count for) was no faster on SQLite and, on PostgreSQL, 2x faster at
    # 10,000 runs with table statistics but 70x slower without them (a fresh bulk
    # load): this plan does not depend on them. NULL (no value, or NaN) passes nothing.
    dialect = store.dialect
    conditions.extend(_compare(_tree_metric(dialect, test.key), test) for test in filters)
    keys: list[Any]
    if by == "metric":
        keys = [_tree_metric(store.dialect, str(key))]
    elif by == "param":
        keys = _param_keys(store.dialect, str(key))
    else:
        plain: dict[str, Any] = {
            "started_at": RunRow.started_at,
            "name": RunRow.name,
            "status": RunRow.status,
            "duration": RunRow.wall_s,
        }
        keys = [plain[by]]
    # NULLS LAST (SQLite 3.30+): each key is computed once per run, however costly.
    order: list[Any] = [(k.desc() if descending else k.asc()).nulls_last() for k in keys]
    if by != "started_at":
        order.append(RunRow.started_at.desc() if descending else RunRow.started_at)
    order.append(RunRow.id)
    # Order and page the ids alone (with how many match, counted in the same pass:
    # the filters are evaluated once), then load the page's rows.
    page = (
        select(RunRow.id, func.count().over())
        .where(*conditions)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )
    with store.read() as session:
        found = session.execute(page).all()
        ids = [run_id for run_id, _ in found]
        if found:
            total = int(found[0][1])
        else:  # an empty page (past the end, or limit 0) still says how many match
            count = select(func.count()).select_from(RunRow).where(*conditions)
            total = int(session.scalar(count) or 0)
        rows = {row.id: row for row in session.scalars(select(RunRow).where(RunRow.id.in_(ids)))}
        return RunPage([run_of(rows[run_id]) for run_id in ids], total, offset, limit)


def dataset_runs(
    store: MetadataStore, name: str, versions: Collection[int], *, limit: int
) -> dict[int, list[Run]]:
    """The runs ``SqlRunRecords.dataset_runs`` returns (see ``BaseRunRecords``)."""
    wanted = sorted(set(versions))
    found: dict[int, list[Run]] = {version: [] for version in wanted}
    if not wanted or limit <= 0:
        return found
    ranked = (
        select(
            RunDatasetRow.run_id,
            RunDatasetRow.version,
            func.row_number()
            .over(
                partition_by=RunDatasetRow.version,
                order_by=(RunRow.started_at.desc(), RunRow.id),
            )
            .label("rank"),
        )
        .join(RunRow, RunRow.id == RunDatasetRow.run_id)
        .where(RunDatasetRow.name == name, RunDatasetRow.version.in_(wanted))
        .subquery()
    )
    query = (
        select(RunRow, ranked.c.version)
        .join(ranked, ranked.c.run_id == RunRow.id)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.version, ranked.c.rank)
    )
    with store.read() as session:
        for row, version in session.execute(query):
            found[version].append(run_of(row))
    return found


def _tree_metric(dialect: str, key: str) -> Any:
    """The value of ``key`` last logged by the run of the enclosing query or its steps
    (a cached step's: the run it reused), as a correlated scalar subquery: a few index
    lookups per run, whatever the history holds."""
    child = aliased(RunRow)
    last: Any
    if dialect == "postgresql":
        # PostgreSQL runs ``run_id = runs.id OR run_id IN (correlated subquery)`` as a scan
        # of every value of ``key`` per run (quadratic); the run's own values and its
        # steps' are two index lookups, and GREATEST ignores the side without a value.
        own = (
            select(func.max(RunMetricRow.id))
            .where(RunMetricRow.run_id == RunRow.id, RunMetricRow.key == key)
            .correlate(RunRow)
            .scalar_subquery()
        )
        logged = aliased(RunMetricRow)
        from_steps = (
            select(func.max(logged.id))
            .join(child, logged.run_id == func.coalesce(child.cached_from, child.id))
            .where(child.parent_id == RunRow.id, child.kind == "step", logged.key == key)
            .correlate(RunRow)
            .scalar_subquery()
        )
        last = func.greatest(own, from_steps)
    else:
        steps = (
            select(func.coalesce(child.cached_from, child.id))
            .where(child.parent_id == RunRow.id, child.kind == "step")
            .correlate(RunRow)
        )
        last = (
            select(func.max(RunMetricRow.id))
            .where(
                RunMetricRow.key == key,
                or_(RunMetricRow.run_id == RunRow.id, RunMetricRow.run_id.in_(steps)),
            )
            .correlate(RunRow)
            .scalar_subquery()
        )
    metric = aliased(RunMetricRow)
    return select(metric.value).where(metric.id == last).correlate(RunRow).scalar_subquery()


def _checked(test: Any) -> MetricFilter:
    """A filter as the dataclass checks it (a caller may pass a look-alike)."""
    if isinstance(test, MetricFilter):
        return test
    return MetricFilter(test.key, test.op, test.value)


def _compare(value: Any, test: MetricFilter) -> ColumnElement[bool]:
    number = literal(test.value, Float)
    compared: dict[str, ColumnElement[bool]] = {
        "<": value < number,
        "<=": value <= number,
        ">": value > number,
        ">=": value >= number,
        "==": value == number,
        "!=": value != number,
    }
    return compared[test.op]


def _param_keys(dialect: str, key: str) -> list[ColumnElement[Any]]:
    """Order keys of parameter ``key``: its number (if it is one), then its JSON text."""
    if dialect == "postgresql":
        value = RunRow.params.op("->")(literal(key))
        text = RunRow.params.op("->>")(literal(key))
        number = case((func.json_typeof(value) == "number", cast(text, Float)), else_=None)
        return [number, text]
    path = literal('$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"')
    kind = func.json_type(RunRow.params, path)
    number = case((kind.in_(("integer", "real")), func.json_extract(RunRow.params, path)))
    return [number, func.json_extract(RunRow.params, path)]


def run_of(row: RunRow) -> Run:
    return Run(**{name: getattr(row, name) for name in RUN_FIELDS})


def output_of(row: RunOutputRow) -> OutputRecord:
    return OutputRecord(
        name=row.name,
        hash=row.hash,
        materializer=row.materializer,
        materializer_version=row.materializer_version,
        type_name=row.type_name,
        size=row.size,
        meta=dict(row.meta),
    )


def point_of(row: RunMetricRow) -> MetricPoint:
    return MetricPoint(row.key, math.nan if row.value is None else row.value, row.step, row.at)
