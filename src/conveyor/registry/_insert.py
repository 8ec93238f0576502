"""Inserting a version row: number, lineage, metrics and artifact references in one write."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conveyor.core import utcnow
from conveyor.registry._lineage import run_lineage, training_datasets
from conveyor.registry._models import EVALUATION_KEY, ModelVersion
from conveyor.registry._prepare import PreparedModel
from conveyor.registry._records import find_model, owner_of
from conveyor.store import ArtifactRefRow, ModelRow, ModelVersionRow, RunRow, WriteTx


def insert_version(
    tx: WriteTx,
    actor: str,
    name: str,
    prepared: PreparedModel,
    *,
    run: str | None,
    description: str | None,
    trusted: bool,
    metrics: Mapping[str, float] | None,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
    lineage: Mapping[str, Any] | None,
    training_data: Sequence[tuple[str, int | None]] = (),
) -> ModelVersion:
    """Insert the next version of ``name`` inside ``tx`` (see ``ModelRegistry.record``)."""
    session = tx.session
    now = utcnow()
    recorded: dict[str, Any] = {"run_id": None, "code_version": None, "datasets": []}
    run_metrics: dict[str, float] = {}
    run_params: dict[str, Any] = {}
    if run is not None:
        recorded, run_metrics = run_lineage(session, run)
        run_params = dict(_run_params(session, run))
    recorded.update(lineage or {})
    if prepared.importance_reason:
        evaluation = dict(recorded.get(EVALUATION_KEY) or {})
        evaluation["importance_reason"] = prepared.importance_reason
        recorded[EVALUATION_KEY] = evaluation
    if training_data:
        named = {d["name"]: d for d in recorded.get("datasets") or []}
        named.update({d["name"]: d for d in training_datasets(session, training_data)})
        recorded["datasets"] = [named[key] for key in sorted(named)]
    model = find_model(session, name)
    if model is None:
        model = ModelRow(name=name, description=description, created_at=now, created_by=actor)
        session.add(model)
        session.flush()
    latest = session.scalar(
        select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == model.id)
    )
    number = (latest or 0) + 1
    row = ModelVersionRow(
        model_id=model.id,
        version=number,
        flavor=prepared.flavor,
        content_hash=prepared.content_hash,
        signature=prepared.signature,
        input_example=prepared.input_example,
        metrics=finite(metrics if metrics is not None else run_metrics),
        params=dict(params if params is not None else run_params),
        tags=dict(tags or {}),
        description=description,
        run_id=run,
        lineage=recorded,
        onnx=prepared.onnx,
        importance=prepared.importance,
        trusted=trusted,
        status="ready",
        created_at=now,
        created_by=actor,
    )
    session.add(row)
    owner = owner_of(name, number)
    for digest in sorted(prepared.object_hashes):
        session.add(ArtifactRefRow(hash=digest, owner=owner))
    session.flush()
    tx.target = owner
    tx.details.update(
        version=number,
        content_hash=prepared.content_hash,
        flavor=prepared.flavor,
        run_id=run,
        trusted=trusted,
    )
    return ModelVersion.from_row(name, row)


def _run_params(session: Session, run_id: str) -> Mapping[str, Any]:
    run = session.get(RunRow, run_id)
    return {} if run is None else (run.params or {})


def finite(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """Metric values as floats, a non-finite one as ``None``."""
    # JSON has no NaN: PostgreSQL would refuse it, so a non-finite value is stored as null.
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        number = float(value)
        out[str(key)] = number if math.isfinite(number) else None
    return out
