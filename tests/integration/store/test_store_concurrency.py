"""Several processes opening and writing one store at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import pytest
from sqlalchemy import func, select

from conveyor.core import Actor, utcnow
from conveyor.store import WriteTx, open_store
from conveyor.store._data_models import DatasetRow, DatasetVersionRow

PROCESSES = 4
VERSIONS_EACH = 25


def open_new_store(url: str, barrier: Barrier, worker: int) -> None:
    barrier.wait()
    with open_store(url):
        pass


def next_version(tx: WriteTx) -> int:
    dataset_id = tx.session.scalar(select(DatasetRow.id).where(DatasetRow.name == "orders"))
    assert dataset_id is not None
    latest = tx.session.scalar(
        select(func.max(DatasetVersionRow.version)).where(
            DatasetVersionRow.dataset_id == dataset_id
        )
    )
    version = (latest or 0) + 1
    tx.session.add(
        DatasetVersionRow(
            dataset_id=dataset_id,
            version=version,
            kind="file",
            content_hash="f" * 64,
            size_bytes=1,
            file_count=1,
            created_at=utcnow(),
            created_by=tx.actor.name,
        )
    )
    tx.session.flush()
    tx.target = f"dataset:orders@{version}"
    return version


def add_versions(url: str, barrier: Barrier, worker: int) -> None:
    actor = Actor(f"worker-{worker}")
    with open_store(url) as store:
        barrier.wait()
        for _ in range(VERSIONS_EACH):
            store.transact(actor, "dataset.add", "dataset:orders", next_version, retries=20)


def report_errors(
    target: Callable[[str, Barrier, int], None],
    url: str,
    barrier: Barrier,
    worker: int,
    errors: Queue[str],
) -> None:
    """Run one worker; send any failure back so the test shows it, not just an exit code."""
    try:
        target(url, barrier, worker)
    except BaseException as exc:
        errors.put(f"worker {worker}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        raise


def run_all(target: Callable[[str, Barrier, int], None], url: str) -> None:
    """Start PROCESSES spawned workers that pass a barrier together, and wait for them."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    errors: Queue[str] = context.Queue()
    processes = [
        context.Process(target=report_errors, args=(target, url, barrier, worker, errors))
        for worker in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    errors.close()
    errors.join_thread()
    assert failures == []
    assert [p.exitcode for p in processes] == [0] * PROCESSES


@pytest.mark.slow
def test_concurrent_first_opens_migrate_exactly_once(metadata_url: str) -> None:
    run_all(open_new_store, metadata_url)
    with open_store(metadata_url) as store:
        assert len(store.audit_log(action="store.migrate")) == 1
        with store.write(Actor("alice"), "dataset.create", "dataset:orders") as tx:
            tx.session.add(DatasetRow(name="orders", created_at=utcnow(), created_by="alice"))
        assert store.verify_audit().ok


@pytest.mark.slow
def test_concurrent_writers_get_contiguous_versions(metadata_url: str) -> None:
    with open_store(metadata_url) as store:
        with store.write(Actor("alice"), "dataset.create", "dataset:orders") as tx:
            tx.session.add(DatasetRow(name="orders", created_at=utcnow(), created_by="alice"))
        run_all(add_versions, metadata_url)
        with store.read() as session:
            versions = session.scalars(
                select(DatasetVersionRow.version).order_by(DatasetVersionRow.version)
            ).all()
        assert versions == list(range(1, PROCESSES * VERSIONS_EACH + 1))
        adds = store.audit_log(action="dataset.add")
        assert sorted(e.target for e in adds) == sorted(f"dataset:orders@{v}" for v in versions)
        assert {e.actor for e in adds} == {f"worker-{i}" for i in range(PROCESSES)}
        result = store.verify_audit()
        assert (result.ok, result.count) == (True, 2 + PROCESSES * VERSIONS_EACH)
