"""The registry's records in the metadata store (SQLite or PostgreSQL)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select

from conveyor.core import Actor
from conveyor.registry._base import BaseModelRecords, NewVersion
from conveyor.registry._models import HistoryEntry, ModelSummary, ModelVersion
from conveyor.registry._refs import ModelRef
from conveyor.registry._signing import NewSignature, Signature
from conveyor.registry._sql_lookup import alias_map, require_model, resolve_row, version_of
from conveyor.registry._sql_write import (
    ExistingVersion,
    NoChange,
    archive_version,
    decide,
    drop_alias,
    insert_copy,
    insert_version,
    keyed_version,
    point_aliases,
    record_signature,
)
from conveyor.store import MetadataStore, WriteTx
from conveyor.store._registry_models import (
    ModelAliasEventRow,
    ModelAliasRow,
    ModelRow,
    ModelSignatureRow,
    ModelVersionRow,
)


class SqlModelRecords(BaseModelRecords):
    """Models, versions, aliases and signatures in the ``models``, ``model_versions``,
    ``model_aliases``, ``model_alias_events`` and ``model_signatures`` tables of a
    metadata store.

    Each write is one transaction of :meth:`MetadataStore.transact` (retried on a
    conflict, so version numbers stay contiguous under concurrent writers) with its audit
    event; version files are recorded as artifact references of ``model:<name>@<v>``.

    Args:
        store: The metadata store.

    Example:
        >>> records = SqlModelRecords(open_store("sqlite:///meta.db"))  # doctest: +SKIP
    """

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"SqlModelRecords({self.store.url!r})"

    # -- writes --------------------------------------------------------------------------

    def insert_version(
        self, actor: Actor, name: str, new: NewVersion, *, model_description: str | None
    ) -> ModelVersion:
        def body(tx: WriteTx) -> ModelVersion:
            return insert_version(tx, name, new, model_description=model_description)

        try:
            return self.store.transact(actor, "model.register", f"model:{name}", body)
        except ExistingVersion as found:
            return found.version

    def import_version(
        self, actor: Actor, version: ModelVersion, objects: Sequence[str]
    ) -> ModelVersion:
        """Record ``version``, copied from another registry, under its own number.

        Audited as ``model.import`` on ``model:<name>@<version>``; ``objects`` (the
        version's artifact objects, already stored here) are referenced by it.

        Raises:
            TransferError: the model already has a version at or above that number.
        """

        def body(tx: WriteTx) -> ModelVersion:
            return insert_copy(tx, version, objects)

        return self.store.transact(actor, "model.import", f"model:{version.name}", body)

    def set_aliases(
        self,
        actor: Actor,
        name: str,
        version: int,
        aliases: Sequence[str],
        *,
        reason: str | None,
    ) -> builtins.list[str]:
        if not aliases:
            return []

        def body(tx: WriteTx) -> builtins.list[str]:
            return point_aliases(tx, name, version, aliases, reason=reason)

        try:
            return self.store.transact(actor, "model.alias.set", f"model:{name}", body)
        except NoChange:
            return []

    def remove_alias(self, actor: Actor, name: str, alias: str, *, reason: str | None) -> None:
        def body(tx: WriteTx) -> None:
            drop_alias(tx, name, alias, reason=reason)

        self.store.transact(actor, "model.alias.remove", f"model:{name}", body)

    def archive(self, actor: Actor, name: str, version: int, *, reason: str | None) -> None:
        def body(tx: WriteTx) -> None:
            archive_version(tx, name, version, reason=reason)

        self.store.transact(actor, "model.archive", f"model:{name}@{version}", body)

    def record_decision(
        self,
        actor: Actor,
        ref: ModelRef,
        *,
        verdict: str,
        reasons: Sequence[str],
        champion: str | None,
        details: Mapping[str, Any],
        metrics: Mapping[str, float],
    ) -> ModelVersion:
        def body(tx: WriteTx) -> ModelVersion:
            return decide(
                tx,
                ref,
                verdict=verdict,
                reasons=reasons,
                champion=champion,
                details=details,
                metrics=metrics,
            )

        return self.store.transact(actor, "model.evaluate", f"model:{ref.name}", body)

    def add_signature(self, actor: Actor, ref: ModelRef, signature: NewSignature) -> Signature:
        def body(tx: WriteTx) -> Signature:
            return record_signature(tx, ref, signature)

        return self.store.transact(actor, "model.sign", f"model:{ref.name}", body)

    # -- reads ---------------------------------------------------------------------------

    def signatures(self, ref: ModelRef) -> builtins.list[Signature]:
        with self.store.read() as session:
            model = require_model(session, ref.name)
            row = resolve_row(session, model, ref)
            found = session.scalars(
                select(ModelSignatureRow)
                .where(ModelSignatureRow.version_id == row.id)
                .order_by(ModelSignatureRow.id)
            )
            return [
                Signature(
                    ref.name,
                    row.version,
                    s.key_name,
                    s.public_key,
                    s.signature,
                    s.statement_hash,
                    s.at,
                    s.actor,
                )
                for s in found
            ]

    def get_version(self, ref: ModelRef) -> ModelVersion:
        with self.store.read() as session:
            model = require_model(session, ref.name)
            row = resolve_row(session, model, ref)
            return version_of(ref.name, row, alias_map(session, model.id))

    def find_keyed(self, name: str, key: str) -> ModelVersion | None:
        with self.store.read() as session:
            return keyed_version(session, name, key)

    def list_models(
        self, *, offset: int = 0, limit: int | None = None
    ) -> builtins.list[ModelSummary]:
        # Four aggregate queries, whatever the number of models and versions; a page
        # aggregates the versions of its own models only.
        version = ModelVersionRow
        page = select(ModelRow).order_by(ModelRow.name)
        if offset > 0:
            page = page.offset(offset)
        if limit is not None:
            page = page.limit(max(limit, 0))
        with self.store.read() as session:
            models = builtins.list(session.scalars(page))
            if not models:
                return []
            paged = offset > 0 or limit is not None
            ids = [model.id for model in models]
            counted = select(
                version.model_id, func.count(version.id), func.max(version.created_at)
            ).group_by(version.model_id)
            ready = (
                select(version.model_id, func.max(version.version))
                .where(version.status == "ready")
                .group_by(version.model_id)
            )
            alias_rows = select(ModelAliasRow).order_by(ModelAliasRow.alias)
            if paged:
                counted = counted.where(version.model_id.in_(ids))
                ready = ready.where(version.model_id.in_(ids))
                alias_rows = alias_rows.where(ModelAliasRow.model_id.in_(ids))
            counts = {
                model_id: (count, newest) for model_id, count, newest in session.execute(counted)
            }
            latest: dict[int, int] = {key: number for key, number in session.execute(ready)}  # noqa: C416 - rows, not pairs
            aliases: dict[int, dict[str, int]] = {}
            for row in session.scalars(alias_rows):
                aliases.setdefault(row.model_id, {})[row.alias] = row.version
            out: builtins.list[ModelSummary] = []
            for model in models:
                count, newest = counts.get(model.id, (0, None))
                out.append(
                    ModelSummary(
                        name=model.name,
                        description=model.description,
                        latest_version=latest.get(model.id),
                        versions=count,
                        aliases=aliases.get(model.id, {}),
                        updated_at=newest if newest is not None else model.created_at,
                    )
                )
        return out

    def list_versions(self, name: str) -> builtins.list[ModelVersion]:
        with self.store.read() as session:
            model = require_model(session, name)
            aliases = alias_map(session, model.id)
            rows = session.scalars(
                select(ModelVersionRow)
                .where(ModelVersionRow.model_id == model.id)
                .order_by(ModelVersionRow.version.desc())
            )
            return [version_of(name, row, aliases) for row in rows]

    def versions_page(
        self, name: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[int, builtins.list[ModelVersion]]:
        with self.store.read() as session:
            model = require_model(session, name)
            total = session.scalar(
                select(func.count(ModelVersionRow.id)).where(ModelVersionRow.model_id == model.id)
            )
            if limit <= 0:
                return int(total or 0), []
            aliases = alias_map(session, model.id)
            rows = session.scalars(
                select(ModelVersionRow)
                .where(ModelVersionRow.model_id == model.id)
                .order_by(ModelVersionRow.version.desc())
                .offset(max(offset, 0))
                .limit(limit)
            )
            return int(total or 0), [version_of(name, row, aliases) for row in rows]

    def alias_history(self, name: str) -> builtins.list[HistoryEntry]:
        with self.store.read() as session:
            model = require_model(session, name)
            events = session.scalars(
                select(ModelAliasEventRow)
                .where(ModelAliasEventRow.model_id == model.id)
                .order_by(ModelAliasEventRow.id)
            )
            return [_alias_entry(ev) for ev in events]

    def history(self, name: str, *, limit: int | None = None) -> builtins.list[HistoryEntry]:
        entries: builtins.list[HistoryEntry] = []
        # The newest ``limit`` entries are among the newest ``limit`` of each source.
        bound = None if limit is None else max(limit, 0)
        version = ModelVersionRow
        with self.store.read() as session:
            model = require_model(session, name)
            # Three columns, not whole rows: a version's documents are not needed here.
            registered = (
                select(version.created_at, version.created_by, version.version)
                .where(version.model_id == model.id)
                .order_by(version.created_at.desc(), version.id.desc())
                .limit(bound)
            )
            for at, by, number in reversed(builtins.list(session.execute(registered))):
                entries.append(HistoryEntry("registered", at, by, number))
            events = session.scalars(
                select(ModelAliasEventRow)
                .where(ModelAliasEventRow.model_id == model.id)
                .order_by(ModelAliasEventRow.id.desc())
                .limit(bound)
            )
            entries.extend(_alias_entry(ev) for ev in reversed(builtins.list(events)))
        # Archiving changes a status in place; when and why it happened is in the audit log.
        archived = self.store.audit_log(
            action="model.archive", target_prefix=f"model:{name}@", limit=bound
        )
        for event in archived:
            entries.append(
                HistoryEntry(
                    "archived",
                    event.at,
                    event.actor,
                    event.details.get("version"),
                    reason=event.details.get("reason"),
                )
            )
        ordered = sorted(entries, key=lambda e: e.at)
        return ordered if bound is None else ordered[max(len(ordered) - bound, 0) :]


def _alias_entry(ev: ModelAliasEventRow) -> HistoryEntry:
    kind = (
        "alias.set"
        if ev.from_version is None
        else "alias.removed"
        if ev.to_version is None
        else "alias.moved"
    )
    return HistoryEntry(kind, ev.at, ev.actor, ev.to_version, ev.alias, ev.from_version, ev.reason)
