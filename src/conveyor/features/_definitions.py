"""Feature definitions in code: entities, feature views over versioned data, services.

A definition is a plain frozen dataclass. Its :meth:`spec` is a JSON document that says
everything about it (a transformation by the hash of its source, like a pipeline step), and
the hash of that document is its identity: ``conveyor features apply`` records a new
version of a definition exactly when the hash changes.

Example (a project's ``features.py``)::

    from datetime import timedelta
    from conveyor.features import Entity, FeatureService, FeatureView, transformation

    user = Entity("user", join_keys=["user_id"])

    @transformation("orders@latest")
    def order_stats(orders):
        ...  # a DataFrame with user_id, event_timestamp and the features

    user_stats = FeatureView(
        "user_stats",
        entities=[user],
        source=order_stats,
        schema={"orders_7d": "int64", "spend_7d": "float64"},
        ttl=timedelta(days=30),
    )
    churn = FeatureService("churn", features=[user_stats])

The pieces definitions are made of live in their own modules and are still importable
from here: name checks and ``view:feature`` references in
:mod:`conveyor.features._names`, a view's schema (:class:`Field`, :data:`DTYPES`) in
:mod:`conveyor.features._schema`, and its source (:func:`transformation`) in
:mod:`conveyor.features._sources`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from conveyor.core import hash_json
from conveyor.features._errors import FeatureDefinitionError, FeatureNotFoundError
from conveyor.features._names import checked_column, checked_name
from conveyor.features._names import feature_ref as feature_ref  # noqa: PLC0414 - re-exported
from conveyor.features._names import split_ref as split_ref  # noqa: PLC0414 - re-exported
from conveyor.features._schema import DTYPES as DTYPES  # noqa: PLC0414 - re-exported
from conveyor.features._schema import Field as Field  # noqa: PLC0414 - re-exported
from conveyor.features._schema import schema_fields
from conveyor.features._sources import Transformation as Transformation  # noqa: PLC0414 - re-exported
from conveyor.features._sources import dataset_ref
from conveyor.features._sources import (
    transformation as transformation,  # noqa: PLC0414 - re-exported
)

__all__ = [
    "DTYPES",
    "Definitions",
    "Entity",
    "FeatureService",
    "FeatureView",
    "Field",
    "Transformation",
    "definition_hash",
    "feature_ref",
    "lookup_view",
    "split_ref",
    "transformation",
]


OnMissing = Literal["error", "default"]


@dataclass(frozen=True)
class Entity:
    """What features describe (a user, a product), identified by its join key column(s).

    Args:
        name: The entity's name.
        join_keys: The column(s) whose values identify one entity (``"user_id"``).
        description: Free text.
    """

    name: str
    join_keys: tuple[str, ...]
    description: str = ""

    def __init__(
        self, name: str, join_keys: str | Sequence[str] | None = None, description: str = ""
    ) -> None:
        keys = (join_keys,) if isinstance(join_keys, str) else tuple(join_keys or (f"{name}_id",))
        if not keys:
            raise FeatureDefinitionError(
                f"Entity {name!r} has no join key.", hint='Pass join_keys=["<column>"].'
            )
        object.__setattr__(self, "name", checked_name(name, "entity name"))
        object.__setattr__(self, "join_keys", tuple(checked_column(k, "join key") for k in keys))
        object.__setattr__(self, "description", str(description))
        if len(set(self.join_keys)) != len(self.join_keys):
            raise FeatureDefinitionError(
                f"Entity {name!r} names a join key twice: {list(self.join_keys)}.",
                hint="List each join key once.",
            )

    def spec(self) -> dict[str, Any]:
        """The definition as a JSON document (what its version hash covers)."""
        return {"kind": "entity", "name": self.name, "join_keys": list(self.join_keys)}


@dataclass(frozen=True)
class FeatureView:
    """Features of one or more entities, read from a versioned dataset (or a
    transformation over one), each row valid from its timestamp on.

    Args:
        name: The view's name (``view:feature`` names one of its features).
        entities: The entities whose join keys identify a row.
        source: A dataset reference (``"users@latest"``, ``"users@3"``) or a
            :func:`transformation`.
        schema: The features, ``{"name": "dtype"}`` or :class:`Field` objects.
        ttl: How long a value stays valid after its timestamp (``None``: forever).
        timestamp_field: The column holding when each row's values became true.
        description: Free text.
    """

    name: str
    entities: tuple[Entity, ...]
    source: str | Transformation
    schema: tuple[Field, ...]
    ttl: timedelta | None = None
    timestamp_field: str = "event_timestamp"
    description: str = ""

    def __init__(
        self,
        name: str,
        *,
        entities: Sequence[Entity],
        source: str | Transformation,
        schema: Mapping[str, str] | Iterable[Field | str],
        ttl: timedelta | None = None,
        timestamp_field: str = "event_timestamp",
        description: str = "",
    ) -> None:
        name = checked_name(name, "feature view name")
        ents = tuple(entities)
        if not ents or not all(isinstance(e, Entity) for e in ents):
            raise FeatureDefinitionError(
                f"Feature view {name!r} needs at least one Entity, got {list(entities)!r}.",
                hint="Pass entities=[Entity(...)].",
                view=name,
            )
        if ttl is not None and (not isinstance(ttl, timedelta) or ttl <= timedelta(0)):
            raise FeatureDefinitionError(
                f"Feature view {name!r}: ttl must be a positive timedelta or None, got {ttl!r}.",
                hint="Pass ttl=timedelta(days=30), or None for values that never expire.",
                view=name,
            )
        src = source if isinstance(source, Transformation) else dataset_ref(source)
        fields = schema_fields(schema, name)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "entities", ents)
        object.__setattr__(self, "source", src)
        object.__setattr__(self, "schema", fields)
        object.__setattr__(self, "ttl", ttl)
        object.__setattr__(
            self, "timestamp_field", checked_column(timestamp_field, "timestamp field")
        )
        object.__setattr__(self, "description", str(description))
        taken = {*self.join_keys, self.timestamp_field}
        clash = [f.name for f in fields if f.name in taken]
        if clash:
            raise FeatureDefinitionError(
                f"Feature view {name!r}: {clash} is a join key or the timestamp field, not a "
                "feature.",
                hint="Leave join keys and the timestamp out of the schema.",
                view=name,
            )

    @property
    def join_keys(self) -> tuple[str, ...]:
        """The join key columns of all its entities, in order."""
        keys: list[str] = []
        for entity in self.entities:
            keys.extend(k for k in entity.join_keys if k not in keys)
        return tuple(keys)

    @property
    def features(self) -> tuple[str, ...]:
        """The feature names, in schema order."""
        return tuple(f.name for f in self.schema)

    @property
    def dataset(self) -> str:
        """The dataset reference the view reads (``name@version`` or ``name@latest``)."""
        return self.source.dataset if isinstance(self.source, Transformation) else self.source

    def field(self, name: str) -> Field:
        """The :class:`Field` called ``name``.

        Raises:
            FeatureNotFoundError: The view has no such feature (the message lists them).
        """
        for f in self.schema:
            if f.name == name:
                return f
        raise FeatureNotFoundError(
            f"Feature view {self.name!r} has no feature {name!r}; its features are "
            f"{', '.join(self.features)}.",
            hint=f"Use one of {', '.join(f'{self.name}:{f}' for f in self.features)}.",
            view=self.name,
            feature=name,
        )

    def spec(self) -> dict[str, Any]:
        """The definition as a JSON document (what its version hash covers)."""
        transform = None
        if isinstance(self.source, Transformation):
            transform = {"name": self.source.name, "source_hash": self.source.source_hash}
        return {
            "kind": "view",
            "name": self.name,
            "entities": [e.spec() for e in self.entities],
            "dataset": self.dataset,
            "transformation": transform,
            "schema": [f.spec() for f in self.schema],
            "ttl_s": None if self.ttl is None else self.ttl.total_seconds(),
            "timestamp_field": self.timestamp_field,
        }


@dataclass(frozen=True)
class FeatureService:
    """The features one model uses, named once for training and serving.

    Args:
        name: The service's name.
        features: ``"view:feature"`` references, ``"view"`` for all of a view's features,
            or :class:`FeatureView` objects.
        on_missing: What serving does with an entity key that has no online values:
            ``"error"`` (the request is refused, naming the key) or ``"default"`` (each
            feature's declared default is used).
        description: Free text.
    """

    name: str
    features: tuple[str, ...]
    on_missing: OnMissing = "error"
    description: str = ""
    _views: tuple[FeatureView, ...] = field(default=(), repr=False, compare=False)

    def __init__(
        self,
        name: str,
        features: Sequence[str | FeatureView],
        *,
        on_missing: OnMissing = "error",
        description: str = "",
    ) -> None:
        name = checked_name(name, "feature service name")
        if on_missing not in ("error", "default"):
            raise FeatureDefinitionError(
                f"Feature service {name!r}: on_missing must be 'error' or 'default', got "
                f"{on_missing!r}.",
                hint="Choose on_missing='error' or on_missing='default'.",
            )
        refs: list[str] = []
        views: list[FeatureView] = []
        for item in features:
            if isinstance(item, FeatureView):
                views.append(item)
                refs.extend(feature_ref(item.name, f) for f in item.features)
            else:
                view, feature = split_ref(item)
                refs.append(item if feature else view)
        if not refs:
            raise FeatureDefinitionError(
                f"Feature service {name!r} names no features.",
                hint="Pass features=[view, 'view:feature', ...].",
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "features", tuple(dict.fromkeys(refs)))
        object.__setattr__(self, "on_missing", on_missing)
        object.__setattr__(self, "description", str(description))
        object.__setattr__(self, "_views", tuple(views))

    def resolved(self, views: Mapping[str, FeatureView]) -> tuple[str, ...]:
        """Its features as explicit ``view:feature`` references, checked against ``views``.

        Raises:
            FeatureNotFoundError: A view or feature does not exist.
        """
        out: list[str] = []
        for ref in self.features:
            view_name, feature = split_ref(ref)
            view = lookup_view(views, view_name)
            if feature is None:
                out.extend(feature_ref(view.name, f) for f in view.features)
            else:
                out.append(feature_ref(view.name, view.field(feature).name))
        return tuple(dict.fromkeys(out))

    def spec(self, views: Mapping[str, FeatureView]) -> dict[str, Any]:
        """The definition as a JSON document, features resolved (what its hash covers)."""
        return {
            "kind": "service",
            "name": self.name,
            "features": list(self.resolved(views)),
            "on_missing": self.on_missing,
        }


def lookup_view(views: Mapping[str, FeatureView], name: str) -> FeatureView:
    """``views[name]``, or an error that lists the views there are."""
    try:
        return views[name]
    except KeyError:
        known = ", ".join(sorted(views)) or "none"
        raise FeatureNotFoundError(
            f"No feature view named {name!r}; the views are: {known}.",
            hint="Check the name, or run `conveyor features apply` after defining it.",
            view=name,
        ) from None


@dataclass(frozen=True)
class Definitions:
    """The entities, views and services of a project's ``features.py``, by name."""

    entities: dict[str, Entity]
    views: dict[str, FeatureView]
    services: dict[str, FeatureService]

    @classmethod
    def collect(cls, objects: Iterable[object]) -> Definitions:
        """Gather definitions from ``objects`` (a module's values, say).

        Entities used by views count even when not named at module level. Two different
        definitions of one kind and name are an error.

        Raises:
            FeatureDefinitionError: Two definitions share a kind and a name.
            FeatureNotFoundError: A service names a view or feature that does not exist.
        """
        entities: dict[str, Entity] = {}
        views: dict[str, FeatureView] = {}
        services: dict[str, FeatureService] = {}

        def put(table: dict[str, Any], kind: str, item: Any) -> None:
            found = table.get(item.name)
            if found is not None and found is not item and found != item:
                raise FeatureDefinitionError(
                    f"Two different {kind}s are named {item.name!r}.",
                    hint=f"Give each {kind} its own name.",
                    name=item.name,
                )
            table[item.name] = item

        items = list(objects)
        for item in items:
            if isinstance(item, FeatureService):
                for view in item._views:
                    items.append(view)
        for item in items:
            if isinstance(item, FeatureView):
                put(views, "feature view", item)
                for entity in item.entities:
                    put(entities, "entity", entity)
            elif isinstance(item, Entity):
                put(entities, "entity", item)
            elif isinstance(item, FeatureService):
                put(services, "feature service", item)
        for service in services.values():
            service.resolved(views)
        return cls(entities, views, services)

    def specs(self) -> list[tuple[str, str, dict[str, Any]]]:
        """``(kind, name, spec)`` of every definition: entities, views, then services."""
        out: list[tuple[str, str, dict[str, Any]]] = []
        out += [("entity", n, e.spec()) for n, e in sorted(self.entities.items())]
        out += [("view", n, v.spec()) for n, v in sorted(self.views.items())]
        out += [("service", n, s.spec(self.views)) for n, s in sorted(self.services.items())]
        return out


def definition_hash(spec: Mapping[str, Any]) -> str:
    """The identity of a definition: the hash of its canonical JSON."""
    return hash_json(dict(spec))
