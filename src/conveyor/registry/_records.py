"""Row lookups shared by the registry's reads and writes, with errors that list what exists."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.registry._errors import (
    AliasNotFoundError,
    ModelNotFoundError,
    ModelVersionNotFoundError,
)
from conveyor.registry._refs import ModelRef, format_versions
from conveyor.store import ModelAliasRow, ModelRow, ModelVersionRow

#: How many model names a "no such model" message lists before "...".
_LISTED = 10


def owner_of(name: str, version: int) -> str:
    """The artifact-reference owner and audit target of a version, ``model:<name>@<v>``."""
    return f"model:{name}@{version}"


def find_model(session: Session, name: str) -> ModelRow | None:
    """The model row named ``name``, or ``None``."""
    return session.scalars(select(ModelRow).where(ModelRow.name == name)).first()


def require_model(session: Session, name: str) -> ModelRow:
    """The model row named ``name``; else :class:`ModelNotFoundError` listing the models."""
    model = find_model(session, name)
    if model is not None:
        return model
    names = list(session.scalars(select(ModelRow.name).order_by(ModelRow.name).limit(_LISTED + 1)))
    shown = ", ".join(names[:_LISTED]) + (", ..." if len(names) > _LISTED else "")
    raise ModelNotFoundError(
        f"No model named {name!r}. Models: {shown or 'none yet'}.",
        hint="Run `conveyor models list`, or register one with ws.models.register(...).",
        name=name,
        models=names[:_LISTED],
    )


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
    hint = f"Run `conveyor models show {name}`."
    if ref.alias is not None:
        alias = session.get(ModelAliasRow, (model.id, ref.alias))
        if alias is None:
            aliases = alias_map(session, model.id)
            listed = ", ".join(f"{a} -> {v}" for a, v in aliases.items()) or "none"
            raise AliasNotFoundError(
                f"Model {name!r} has no alias {ref.alias!r}. Aliases: {listed}.",
                hint=f"Set it with `conveyor models alias {name}@<version> {ref.alias}`.",
                name=name,
                alias=ref.alias,
                aliases=aliases,
            )
        number = alias.version
    elif ref.version is not None:
        number = ref.version
    else:
        ready = version_numbers(session, model.id, ready_only=True)
        if not ready:
            raise ModelVersionNotFoundError(
                f"Model {name!r} has no ready version (all are archived). "
                f"Versions: {format_versions(version_numbers(session, model.id))}.",
                hint=f"Load an archived one by number, e.g. {name}@1, or register a new one.",
                name=name,
            )
        number = ready[-1]
    row = _version_row(session, model.id, number)
    if row is None:
        existing = format_versions(version_numbers(session, model.id))
        raise ModelVersionNotFoundError(
            f"Model {name!r} has no version {number}. Versions: {existing}.",
            hint=hint,
            name=name,
            version=number,
        )
    return row
