"""The bodies of the SQL records' writes, each run inside one audited transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conveyor.core import utcnow
from conveyor.registry._base import NewVersion
from conveyor.registry._errors import TransferError, archived_target, still_aliased
from conveyor.registry._evaluation import KEY_FIELD, finite, with_decision
from conveyor.registry._models import EVALUATION_KEY, ModelVersion
from conveyor.registry._refs import ModelRef
from conveyor.registry._signing import NewSignature, Signature
from conveyor.registry._sql_lookup import (
    alias_map,
    find_model,
    require_model,
    resolve_row,
    version_of,
)
from conveyor.store import WriteTx
from conveyor.store._registry_models import (
    ModelAliasEventRow,
    ModelAliasRow,
    ModelRow,
    ModelSignatureRow,
    ModelVersionRow,
)


class NoChange(Exception):
    """Raised inside a write to roll it back when there is nothing to change."""


class ExistingVersion(Exception):
    """Raised inside a registration to roll it back: the key names an earlier version."""

    def __init__(self, version: ModelVersion) -> None:
        super().__init__(version.ref)
        self.version = version


def owner_of(name: str, version: int) -> str:
    """The artifact-reference owner and audit target of a version, ``model:<name>@<v>``."""
    return f"model:{name}@{version}"


def keyed_version(session: Session, name: str, key: str) -> ModelVersion | None:
    """The version of ``name`` registered with idempotency key ``key``, if any."""
    model = find_model(session, name)
    if model is None:
        return None
    rows = session.scalars(
        select(ModelVersionRow)
        .where(ModelVersionRow.model_id == model.id)
        .order_by(ModelVersionRow.version)
    )
    for row in rows:
        if (row.lineage or {}).get(KEY_FIELD) == key:
            return version_of(name, row, alias_map(session, model.id))
    return None


def insert_version(
    tx: WriteTx, name: str, new: NewVersion, *, model_description: str | None
) -> ModelVersion:
    """Insert the next version of ``name`` (see ``BaseModelRecords.insert_version``)."""
    session = tx.session
    if new.idempotency_key is not None:
        existing = keyed_version(session, name, new.idempotency_key)
        if existing is not None:
            raise ExistingVersion(existing)
    now = utcnow()
    actor = tx.actor.name
    model = find_model(session, name)
    if model is None:
        model = ModelRow(name=name, description=model_description, created_at=now, created_by=actor)
        session.add(model)
        session.flush()
    latest = session.scalar(
        select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == model.id)
    )
    number = (latest or 0) + 1
    lineage = dict(new.lineage)
    if new.idempotency_key is not None:
        lineage[KEY_FIELD] = new.idempotency_key
    if new.evaluation:
        lineage[EVALUATION_KEY] = dict(new.evaluation)
    row = _add_row(
        tx,
        model,
        number,
        new,
        run_id=new.run_id,
        lineage=lineage,
        created=(now, actor),
        objects=new.object_hashes,
    )
    tx.details.update(
        version=number,
        content_hash=new.content_hash,
        flavor=new.flavor,
        run_id=new.run_id,
        trusted=new.trusted,
    )
    return version_of(name, row, {})


def insert_copy(tx: WriteTx, version: ModelVersion, objects: Sequence[str]) -> ModelVersion:
    """Insert a version copied from another registry under its own number (``model.import``).

    The row keeps the source's fields (creation time and author included); ``objects`` are
    referenced by ``model:<name>@<version>`` as on a registration.

    Raises:
        TransferError: the model already has a version at or above the number.
    """
    session = tx.session
    model = find_model(session, version.name)
    if model is None:
        model = ModelRow(
            name=version.name,
            description=version.description,
            created_at=version.created_at,
            created_by=version.created_by,
        )
        session.add(model)
        session.flush()
    highest = session.scalar(
        select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == model.id)
    )
    if highest is not None and highest >= version.version:
        raise TransferError(
            f"Cannot copy {version.ref}: the target already has {version.name}@{highest}.",
            hint="Copy into a fresh workspace.",
            model=version.name,
            version=version.version,
        )
    lineage = dict(version.lineage)
    if version.evaluation:
        lineage[EVALUATION_KEY] = dict(version.evaluation)
    row = _add_row(
        tx,
        model,
        version.version,
        version,
        # The producing run lives in the source workspace (its id stays in the lineage).
        run_id=None,
        lineage=lineage,
        created=(version.created_at, version.created_by),
        objects=objects,
    )
    tx.details.update(
        version=version.version,
        content_hash=version.content_hash,
        flavor=version.flavor,
        trusted=version.trusted,
    )
    return version_of(version.name, row, {})


def _add_row(
    tx: WriteTx,
    model: ModelRow,
    number: int,
    source: NewVersion | ModelVersion,
    *,
    run_id: str | None,
    lineage: dict[str, Any],
    created: tuple[datetime, str],
    objects: Iterable[str],
) -> ModelVersionRow:
    """Add the ready version row ``model@number`` with ``source``'s fields; reference
    ``objects`` for it and make it the write's audited target."""
    row = ModelVersionRow(
        model_id=model.id,
        version=number,
        flavor=source.flavor,
        content_hash=source.content_hash,
        signature=source.signature,
        input_example=source.input_example,
        metrics=dict(source.metrics),
        params=dict(source.params),
        tags=dict(source.tags),
        description=source.description,
        run_id=run_id,
        lineage=lineage,
        onnx=source.onnx,
        importance=source.importance,
        trusted=source.trusted,
        status="ready",
        created_at=created[0],
        created_by=created[1],
    )
    tx.session.add(row)
    owner = owner_of(model.name, number)
    tx.reference(owner, sorted(set(objects)))
    tx.session.flush()
    tx.target = owner
    return row


def point_aliases(
    tx: WriteTx, name: str, version: int, aliases: Sequence[str], *, reason: str | None
) -> list[str]:
    """Point each of ``aliases`` (already validated) at ``name@version``; return those moved.

    Raises:
        ModelNotFoundError, ModelVersionNotFoundError: unknown model or version.
        ModelStateError: the version is archived.
        NoChange: every alias already points there (the caller rolls back).
    """
    session = tx.session
    model = require_model(session, name)
    row = resolve_row(session, model, ModelRef(name, version=version))
    if row.status != "ready":
        raise archived_target(name, version, aliases[0])
    before: dict[str, int | None] = {}
    for alias in aliases:
        current = session.get(ModelAliasRow, (model.id, alias))
        previous = None if current is None else current.version
        if previous == version:
            continue
        if current is None:
            session.add(ModelAliasRow(model_id=model.id, alias=alias, version=version))
        else:
            current.version = version
        _alias_event(tx, model.id, alias, previous=previous, version=version, reason=reason)
        before[alias] = previous
    if not before:
        raise NoChange  # an unchanged alias leaves no audit event
    if len(before) > 1:
        tx.details.update(alias=list(before), from_version=before, to_version=version)
    return list(before)


def drop_alias(tx: WriteTx, name: str, alias: str, *, reason: str | None) -> None:
    """Delete ``alias`` of ``name``, keeping the removal as an event.

    Raises:
        ModelNotFoundError, AliasNotFoundError: unknown model or alias.
    """
    session = tx.session
    model = require_model(session, name)
    resolve_row(session, model, ModelRef(name, alias=alias))  # raises when unknown
    current = session.get(ModelAliasRow, (model.id, alias))
    assert current is not None  # resolve_row found it
    previous = current.version
    session.delete(current)
    _alias_event(tx, model.id, alias, previous=previous, version=None, reason=reason)


def archive_version(tx: WriteTx, name: str, version: int, *, reason: str | None) -> None:
    """Mark ``name@version`` archived.

    Raises:
        ModelStateError: an alias still points at the version.
    """
    session = tx.session
    model = require_model(session, name)
    row = resolve_row(session, model, ModelRef(name, version=version))
    pointing = sorted(a for a, v in alias_map(session, model.id).items() if v == version)
    if pointing:
        raise still_aliased(name, version, pointing)
    row.status = "archived"
    tx.target = owner_of(name, version)
    tx.details.update(version=version, reason=reason)


def decide(
    tx: WriteTx,
    ref: ModelRef,
    *,
    verdict: str,
    reasons: Sequence[str],
    champion: str | None,
    details: Mapping[str, Any],
    metrics: Mapping[str, float],
) -> ModelVersion:
    """Record a gate decision on the version ``ref`` selects (see ``record_decision``)."""
    session = tx.session
    model = require_model(session, ref.name)
    row = resolve_row(session, model, ref)
    added = {str(k): float(v) for k, v in metrics.items() if str(k) not in row.metrics}
    lineage = with_decision(
        row.lineage,
        verdict=verdict,
        reasons=reasons,
        champion=champion,
        extra=dict(details),
        measured=sorted(added),
    )
    if added:
        row.metrics = {**row.metrics, **finite(added)}
    row.lineage = lineage
    tx.target = owner_of(ref.name, row.version)
    tx.details.update(version=row.version, verdict=verdict, champion=champion)
    return version_of(ref.name, row, alias_map(session, model.id))


def record_signature(tx: WriteTx, ref: ModelRef, new: NewSignature) -> Signature:
    """Append a signature to the version ``ref`` selects (see ``add_signature``)."""
    session = tx.session
    model = require_model(session, ref.name)
    row = resolve_row(session, model, ref)
    at = utcnow()
    session.add(
        ModelSignatureRow(
            version_id=row.id,
            key_name=new.key_name,
            public_key=new.public_key,
            signature=new.signature,
            statement_hash=new.statement_hash,
            at=at,
            actor=tx.actor.name,
        )
    )
    tx.target = owner_of(ref.name, row.version)
    tx.details.update(
        version=row.version,
        key_name=new.key_name,
        public_key=new.public_key,
        statement_hash=new.statement_hash,
    )
    return Signature(
        ref.name,
        row.version,
        new.key_name,
        new.public_key,
        new.signature,
        new.statement_hash,
        at,
        tx.actor.name,
    )


def _alias_event(
    tx: WriteTx,
    model_id: int,
    alias: str,
    *,
    previous: int | None,
    version: int | None,
    reason: str | None,
) -> None:
    """Append one alias change to the model's history and to the audit details."""
    tx.session.add(
        ModelAliasEventRow(
            model_id=model_id,
            alias=alias,
            from_version=previous,
            to_version=version,
            at=utcnow(),
            actor=tx.actor.name,
            reason=reason,
        )
    )
    tx.details.update(alias=alias, from_version=previous, to_version=version, reason=reason)
