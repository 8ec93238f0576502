"""A window summarised partition by partition: in this process, in threads, or on Ray.

Every Parquet partition of a window is read and summarised on its own
(:func:`summarise_batch`, the unit of work of every executor) and the summaries are merged
as they arrive (:func:`summarise_window`); :mod:`._scaled` turns the merged summary into a
report. Memory is bounded by the partitions in flight: two per worker. Executors:
``local`` (one partition after another), ``threads`` (a thread pool; pyarrow and numpy
release the GIL in the heavy parts) and ``ray`` (one task per partition on the connected
Ray cluster, or on the one ``ray.init()`` finds or starts).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.monitoring._errors import MonitoringError
from conveyor.monitoring._parts import ColumnPart, ColumnPlan, WindowPart, summarise_partition

if TYPE_CHECKING:
    from conveyor.predictions import BasePredictionRecords
    from conveyor.predictions._window import Window

EXECUTORS = ("local", "threads", "ray")

Loader = Callable[[str], bytes]
Lookup = Callable[[list[str]], dict[str, Any]]


@dataclass(frozen=True)
class WindowJob:
    """What every partition task needs besides its partition (sent once to Ray).

    Attributes:
        window: The time range (rows of straddling batches outside it are dropped).
        plans: ``{column: plan}`` (features and ``prediction``).
        labels: ``{request_id: label}`` of the window's labelled predictions (a superset
            is fine), or ``None`` to ask ``lookup`` partition by partition.
        lookup: Labels of the given request ids (used when ``labels`` is ``None``).
    """

    window: Window
    plans: dict[str, ColumnPlan]
    labels: dict[str, Any] | None = None
    lookup: Lookup | None = None


class RecordLabels:
    """The labels of request ids, as the prediction log's records hold them (a ``Lookup``)."""

    def __init__(self, records: BasePredictionRecords) -> None:
        self.records = records

    def __call__(self, request_ids: list[str]) -> dict[str, Any]:
        """``{request_id: label}`` of the ids that have a label."""
        return {rid: found.label for rid, found in self.records.labels(request_ids).items()}


def summarise_window(
    load: Loader,
    batches: Sequence[tuple[str, bool]],
    window: Window,
    plans: Mapping[str, ColumnPlan],
    labels: Lookup | Mapping[str, Any],
    *,
    executor: str = "threads",
    workers: int | None = None,
) -> WindowPart:
    """Summarise every partition of a window and merge the summaries.

    Args:
        load: Returns a partition's Parquet bytes from its content hash.
        batches: ``(content hash, whole batch inside the window)`` per partition.
        window: The time range (rows of straddling batches outside it are dropped).
        plans: ``{column: plan}`` (features and ``prediction``).
        labels: ``{request_id: label}`` of the window's labelled predictions (a superset
            is fine), or a function returning that for the labelled ones among request
            ids (called with each partition's ids; on Ray, by this process before the
            tasks).
        executor: ``local``, ``threads`` or ``ray``.
        workers: Threads or Ray tasks in parallel (default: the CPUs available).

    Returns:
        The merged summary.

    Raises:
        MonitoringError: an unknown executor, or Ray is not installed.
    """
    if executor not in EXECUTORS:
        raise MonitoringError(
            f"Unknown monitoring executor {executor!r}.",
            hint=f"Set monitoring.executor to one of: {', '.join(EXECUTORS)}.",
            executor=executor,
        )
    if isinstance(labels, Mapping):
        job = WindowJob(window, dict(plans), labels=dict(labels))
    else:
        job = WindowJob(window, dict(plans), lookup=labels)
    merged = WindowPart(columns={name: ColumnPart() for name in plans})
    if executor == "local":
        parts: Iterable[WindowPart] = (
            summarise_batch(load, digest, contained, job) for digest, contained in batches
        )
    elif executor == "threads":
        parts = _threads(load, batches, job, workers or _cpus())
    else:
        parts = _ray(load, batches, job, workers)
    for part in parts:
        merged = merged.merge(part)
    return merged


def summarise_batch(load: Loader, digest: str, contained: bool, job: WindowJob) -> WindowPart:
    """Read and summarise one partition (the unit of work of every executor).

    Only the columns the summary uses are decoded (request ids only when labels are
    looked for); the other input columns are known by name from the file's schema.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(pa.BufferReader(load(digest)))
    names = source.schema_arrow.names
    wanted = {"at", "status", *(plan.source for plan in job.plans.values())}
    if job.labels or job.lookup is not None:
        wanted.add("request_id")
    table = source.read(columns=[name for name in names if name in wanted])
    if not contained:
        table = job.window.filter(table)
    return summarise_partition(
        table, job.plans, labels=job.labels, lookup=job.lookup, column_names=names
    )


def _threads(
    load: Loader, batches: Sequence[tuple[str, bool]], job: WindowJob, workers: int
) -> Iterator[WindowPart]:
    """Summaries as they complete, with at most two partitions per thread in flight."""
    pending: set[Future[WindowPart]] = set()
    todo = iter(batches)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conveyor-monitor") as pool:
        while True:
            for digest, contained in todo:
                pending.add(pool.submit(summarise_batch, load, digest, contained, job))
                if len(pending) >= 2 * workers:
                    break
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


def _ray(
    load: Loader, batches: Sequence[tuple[str, bool]], job: WindowJob, workers: int | None
) -> Iterator[WindowPart]:
    """Summaries of Ray tasks, one per partition, at most two per worker in flight.

    Tasks read their partition themselves through ``load`` when it can be sent to them
    (an artifact store every worker can reach); otherwise this process reads it and Ray
    ships the bytes.
    """
    import pickle

    try:
        import ray
    except ImportError as exc:
        raise MonitoringError(
            "monitoring.executor is 'ray' but Ray is not installed.",
            hint="Install the extra: pip install 'conveyor[ray]', or use executor: threads.",
        ) from exc
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    try:
        pickle.dumps(load)
        remote_load: Loader | None = load
    except (pickle.PicklingError, TypeError, AttributeError):
        remote_load = None
    task = ray.remote(_ray_task)
    if job.lookup is not None:  # the records are reachable from this process only
        job = WindowJob(job.window, job.plans, labels=_window_labels(load, batches, job))
    shared = ray.put(job)
    cpus = ray.available_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
    limit = 2 * (workers or max(1, int(cpus)))
    pending: list[Any] = []
    for digest, contained in batches:
        data = None if remote_load is not None else load(digest)
        pending.append(task.remote(remote_load, data, digest, contained, shared))
        if len(pending) >= limit:
            done, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(done)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield from ray.get(done)


def _window_labels(
    load: Loader, batches: Sequence[tuple[str, bool]], job: WindowJob
) -> dict[str, Any]:
    """The labels of a window's predictions, reading only request ids and times."""
    from conveyor.predictions._parquet import decode_batch

    assert job.lookup is not None
    found: dict[str, Any] = {}
    for digest, contained in batches:
        table = decode_batch(load(digest), columns=["request_id", "at"])
        if not contained:
            table = job.window.filter(table)
        found.update(job.lookup(table["request_id"].to_pylist()))
    return found


def _ray_task(
    load: Loader | None, data: bytes | None, digest: str, contained: bool, job: WindowJob
) -> WindowPart:
    if load is None:
        assert data is not None
        payload = data
        return summarise_batch(lambda _: payload, digest, contained, job)
    return summarise_batch(load, digest, contained, job)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
