"""Alias moves inside a write transaction: set, move or remove, each kept as an event."""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.core import utcnow
from conveyor.registry._errors import ModelStateError
from conveyor.registry._records import require_model, resolve_row
from conveyor.registry._refs import ModelRef
from conveyor.store import ModelAliasEventRow, ModelAliasRow, WriteTx


class NoChange(Exception):
    """Raised inside a write to roll it back when there is nothing to change."""


def point_aliases(
    tx: WriteTx,
    actor: str,
    name: str,
    version: int,
    aliases: Sequence[str],
    *,
    reason: str | None,
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
        raise ModelStateError(
            f"Cannot point alias {aliases[0]!r} at {name}@{version}: the version is archived.",
            hint=f"Pick a ready version: `conveyor models show {name}`.",
            name=name,
            version=version,
            alias=aliases[0],
        )
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
        alias_event(tx, actor, model.id, alias, previous=previous, version=version, reason=reason)
        before[alias] = previous
    if not before:
        raise NoChange  # an unchanged alias leaves no audit event
    if len(before) > 1:
        tx.details.update(alias=list(before), from_version=before, to_version=version)
    return list(before)


def drop_alias(tx: WriteTx, actor: str, name: str, alias: str, *, reason: str | None) -> None:
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
    alias_event(tx, actor, model.id, alias, previous=previous, version=None, reason=reason)


def alias_event(
    tx: WriteTx,
    actor: str,
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
            actor=actor,
            reason=reason,
        )
    )
    tx.details.update(alias=alias, from_version=previous, to_version=version, reason=reason)
