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
    StepNotFoundError,
    TreeMetric,
)
from conveyor.tracking._tree import Source, name_keys, tree_sources

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

    def run_tree_metrics(self, run_id: str, *, step: str | None = None) -> dict[str, TreeMetric]:
        """The latest value of every metric of a run and its steps, by tree key.

        A pipeline run logs few metrics itself; its steps log the rest. This gathers them
        under one rule: a key logged by exactly one step keeps its plain name
        (``accuracy``); a key logged by several steps is qualified by each step's name
        (``train.accuracy`` and ``evaluate.accuracy``); a key the run logged itself keeps
        its plain name and its steps' values of it are qualified. A cached step contributes
        the values of the run whose work it reused; a step run several times in one
        pipeline run (resumed) counts once, its newest finished run. Only step children
        count: a tuning study's trials stay with the study. For a step or trial run this is
        its own values (or, cached, its original's).

        Args:
            run_id: The run (id or unique prefix).
            step: Only this step's values, under their plain keys.

        Returns:
            ``{tree key: TreeMetric}``, keys sorted; each entry names its value, its metric
            step, the run that logged it and the step (``source``).

        Raises:
            RunNotFoundError: no run matches ``run_id``.
            StepNotFoundError: ``step`` names no step of the run.

        Example:
            >>> metrics = ws.runs.run_tree_metrics(result.run_id)  # doctest: +SKIP
            >>> metrics["accuracy"].value, metrics["accuracy"].source  # doctest: +SKIP
            (0.93, 'evaluate')
        """
        sources = self._tree(run_id, step)
        latest = self._latest_points(sources)
        names = name_keys({s: builtins.list(latest[s]) for s in sources})
        found = {
            names[source, key]: TreeMetric(
                key=names[source, key],
                name=key,
                value=value,
                step=metric_step,
                run_id=source.run_id,
                source=source.name,
            )
            for source in sources
            for key, (value, metric_step) in latest[source].items()
        }
        return dict(sorted(found.items()))

    def run_tree_history(
        self, run_id: str, *, step: str | None = None
    ) -> dict[str, builtins.list[MetricPoint]]:
        """Every value logged in a run's tree, by the keys of :meth:`run_tree_metrics`.

        Args:
            run_id: The run (id or unique prefix).
            step: Only this step's values.

        Returns:
            ``{tree key: [MetricPoint, ...]}`` in logged order, keys sorted.

        Raises:
            RunNotFoundError: no run matches ``run_id``.
            StepNotFoundError: ``step`` names no step of the run.
        """
        sources = self._tree(run_id, step)
        points = {s: self.metrics(s.run_id) for s in sources}
        names = name_keys({s: sorted({p.key for p in points[s]}) for s in sources})
        history: dict[str, builtins.list[MetricPoint]] = {}
        for source in sources:
            for point in points[source]:
                history.setdefault(names[source, point.key], []).append(point)
        return dict(sorted(history.items()))

    def _tree(self, run_id: str, step: str | None) -> builtins.list[Source]:
        run = self.get(run_id)
        children = self.children(run.id)
        sources = tree_sources(run, children, step)
        if step is not None and not sources:
            steps = sorted({c.name for c in children if c.kind == "step"})
            raise StepNotFoundError(
                f"Run {run.short_id} ({run.kind} {run.name}) has no step {step!r}; "
                f"steps: {', '.join(steps) or 'none'}.",
                hint=f"Name one of the listed steps (see `conveyor runs show {run.short_id}`).",
                run_id=run.id,
                step=step,
            )
        return sources

    def _latest_points(
        self, sources: builtins.list[Source]
    ) -> dict[Source, dict[str, tuple[float, int | None]]]:
        ids = {s.run_id for s in sources}
        for source_id in ids:
            self._buffer.flush(source_id)
        last = (
            select(func.max(RunMetricRow.id))
            .where(RunMetricRow.run_id.in_(ids))
            .group_by(RunMetricRow.run_id, RunMetricRow.key)
        )
        query = select(
            RunMetricRow.run_id, RunMetricRow.key, RunMetricRow.value, RunMetricRow.step
        ).where(RunMetricRow.id.in_(last))
        by_run: dict[str, dict[str, tuple[float, int | None]]] = {i: {} for i in ids}
        with self._store.read() as session:
            for rid, key, value, metric_step in session.execute(query):
                by_run[rid][key] = (math.nan if value is None else value, metric_step)
        return {s: dict(sorted(by_run[s.run_id].items())) for s in sources}

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
