"""Serving a model trained with a feature service: requests carry entity keys, the server
looks the features up.

A version whose tags carry ``conveyor.feature_service`` (``SERVICE_TAG``, ``"name@3"``) is
loaded with a :class:`FeatureAssembler`. A request to it sends the entity keys and the
request-time features (signature columns the service does not provide), validated like any
request; a column the service provides is refused (422 ``feature_column_sent``), so no
client bypasses the store and trains one thing while serving another. The server reads the
service's features from the online store (``FeatureStore.online``: one lookup per view for
the whole request, blocking I/O run in a worker thread), checks each value against its
signature column and hands the assembled rows to the model; the prediction log records the
assembled rows, what the model saw.

A missing entity follows the service's ``on_missing`` policy (422 naming the key, or the
declared defaults); an unreachable online store answers 503 naming its address, and the
next request tries again. Every lookup is timed, and every failed one counted by reason
(``unavailable``, ``missing_entity``, ``invalid_key``, ``failed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from conveyor.errors import ConveyorError
from conveyor.serving._errors import (
    EntityNotFoundError,
    FeatureLookupFailedError,
    FeatureServingError,
    FeatureStoreUnavailableError,
    InvalidEntityKeyError,
    RequestError,
)
from conveyor.serving._inputs import Rows, with_features
from conveyor.serving._model import InputColumn, ServedModel
from conveyor.serving._settings import ServingSettings

__all__ = ["FeatureAssembler", "LookupObserver", "assembler_for", "service_ref"]

#: The model-version tag naming the feature service a version was trained with (the
#: feature store's ``SERVICE_TAG``, repeated so that importing serving stays light).
SERVICE_TAG = "conveyor.feature_service"
RowParser = Callable[[ServedModel, Mapping[str, Any], ServingSettings], Rows]
#: Called after each lookup with ``(model, seconds, reason)``; ``reason`` is ``None`` on
#: success, else ``unavailable``, ``missing_entity``, ``invalid_key`` or ``failed``.
LookupObserver = Callable[[ServedModel, float, str | None], None]
#: ``entity rows -> one {feature: value} per row`` (``FeatureStore.online`` for a service).
Lookup = Callable[[Sequence[Mapping[str, Any]]], list[dict[str, Any]]]


class _RequestOnly:
    """The predictor of a request-side view: such a view parses requests, never predicts."""

    def predict(self, frame: Any) -> Any:
        raise TypeError("The request-side view of a served model does not predict.")


class FeatureAssembler:
    """Assembles a served version's full rows from request values and online features.

    Thread safety: :meth:`rows` and :meth:`assemble` block on the online store and may run
    in several threads at once (the online stores keep a connection per thread, or a pool).

    Args:
        model: The served version (its signature columns are the assembled row).
        service: The service reference it was trained with (``life@1``).
        lookup: Reads the service's features of entity rows from the online store.
        join_keys: The entity key columns of the service's views, in order.
        provided: The service's feature names (a request may not send them).
        key_types: The type of each join key in the feature store (``"string"``,
            ``"long"``...; ``"any"`` or absent: unknown, the online store checks values).
            A key the signature does not name is validated as this type; an integral
            float sent for a ``long`` key is looked up as the integer.

    Example:
        >>> from conveyor.serving import InputColumn, ServedModel
        >>> served = ServedModel("m", 1, None, (InputColumn("x", "double"),))
        >>> fa = FeatureAssembler(
        ...     served, "s@1", lambda rows: [{"x": 2.0} for _ in rows],
        ...     join_keys=["id"], provided={"x"},
        ... )
        >>> [c.name for c in fa.request.columns]
        ['id']
    """

    def __init__(
        self,
        model: ServedModel,
        service: str,
        lookup: Lookup,
        *,
        join_keys: Sequence[str],
        provided: set[str] | frozenset[str],
        key_types: Mapping[str, str] | None = None,
    ) -> None:
        self.service = service
        self.join_keys = tuple(join_keys)
        self.provided = frozenset(provided) - set(self.join_keys)
        self._lookup = lookup
        self._key_types = {key: (key_types or {}).get(key, "any") for key in self.join_keys}
        columns = [
            model.column_index.get(key) or InputColumn(key, self._key_types[key])
            for key in self.join_keys
        ]
        columns += [
            c for c in model.columns if c.name not in self.provided and c.name not in join_keys
        ]
        #: The request-side view: what a request carries, validated by the usual parsers.
        self.request = ServedModel(
            model.name,
            model.version,
            _RequestOnly(),
            tuple(columns),
            variant=model.variant,
            revision=model.revision,
            provided=self.provided,
        )

    def __repr__(self) -> str:
        return f"FeatureAssembler(service={self.service!r}, keys={list(self.join_keys)!r})"

    def rows(
        self,
        model: ServedModel,
        payload: Mapping[str, Any],
        parse: RowParser,
        settings: ServingSettings,
        observe: LookupObserver | None = None,
    ) -> Rows:
        """``payload`` parsed by ``parse`` as request rows, then assembled (blocking).

        Raises:
            RequestError: The payload is refused (as any request), or the lookup failed.
        """
        return self.assemble(model, parse(self.request, payload, settings), settings, observe)

    def assemble(
        self,
        model: ServedModel,
        request: Rows,
        settings: ServingSettings,
        observe: LookupObserver | None = None,
    ) -> Rows:
        """The full rows of ``model``: ``request``'s columns and the looked-up features.

        Raises:
            EntityNotFoundError: An entity has no online features, policy ``"error"`` (422).
            InvalidEntityKeyError: A key value the store cannot look up (422).
            FeatureStoreUnavailableError: The online store cannot be reached (503).
            FeatureLookupFailedError: The lookup failed otherwise (500).
            InvalidValueError: A looked-up value does not fit its column (422).
        """
        keys = [(key, request.columns[key], self._key_types[key]) for key in self.join_keys]
        entities = [
            {key: _key(values[i], kind) for key, values, kind in keys} for i in range(request.n)
        ]
        started = time.perf_counter()
        reason: str | None = None
        try:
            found = self._lookup(entities)
        except Exception as exc:
            error = self._request_error(model, exc)
            reason = _REASONS.get(error.code, "failed")
            raise error from exc
        finally:
            if observe is not None:
                observe(model, time.perf_counter() - started, reason)
        wanted = [c.name for c in model.columns if c.name not in request.columns]
        values = {name: [_value(row.get(name)) for row in found] for name in wanted}
        return with_features(model, request, values, settings)

    def _request_error(self, model: ServedModel, exc: Exception) -> RequestError:
        from conveyor.features import (
            EntityFrameError,
            MissingEntityError,
            OnlineStoreUnavailableError,
        )

        subject = f"{model.name}@{model.version}"
        if isinstance(exc, MissingEntityError):
            return EntityNotFoundError(
                exc.message,
                hint="Check the entity key; a new entity has features once its view is "
                "materialized (or the service declares on_missing='default').",
                entity=str(exc.fields.get("key", "")),
                view=str(exc.fields.get("view", "")),
            )
        if isinstance(exc, OnlineStoreUnavailableError):
            return FeatureStoreUnavailableError(
                f"Features of {subject} cannot be looked up: {exc.message}",
                hint="Retry shortly; the server keeps serving and reconnects by itself.",
                service=self.service,
            )
        if isinstance(exc, EntityFrameError):
            return InvalidEntityKeyError(
                exc.message,
                hint=f"Send {', '.join(self.join_keys)} as strings, booleans, finite numbers "
                "or 64-bit integers.",
                columns=list(self.join_keys),
            )
        what = exc.message if isinstance(exc, ConveyorError) else f"{type(exc).__name__}: {exc}"
        return FeatureLookupFailedError(
            f"Looking up the features of {subject} (service {self.service}) failed: {what}",
            hint="Check the feature store (`conveyor features list`) and the server log.",
            service=self.service,
        )


_REASONS = {
    EntityNotFoundError.code: "missing_entity",
    FeatureStoreUnavailableError.code: "unavailable",
    InvalidEntityKeyError.code: "invalid_key",
}


def _key(value: Any, kind: str) -> Any:
    """A request's key value as the feature store keys it: the online store tells ``1``
    from ``1.0``, and a signature may read an integer key as a double. A key from a column
    checked as a whole is a numpy scalar: it is looked up as the Python value."""
    if isinstance(value, np.generic):
        value = value.item()
    if kind == "long" and type(value) is float and value.is_integer():
        return int(value)
    if kind == "double" and type(value) is int:
        return float(value)
    return value


def _value(value: Any) -> Any:
    """An online value as request values look (a datetime as its ISO 8601 text)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def service_ref(tags: Any) -> str | None:
    """The feature service a version's tags name (``None`` when it was trained without)."""
    if not isinstance(tags, Mapping):
        return None
    ref = tags.get(SERVICE_TAG)
    return None if ref is None else str(ref)


def assembler_for(ws: Any, model: ServedModel, tags: Any) -> FeatureAssembler | None:
    """The assembler of ``model`` when its tags name a feature service, else ``None``.

    Args:
        ws: The open workspace the version is served from (``ws.features``).
        model: The loaded version.
        tags: The version's tags.

    Raises:
        FeatureServingError: The version names a service the project's feature store
            cannot provide (none applied, a remote workspace, definitions that fail to
            load), or it has no signature to assemble rows for.
    """
    ref = service_ref(tags)
    if ref is None:
        return None
    subject = f"{model.name}@{model.version}"
    if not model.columns:
        raise FeatureServingError(
            f"Model {subject} is tagged with feature service {ref!r} but has no signature, "
            "so the server cannot assemble its rows.",
            hint="Register it again with an input example of the assembled columns.",
            model=subject,
            service=ref,
        )
    try:
        store = ws.features
        service = store.service_version(ref)
        wanted = store.resolve(service)
        views = store.definitions().views
    except ConveyorError as exc:
        raise FeatureServingError(
            f"Model {subject} needs feature service {ref!r} (tag {SERVICE_TAG}), which the "
            f"project's feature store cannot provide: {exc.message}",
            hint="Serve it from its project folder, after `conveyor features apply` and "
            "`conveyor features materialize`.",
            model=subject,
            service=ref,
        ) from exc
    keys: list[str] = []
    for name in wanted.views:
        keys.extend(k for k in views[name].join_keys if k not in keys)
    provided = {f for names in wanted.views.values() for f in names}
    types = {
        key: _key_type(store, [v for v in wanted.views if key in views[v].join_keys], key)
        for key in keys
    }

    def lookup(entities: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = store.online(entities, service)
        return found

    return FeatureAssembler(
        model, service.ref, lookup, join_keys=keys, provided=provided, key_types=types
    )


def _key_type(store: Any, views: Sequence[str], key: str) -> str:
    """The column type of join key ``key`` in the first view's offline table (``"any"``
    when it cannot be read: the online store then checks the values)."""
    import pyarrow as pa

    for view in views:
        try:
            kind = store.table(view).schema.field(key).type
        except (ConveyorError, KeyError, OSError, ValueError):
            continue
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return "string"
        if pa.types.is_boolean(kind):
            return "boolean"
        if pa.types.is_integer(kind):
            return "long"
        if pa.types.is_floating(kind):
            return "double"
    return "any"
