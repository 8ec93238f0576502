"""Read-side of the tracker: finding runs, their metrics and outputs."""

from __future__ import annotations

import builtins
import math
import re
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from conveyor.store import RunMetricRow, RunOutputRow, RunRow
from conveyor.tracking._records import (
    AmbiguousRunError,
    MetricPoint,
    OutputRecord,
    Run,
    RunNotFoundError,
)

if TYPE_CHECKING:
    from conveyor.artifacts import ArtifactStore
    from conveyor.store import MetadataStore
    from conveyor.tracking._buffer import MetricBuffer

#: Shortest id prefix accepted by :meth:`RunQueries.get` (like git's short hashes).
MIN_PREFIX = 6
_ID_CHARS = re.compile(r"^[0-9a-f]+$")


def _natural(name: str) -> list[int | str]:
    # output_2 before output_10
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class RunQueries:
    """Lookups shared by :class:`~conveyor.tracking.RunTracker`."""

    _store: MetadataStore
    _artifacts: ArtifactStore
    _buffer: MetricBuffer

    def reap_stale(self, timeout_s: float | None = None) -> list[str]:  # pragma: no cover
        raise NotImplementedError

    def get(self, run_id: str) -> Run:
        """The run with this id, or the only run whose id starts with it (>= 6 characters).

        Raises:
            RunNotFoundError: no run matches (or the prefix is too short).
            AmbiguousRunError: the prefix matches several runs; they are listed.
        """
        text = run_id.strip().lower()
        with self._store.read() as session:
            row = session.get(RunRow, text)
            if row is not None:
                return Run.from_row(row)
            matches: list[RunRow] = []
            if len(text) >= MIN_PREFIX and _ID_CHARS.match(text):
                query = select(RunRow).where(RunRow.id.startswith(text)).limit(11)
                matches = list(session.scalars(query))
        if len(matches) == 1:
            return Run.from_row(matches[0])
        if len(matches) > 1:
            listed = ", ".join(f"{m.id[:12]} ({m.kind} {m.name})" for m in matches[:10])
            raise AmbiguousRunError(
                f"Run id prefix {run_id!r} matches {len(matches)}"
                f"{'+' if len(matches) > 10 else ''} runs: {listed}.",
                hint="Type more characters of the id.",
                run_id=run_id,
                candidates=[m.id for m in matches],
            )
        short = f" (give at least {MIN_PREFIX} characters)" if len(text) < MIN_PREFIX else ""
        raise RunNotFoundError(
            f"No run has id {run_id!r}{short}.",
            hint="List runs and their ids with `conveyor runs list`.",
            run_id=run_id,
        )

    def list(
        self,
        *,
        kind: str | None = None,
        parent_id: str | None = None,
        status: str | None = None,
        limit: int | None = 50,
        pipeline_ref: str | None = None,
    ) -> list[Run]:
        """Runs matching every given filter, newest first (stale runs are reaped first)."""
        self.reap_stale()
        query = select(RunRow)
        if kind is not None:
            query = query.where(RunRow.kind == kind)
        if parent_id is not None:
            query = query.where(RunRow.parent_id == parent_id)
        if status is not None:
            query = query.where(RunRow.status == status)
        if pipeline_ref is not None:
            query = query.where(RunRow.pipeline_ref == pipeline_ref)
        query = query.order_by(RunRow.started_at.desc(), RunRow.id)
        if limit is not None:
            query = query.limit(max(limit, 0))
        with self._store.read() as session:
            return [Run.from_row(row) for row in session.scalars(query)]

    def children(self, run_id: str) -> builtins.list[Run]:
        """The direct child runs (steps, trials) of a run, oldest first."""
        query = select(RunRow).where(RunRow.parent_id == run_id)
        with self._store.read() as session:
            rows = session.scalars(query.order_by(RunRow.started_at, RunRow.id))
            return [Run.from_row(row) for row in rows]

    def metrics(self, run_id: str, key: str | None = None) -> builtins.list[MetricPoint]:
        """Every value logged by a run (buffered ones included), in logged order."""
        self._buffer.flush(run_id)
        query = select(RunMetricRow).where(RunMetricRow.run_id == run_id)
        if key is not None:
            query = query.where(RunMetricRow.key == key)
        with self._store.read() as session:
            rows = session.scalars(query.order_by(RunMetricRow.id))
            return [
                MetricPoint(row.key, math.nan if row.value is None else row.value, row.step, row.at)
                for row in rows
            ]

    def latest_metrics(self, run_id: str) -> dict[str, float]:
        """The last value logged for each metric key of a run, keys sorted."""
        self._buffer.flush(run_id)
        last = (
            select(func.max(RunMetricRow.id))
            .where(RunMetricRow.run_id == run_id)
            .group_by(RunMetricRow.key)
        )
        query = select(RunMetricRow.key, RunMetricRow.value).where(RunMetricRow.id.in_(last))
        with self._store.read() as session:
            rows = session.execute(query).all()
        return {key: math.nan if value is None else value for key, value in sorted(rows)}

    def outputs(self, run_id: str) -> builtins.list[OutputRecord]:
        """The recorded outputs of a step run, in output order."""
        query = select(RunOutputRow).where(RunOutputRow.run_id == run_id)
        with self._store.read() as session:
            records = [
                OutputRecord(
                    name=row.name,
                    hash=row.hash,
                    materializer=row.materializer,
                    materializer_version=row.materializer_version,
                    type_name=row.type_name,
                    size=row.size,
                    meta=dict(row.meta),
                )
                for row in session.scalars(query)
            ]
        return sorted(records, key=lambda record: _natural(record.name))

    def find_cached(self, cache_key: str) -> Run | None:
        """The newest completed run with this cache key whose outputs all still exist.

        Runs with a deleted output are skipped, so deleting a cached artifact makes the step
        run again instead of failing when the output is loaded.
        """
        query = (
            select(RunRow)
            .where(RunRow.cache_key == cache_key, RunRow.status == "completed")
            .order_by(RunRow.started_at.desc(), RunRow.id)
        )
        with self._store.read() as session:
            candidates = [Run.from_row(row) for row in session.scalars(query)]
        for run in candidates:
            if all(self._artifacts.exists(out.hash) for out in self.outputs(run.id)):
                return run
        return None
