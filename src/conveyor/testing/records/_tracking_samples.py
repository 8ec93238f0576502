"""Sample runs and outputs for the run records contract, and its audit-log type.

The parts of :class:`~conveyor.testing.records.RunRecordsContract` (``_tracking``,
``_tracking_queries``, ``_tracking_logs``) share them; ``_tracking`` re-exports
``AuditLog``, ``sample_run`` and ``sample_output``, which other tests import from there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from conveyor.store import AuditEvent
from conveyor.tracking import OutputRecord, Run

AuditLog = Callable[[], list[AuditEvent]]
_T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def sample_run(run_id: str = "a" * 32, **fields: Any) -> Run:
    """A running pipeline run started at a fixed time, with ``fields`` replaced."""
    values: dict[str, Any] = {
        "name": "training",
        "kind": "pipeline",
        "parent_id": None,
        "status": "running",
        "pipeline_ref": "pipelines:training",
        "params": {"lr": 0.1, "layers": [64, 32], "model": {"kind": "rf", "depth": None}},
        "tags": {"team": "churn"},
        "code_version": {"commit": "c" * 40, "dirty": True, "diff_hash": "d" * 64},
        "environment": {"python": "3.12.3", "platform": "Linux", "packages_hash": "e" * 64},
        "executor": "local",
        "cache_key": None,
        "cached_from": None,
        "error": None,
        "started_at": _T0,
        "ended_at": None,
        "heartbeat_at": _T0,
        "host": "worker-1",
        "pid": 4242,
        "wall_s": None,
        "cpu_s": None,
        "created_by": "contract-tester",
        **fields,
    }
    return Run(id=run_id, **values)


def sample_output(name: str = "output", **fields: Any) -> OutputRecord:
    """A step output with materializer metadata, with ``fields`` replaced."""
    values: dict[str, Any] = {
        "hash": "f" * 64,
        "materializer": "pandas",
        "materializer_version": 2,
        "type_name": "pandas.DataFrame",
        "size": 2048,
        "meta": {"columns": ["a", "b"], "rows": 10},
        **fields,
    }
    return OutputRecord(name=name, **values)


def _id(n: int) -> str:
    return f"{n:032x}"
