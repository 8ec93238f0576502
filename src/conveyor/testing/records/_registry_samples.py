"""Sample versions and signatures for the model records contract, and its audit helpers.

The parts of :class:`~conveyor.testing.records.ModelRecordsContract` (``_registry``,
``_registry_aliases``, ``_registry_reviews``) share them; ``_registry`` re-exports
``AuditLog``, ``sample_version`` and ``sample_signature``, which other tests import from
there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.registry import NewSignature, NewVersion
from conveyor.store import AuditEvent

AuditLog = Callable[[], list[AuditEvent]]


def sample_version(tag: str = "a", **fields: Any) -> NewVersion:
    """A new version whose hashes are made of ``tag`` (fields may be overridden)."""
    values: dict[str, Any] = {
        "flavor": "sklearn",
        "content_hash": tag * 64,
        "object_hashes": frozenset({tag * 64, "0" * 63 + tag}),
        "signature": {"inputs": [{"name": "x", "type": "double", "nullable": False}]},
        "input_example": {"columns": ["x"], "data": [[1.5], [2.5]]},
        "metrics": {"auc": 0.91, "loss": None},
        "params": {"C": 1.0, "solver": "lbfgs"},
        "tags": {"team": "growth"},
        "description": "Predict churn.",
        "lineage": {"run_id": None, "code_version": None, "datasets": []},
        "evaluation": {"metric_sources": {"auc": "evaluate"}},
        "onnx": None,
        "importance": {"x": 0.5},
        "trusted": False,
        **fields,
    }
    return NewVersion(**values)


def sample_signature(key_name: str = "release", tag: str = "a") -> NewSignature:
    """A signature record whose values are made of ``tag`` (the records never check it)."""
    return NewSignature(
        key_name=key_name,
        public_key="A" * 43 + "=",
        signature=tag.upper() * 86 + "==",
        statement_hash=tag * 64,
    )


def events_of(audit_log: AuditLog, action: str) -> list[AuditEvent]:
    """The audit events of ``action``, oldest first."""
    return [e for e in audit_log() if e.action == action]
