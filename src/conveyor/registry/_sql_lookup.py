"""Row lookups of the SQL records, shared by reads and writes, with errors that list what
exists; and the conversion of rows into the registry's value objects."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.registry._errors import no_alias, no_model, no_ready_version, no_version
from conveyor.registry._models import EVALUATION_KEY, ModelVersion
from conveyor.registry._refs import ModelRef
from conveyor.store._registry_models import ModelAliasRow, ModelRow, ModelVersionRow

#: How many model names a "no such model" message lists before "...".
_LISTED = 10


def find_model(session: Session, name: str) -> ModelRow | None:
    """The model row named ``name``, or ``None``."""
    return session.scalars(select(ModelRow).where(ModelRow.name == name)).first()


def require_model(session: Session, name: str) -> ModelRow:
    """The model row named ``name``; else :class:`ModelNotFoundError` listing the models."""
    model = find_model(session, name)
    if model is not None:
        return model
    names = list(session.scalars(select(ModelRow.name).order_by(ModelRow.name).limit(_LISTED + 1)))
    raise no_model(name, names, listed=_LISTED)


def version_numbers(session: Session, model_id: int, *, ready_only: bool = False) -> list[int]:
    """The version numbers of a model, ascending."""
    query = select(ModelVersionRow.version).where(ModelVersionRow.model_id == model_id)
    if ready_only:
        query = query.where(ModelVersionRow.status == "ready")
    return list(session.scalars(query.order_by(ModelVersionRow.version)))


def alias_map(session: Session, model_id: int) -> dict[str, int]:
    """Alias -> version of a model, sorted by alias."""
    rows = session.scalars(
        select(ModelAliasRow)
        .where(ModelAliasRow.model_id == model_id)
        .order_by(ModelAliasRow.alias)
    )
    return {row.alias: row.version for row in rows}


def _version_row(session: Session, model_id: int, number: int) -> ModelVersionRow | None:
    return session.scalars(
        select(ModelVersionRow)
        .where(ModelVersionRow.model_id == model_id)
        .where(ModelVersionRow.version == number)
    ).first()


def resolve_row(session: Session, model: ModelRow, ref: ModelRef) -> ModelVersionRow:
    """The version row ``ref`` selects (number, alias, or the newest ready version).

    Raises:
        ModelVersionNotFoundError: no such version / no ready version; lists the versions.
        AliasNotFoundError: no such alias; lists the aliases.
    """
    name = model.name
    if ref.alias is not None:
        alias = session.get(ModelAliasRow, (model.id, ref.alias))
        if alias is None:
            raise no_alias(name, ref.alias, alias_map(session, model.id))
        number = alias.version
    elif ref.version is not None:
        number = ref.version
    else:
        ready = version_numbers(session, model.id, ready_only=True)
        if not ready:
            raise no_ready_version(name, version_numbers(session, model.id))
        number = ready[-1]
    row = _version_row(session, model.id, number)
    if row is None:
        raise no_version(name, number, version_numbers(session, model.id))
    return row


def version_of(name: str, row: ModelVersionRow, aliases: Mapping[str, int]) -> ModelVersion:
    """The value object of a version row; ``aliases`` is the model's alias map."""
    lineage = dict(row.lineage or {})
    evaluation = lineage.pop(EVALUATION_KEY, None)
    return ModelVersion(
        name=name,
        version=row.version,
        flavor=row.flavor,
        content_hash=row.content_hash,
        signature=row.signature,
        input_example=row.input_example,
        metrics=dict(row.metrics or {}),
        params=dict(row.params or {}),
        tags=dict(row.tags or {}),
        description=row.description,
        run_id=row.run_id,
        lineage=lineage,
        onnx=row.onnx,
        importance=row.importance,
        trusted=row.trusted,
        status=row.status,
        created_at=row.created_at,
        created_by=row.created_by,
        aliases=tuple(sorted(a for a, v in aliases.items() if v == row.version)),
        evaluation=dict(evaluation) if isinstance(evaluation, dict) else {},
    )
