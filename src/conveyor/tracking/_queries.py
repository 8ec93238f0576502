"""Read-side of the tracker: finding runs, their metrics and outputs."""

from __future__ import annotations

import builtins
import re
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from conveyor.tracking._records import (
    AmbiguousRunError,
    MetricFilter,
    MetricPoint,
    OutputRecord,
    Run,
    RunNotFoundError,
    RunPage,
    StepNotFoundError,
    TreeMetric,
)
from conveyor.tracking._tree import Source, name_keys, tree_sources

if TYPE_CHECKING:
    from conveyor.artifacts import ArtifactStore
    from conveyor.tracking._base import BaseRunRecords
    from conveyor.tracking._buffer import MetricBuffer

#: Shortest id prefix accepted by :meth:`RunQueries.get` (like git's short hashes).
MIN_PREFIX = 6
#: Children read per call when gathering the steps of a page of runs.
_CHILDREN_PAGE = 5_000
_ID_CHARS = re.compile(r"^[0-9a-f]+$")


def _natural(name: str) -> list[int | str]:
    # output_2 before output_10
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class RunQueries:
    """Lookups shared by :class:`~conveyor.tracking.RunTracker`."""

    _records: BaseRunRecords
    _artifacts: ArtifactStore
    _buffer: MetricBuffer

    def reap_stale(self, timeout_s: float | None = None) -> list[str]:  # pragma: no cover
        raise NotImplementedError

    def _settle(self, run_id: str | None = None) -> None:
        """Write runs kept in memory before a read (``run_id``'s, or all); see RunTracker."""

    def get(self, run_id: str) -> Run:
        """The run with this id, or the only run whose id starts with it (>= 6 characters).

        Raises:
            RunNotFoundError: no run matches (or the prefix is too short).
            AmbiguousRunError: the prefix matches several runs; they are listed.
        """
        text = run_id.strip().lower()
        self._settle(text)
        try:
            return self._records.get_run(text)
        except RunNotFoundError:
            pass
        matches: builtins.list[Run] = []
        if len(text) >= MIN_PREFIX and _ID_CHARS.match(text):
            self._settle()
            matches = self._records.runs_with_prefix(text, limit=11)
        if len(matches) == 1:
            return matches[0]
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
        top_level: bool = False,
        offset: int = 0,
    ) -> list[Run]:
        """Runs matching every given filter, newest first (stale runs are reaped first).

        Args:
            kind: Only runs of this kind.
            parent_id: Only direct children of this run.
            status: Only runs with this status.
            limit: At most this many runs (``None``: all of them).
            pipeline_ref: Only runs of this pipeline (``"module:attr"``).
            top_level: Only runs without a parent (no steps or trials).
            offset: Matching runs to skip, newest first: the next page starts at
                ``offset + limit``.

        Returns:
            The runs, newest first (ties by id).
        """
        self.reap_stale()
        self._settle()
        return self._records.list_runs(
            kind=kind,
            parent_id=parent_id,
            status=status,
            pipeline_ref=pipeline_ref,
            limit=limit,
            top_level=top_level,
            offset=offset,
        )

    def search(
        self,
        *,
        where: Sequence[MetricFilter] = (),
        sort: str = "started_at",
        descending: bool = True,
        kinds: Collection[str] | None = None,
        status: str | None = None,
        pipeline_ref: str | None = None,
        top_level: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> RunPage:
        """One page of the runs matching every filter, in SQL (stale runs are reaped first).

        Args:
            where: Only runs whose metrics pass every filter (see
                :class:`~conveyor.tracking.MetricFilter`: the value last logged under the
                key by the run or one of its steps).
            sort: ``"started_at"``, ``"name"``, ``"status"``, ``"duration"``,
                ``"metric:<key>"`` or ``"param:<key>"`` (see
                :meth:`~conveyor.tracking.BaseRunRecords.search_runs`).
            descending: Largest (newest) first.
            kinds: Only runs of these kinds.
            status: Only runs with this status.
            pipeline_ref: Only runs of this pipeline (``"module:attr"``).
            top_level: Only runs without a parent (pipelines, studies, plain runs).
            offset: Matching runs to skip.
            limit: The most runs returned.

        Returns:
            The page and how many runs match.

        Example:
            >>> from conveyor.tracking import parse_metric_filter  # doctest: +SKIP
            >>> page = ws.runs.search(where=[parse_metric_filter("rmse<0.5")])  # doctest: +SKIP
        """
        self.reap_stale()
        self._settle()
        self._buffer.flush()
        return self._records.search_runs(
            kinds=kinds,
            status=status,
            pipeline_ref=pipeline_ref,
            sort=sort,
            descending=descending,
            offset=offset,
            limit=limit,
            where=builtins.list(where),
            top_level=top_level,
        )

    def children(self, run_id: str) -> builtins.list[Run]:
        """The direct child runs (steps, trials) of a run, oldest first."""
        self._settle()
        return self._records.list_runs(parent_id=run_id, newest_first=False)

    def metrics(self, run_id: str, key: str | None = None) -> builtins.list[MetricPoint]:
        """Every value logged by a run (buffered ones included), in logged order."""
        self._settle(run_id)
        self._buffer.flush(run_id)
        return self._records.metrics(run_id, key)

    def latest_metrics(self, run_id: str) -> dict[str, float]:
        """The last value logged for each metric key of a run, keys sorted."""
        self._buffer.flush(run_id)
        latest = self._records.latest_metrics([run_id])[run_id]
        return {key: point.value for key, point in sorted(latest.items())}

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
        return _named(sources, self._latest_points(sources))

    def run_tree_metrics_many(self, runs: Iterable[Run | str]) -> dict[str, dict[str, TreeMetric]]:
        """:meth:`run_tree_metrics` of several runs at once, in a fixed number of reads.

        What ``conveyor runs list`` shows for a page: the steps of every run are read in
        one query (per 5,000 steps) and the latest values of every run and step in one
        more, however many runs the page holds.

        Args:
            runs: The runs (or their exact ids: each id costs one lookup).

        Returns:
            ``{run id: {tree key: TreeMetric}}``, one entry per run given (in the order
            given), each as :meth:`run_tree_metrics` returns it.

        Raises:
            RunNotFoundError: an id names no run.

        Example:
            >>> page = ws.runs.search(top_level=True, limit=50)  # doctest: +SKIP
            >>> metrics = ws.runs.run_tree_metrics_many(page.runs)  # doctest: +SKIP
        """
        self._settle()
        given = [run if isinstance(run, Run) else self.get(run) for run in runs]
        roots = builtins.list({run.id: run for run in given}.values())
        if not roots:
            return {}
        children: dict[str, builtins.list[Run]] = {run.id: [] for run in roots}
        offset = 0
        while True:
            page = self._records.search_runs(
                kinds=["step"],
                parent_ids=builtins.list(children),
                sort="started_at",
                descending=False,
                offset=offset,
                limit=_CHILDREN_PAGE,
            )
            for child in page.runs:
                children[str(child.parent_id)].append(child)
            offset += len(page.runs)
            if len(page.runs) < _CHILDREN_PAGE:
                break
        trees = {run.id: tree_sources(run, children[run.id]) for run in roots}
        ids = {source.run_id for sources in trees.values() for source in sources}
        for source_id in ids:
            self._buffer.flush(source_id)
        latest = self._records.latest_metrics(ids)
        found: dict[str, dict[str, TreeMetric]] = {}
        for run_id, sources in trees.items():
            points = {
                s: {key: (p.value, p.step) for key, p in sorted(latest[s.run_id].items())}
                for s in sources
            }
            found[run_id] = _named(sources, points)
        return found

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
        latest = self._records.latest_metrics(ids)
        return {
            s: {key: (p.value, p.step) for key, p in sorted(latest[s.run_id].items())}
            for s in sources
        }

    def outputs(self, run_id: str) -> builtins.list[OutputRecord]:
        """The recorded outputs of a step run, in output order."""
        records = self._records.outputs(run_id)
        return sorted(records, key=lambda record: _natural(record.name))

    def find_cached(self, cache_key: str) -> Run | None:
        """The newest completed run with this cache key whose outputs all still exist.

        Runs with a deleted output are skipped, so deleting a cached artifact makes the step
        run again instead of failing when the output is loaded.
        """
        found = self.find_cached_outputs(cache_key)
        return None if found is None else found[0]

    def find_cached_outputs(self, cache_key: str) -> tuple[Run, builtins.list[OutputRecord]] | None:
        """:meth:`find_cached`'s run and its outputs (read once for both)."""
        for run, outputs in self._records.cached_candidates(cache_key):
            if all(self._artifacts.exists(out.hash) for out in outputs):
                return run, sorted(outputs, key=lambda record: _natural(record.name))
        return None


def _named(
    sources: builtins.list[Source], latest: dict[Source, dict[str, tuple[float, int | None]]]
) -> dict[str, TreeMetric]:
    """The values of a tree under their tree keys (see ``run_tree_metrics``), keys sorted."""
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
