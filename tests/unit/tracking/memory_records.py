"""Run records kept in memory: a second backend behind ``BaseRunRecords``, used by tests.

It proves the interface carries everything the tracker needs without SQL, and runs the
shipped contract suite as any third-party backend would.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from conveyor.core import Actor, utcnow
from conveyor.store import GENESIS_HASH, AuditEvent
from conveyor.tracking import (
    BaseRunRecords,
    MetricFilter,
    MetricPoint,
    MetricValue,
    OutputRecord,
    Run,
    RunNotFoundError,
    RunPage,
    search_run_list,
    stale_runs,
)


class InMemoryRunRecords(BaseRunRecords):
    """Runs and what they log in dicts, every write under one lock; audit events in a list."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._metrics: dict[str, list[MetricPoint]] = {}
        self._datasets: dict[str, dict[str, dict[str, Any]]] = {}
        self._outputs: dict[str, dict[str, OutputRecord]] = {}
        self._artifacts: dict[str, dict[str, dict[str, Any]]] = {}
        self.events: list[AuditEvent] = []

    def _audit(self, actor: Actor, action: str, target: str, details: dict[str, Any]) -> None:
        self.events.append(
            AuditEvent(
                seq=len(self.events) + 1,
                at=utcnow(),
                actor=actor.name,
                action=action,
                target=target,
                details=copy.deepcopy(details),
                prev_hash=GENESIS_HASH,
                hash=GENESIS_HASH,
            )
        )

    def _get(self, run_id: str) -> Run:
        try:
            return self._runs[run_id]
        except KeyError:
            raise RunNotFoundError(
                f"No run has id {run_id!r}.", hint="List runs.", run_id=run_id
            ) from None

    def create_run(self, actor: Actor, run: Run) -> None:
        with self._lock:
            if run.parent_id is not None:
                self._get(run.parent_id)
            self._runs[run.id] = copy.deepcopy(run)
            details = {
                "name": run.name,
                "kind": run.kind,
                "parent_id": run.parent_id,
                "status": run.status,
            }
            self._audit(actor, "run.start", f"run:{run.id}", details)

    def get_run(self, run_id: str) -> Run:
        with self._lock:
            return copy.deepcopy(self._get(run_id))

    def runs_with_prefix(self, prefix: str, limit: int) -> list[Run]:
        with self._lock:
            found = sorted(i for i in self._runs if i.startswith(prefix))
            return [copy.deepcopy(self._runs[i]) for i in found[: max(limit, 0)]]

    def list_runs(
        self,
        *,
        kind: str | None = None,
        parent_id: str | None = None,
        status: str | None = None,
        pipeline_ref: str | None = None,
        cache_key: str | None = None,
        limit: int | None = None,
        newest_first: bool = True,
        top_level: bool = False,
        offset: int = 0,
    ) -> list[Run]:
        wanted = {
            "kind": kind,
            "parent_id": parent_id,
            "status": status,
            "pipeline_ref": pipeline_ref,
            "cache_key": cache_key,
        }
        with self._lock:
            runs = [
                r
                for r in self._runs.values()
                if all(v is None or getattr(r, k) == v for k, v in wanted.items())
                and not (top_level and r.parent_id is not None)
            ]
        runs.sort(key=lambda r: r.id)
        runs.sort(key=lambda r: r.started_at, reverse=newest_first)
        runs = runs[max(offset, 0) :]
        return copy.deepcopy(runs if limit is None else runs[: max(limit, 0)])

    def _change(
        self, actor: Actor, action: str, run_id: str, details: dict[str, Any], **fields: Any
    ) -> Run:
        run = replace(self._get(run_id), **fields)
        self._runs[run_id] = run
        self._audit(actor, action, f"run:{run_id}", details)
        return copy.deepcopy(run)

    def finish_run(
        self,
        actor: Actor,
        run_id: str,
        *,
        status: str,
        ended_at: datetime,
        error: str | None = None,
        wall_s: float | None = None,
        cpu_s: float | None = None,
        cached_from: str | None = None,
        tags: Mapping[str, Any] | None = None,
        outputs: Sequence[OutputRecord] = (),
        peak_rss_mb: float | None = None,
    ) -> Run:
        details: dict[str, Any] = {"status": status, "cached_from": cached_from}
        if tags:
            details["tags"] = dict(tags)
        if outputs:
            details["outputs"] = {out.name: out.hash for out in outputs}
        with self._lock:
            run = self._get(run_id)
            for out in outputs:
                self._outputs.setdefault(run_id, {})[out.name] = copy.deepcopy(out)
            return self._change(
                actor,
                "run.finish",
                run_id,
                details,
                status=status,
                ended_at=ended_at,
                error=error,
                wall_s=wall_s,
                cpu_s=cpu_s,
                peak_rss_mb=peak_rss_mb,
                cached_from=cached_from,
                tags={**run.tags, **(tags or {})},
            )

    def resume_run(self, actor: Actor, run_id: str, *, at: datetime, host: str, pid: int) -> Run:
        with self._lock:
            return self._change(
                actor,
                "run.resume",
                run_id,
                {},
                status="running",
                error=None,
                ended_at=None,
                heartbeat_at=at,
                host=host,
                pid=pid,
            )

    def heartbeat(self, run_id: str, at: datetime) -> None:
        with self._lock:
            if run_id in self._runs:
                self._runs[run_id] = replace(self._runs[run_id], heartbeat_at=at)

    def reap_stale(self, actor: Actor, *, cutoff: datetime, at: datetime) -> list[str]:
        with self._lock:
            live = [r for r in self._runs.values() if r.status in ("running", "pending")]
            stale = stale_runs(live, cutoff)
            for run_id, error in stale.items():
                self._runs[run_id] = replace(
                    self._runs[run_id], status="failed", ended_at=at, error=error
                )
            if stale:
                self._audit(actor, "run.reap", "runs", {"runs": list(stale)})
            return list(stale)

    def merge_params(self, actor: Actor, run_id: str, params: Mapping[str, Any]) -> Run:
        with self._lock:
            merged = {**self._get(run_id).params, **params}
            details = {"keys": sorted(params)}
            return self._change(actor, "run.params", run_id, details, params=merged)

    def log_metrics(self, actor: Actor, run_id: str, batch: Sequence[MetricValue]) -> None:
        with self._lock:
            self._get(run_id)
            points = [MetricPoint(k, v, s, a) for k, v, s, a in batch]
            self._metrics.setdefault(run_id, []).extend(points)
            self._audit(actor, "run.metrics", f"run:{run_id}", {"count": len(points)})

    def metrics(self, run_id: str, key: str | None = None) -> list[MetricPoint]:
        with self._lock:
            points = self._metrics.get(run_id, [])
            return [p for p in points if key is None or p.key == key]

    def latest_metrics(self, run_ids: Collection[str]) -> dict[str, dict[str, MetricPoint]]:
        with self._lock:
            return {run_id: {p.key: p for p in self._metrics.get(run_id, [])} for run_id in run_ids}

    def add_dataset(
        self, actor: Actor, run_id: str, *, name: str, version: int, content_hash: str
    ) -> None:
        with self._lock:
            self._get(run_id)
            entry = {"name": name, "version": version, "content_hash": content_hash}
            self._datasets.setdefault(run_id, {})[name] = entry
            self._audit(actor, "run.dataset", f"run:{run_id}", {"dataset": f"{name}@{version}"})

    def datasets(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            kept = self._datasets.get(run_id, {})
            return [dict(kept[name]) for name in sorted(kept)]

    def add_outputs(self, actor: Actor, run_id: str, outputs: Sequence[OutputRecord]) -> None:
        with self._lock:
            self._get(run_id)
            for out in outputs:
                self._outputs.setdefault(run_id, {})[out.name] = copy.deepcopy(out)
            details = {"outputs": {out.name: out.hash for out in outputs}}
            self._audit(actor, "run.outputs", f"run:{run_id}", details)

    def outputs(self, run_id: str) -> list[OutputRecord]:
        with self._lock:
            return copy.deepcopy(list(self._outputs.get(run_id, {}).values()))

    def add_artifact(
        self, actor: Actor, run_id: str, *, name: str, hash: str, size: int, media_type: str
    ) -> None:
        with self._lock:
            self._get(run_id)
            entry = {"name": name, "hash": hash, "size": size, "media_type": media_type}
            self._artifacts.setdefault(run_id, {})[name] = entry
            self._audit(actor, "run.artifact", f"run:{run_id}", {"name": name, "hash": hash})

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            kept = self._artifacts.get(run_id, {})
            return [dict(kept[name]) for name in sorted(kept)]

    def search_runs(
        self,
        *,
        kinds: Collection[str] | None = None,
        status: str | None = None,
        name_contains: str | None = None,
        pipeline_ref: str | None = None,
        parent_ids: Collection[str] | None = None,
        sort: str = "started_at",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
        where: Sequence[MetricFilter] = (),
        top_level: bool = False,
    ) -> RunPage:
        with self._lock:
            runs = list(self._runs.values())
            metrics = {run_id: list(points) for run_id, points in self._metrics.items()}
        return search_run_list(
            runs,
            metrics,
            kinds=kinds,
            status=status,
            name_contains=name_contains,
            pipeline_ref=pipeline_ref,
            parent_ids=parent_ids,
            sort=sort,
            descending=descending,
            offset=offset,
            limit=limit,
            where=where,
            top_level=top_level,
        )

    def dataset_runs(
        self, name: str, versions: Collection[int], *, limit: int = 20
    ) -> dict[int, list[Run]]:
        with self._lock:
            found: dict[int, list[Run]] = {version: [] for version in sorted(set(versions))}
            for run_id, used in self._datasets.items():
                record = used.get(name)
                if record is not None and record["version"] in found:
                    found[record["version"]].append(self._runs[run_id])
        return {
            version: sorted(runs, key=lambda r: (-r.started_at.timestamp(), r.id))[: max(limit, 0)]
            for version, runs in found.items()
        }
