"""The history of a model: registrations, archives and alias changes."""

from __future__ import annotations

from sqlalchemy import select

from conveyor.registry._models import HistoryEntry
from conveyor.registry._records import require_model
from conveyor.store import MetadataStore, ModelAliasEventRow, ModelVersionRow


def model_history(store: MetadataStore, name: str) -> list[HistoryEntry]:
    """Registrations, archives and alias changes of ``name``, oldest first."""
    entries: list[HistoryEntry] = []
    with store.read() as session:
        model = require_model(session, name)
        for row in session.scalars(
            select(ModelVersionRow).where(ModelVersionRow.model_id == model.id)
        ):
            entries.append(HistoryEntry("registered", row.created_at, row.created_by, row.version))
        events = session.scalars(
            select(ModelAliasEventRow)
            .where(ModelAliasEventRow.model_id == model.id)
            .order_by(ModelAliasEventRow.id)
        )
        for ev in events:
            kind = (
                "alias.set"
                if ev.from_version is None
                else "alias.removed"
                if ev.to_version is None
                else "alias.moved"
            )
            entries.append(
                HistoryEntry(
                    kind, ev.at, ev.actor, ev.to_version, ev.alias, ev.from_version, ev.reason
                )
            )
    for event in store.audit_log(action="model.archive", target_prefix=f"model:{name}@"):
        entries.append(
            HistoryEntry(
                "archived",
                event.at,
                event.actor,
                event.details.get("version"),
                reason=event.details.get("reason"),
            )
        )
    return sorted(entries, key=lambda e: e.at)
