"""Routing requests among the variants of a deployment: weights, stickiness, shadows.

:class:`DeploymentRouter` applies :func:`conveyor.deployments.choose_variant`, the same
rule the rollout simulator uses, to the deployment the host serves: a variant at 0 % never
answers. With a sticky key (``deployment.params["sticky_key"]``, else the environment's
``sticky_key``) the position comes from a blake3 hash of the key's value, so one caller
lands on one variant in every worker process and after restarts; a key is a header name
or ``column:<input column>`` (read from the first row of the body). Requests without a key
value are placed at random.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from conveyor.deployments import choose_variant
from conveyor.serving._host import DefaultRouter, HostState, RouteRequest
from conveyor.serving._model import ServedModel

COLUMN_PREFIX = "column:"


def sticky_value(key: str, request: RouteRequest) -> str | None:
    """The value of sticky ``key`` in ``request`` (``None`` when absent).

    Args:
        key: A header name, or ``column:<name>`` for an input column.
        request: The request being routed.

    Example:
        >>> sticky_value("x-user-id", RouteRequest(None, None, "r", {"x-user-id": "u1"}))
        'u1'
    """
    if key.startswith(COLUMN_PREFIX):
        value = first_row_value(request.payload, key[len(COLUMN_PREFIX) :])
        return None if value is None else str(value)
    return request.headers.get(key.lower())


def first_row_value(payload: Any, column: str) -> Any:
    """The value of ``column`` in the first row of a request body, in any accepted shape.

    Shapes: ``rows`` / ``dataframe_records`` / ``instances`` (rows as objects),
    ``columns`` / ``inputs`` / ``instances`` (an object of columns) and ``dataframe_split``.
    """
    if not isinstance(payload, Mapping):
        return None
    for name in ("rows", "dataframe_records", "instances", "inputs"):
        value = payload.get(name)
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            return value[0].get(column)
        if isinstance(value, Mapping):
            return _first(value.get(column))
    columns = payload.get("columns")
    if isinstance(columns, Mapping):
        return _first(columns.get(column))
    split = payload.get("dataframe_split")
    if isinstance(split, Mapping):
        names, data = split.get("columns"), split.get("data")
        if isinstance(names, list) and column in names and isinstance(data, list) and data:
            row = data[0]
            index = names.index(column)
            if isinstance(row, list) and index < len(row):
                return row[index]
    return None


def _first(values: Any) -> Any:
    if isinstance(values, list):
        return values[0] if values else None
    return values


class DeploymentRouter:
    """Routes each request to a live variant of the deployment the host serves.

    Outside a deployment (``state.deployment is None``) it answers like
    :class:`~conveyor.serving.DefaultRouter`. A request naming a model that no variant
    serves is answered by that model's default version, if the host has one.

    Called on the event loop for every request: no I/O, no locks.

    Args:
        sticky_key: The environment's sticky key, used when the deployment's parameters
            name none.
        rnd: Uniform numbers in ``[0, 1)`` for requests without a key value.

    Example:
        >>> router = DeploymentRouter(sticky_key="x-user-id")
        >>> router.pick(HostState(), RouteRequest(None, None, "r1")) is None
        True
    """

    def __init__(
        self, *, sticky_key: str | None = None, rnd: Callable[[], float] = random.random
    ) -> None:
        self.sticky_key = sticky_key
        self._rnd = rnd
        self._fallback = DefaultRouter()

    def pick(self, state: HostState, request: RouteRequest) -> ServedModel | None:
        """Return the loaded model of the variant answering ``request``."""
        deployment = state.deployment
        if deployment is None:
            return self._fallback.pick(state, request)
        if request.name is not None and all(
            variant.model != request.name for variant in deployment.live
        ):
            return self._fallback.pick(state, request)
        key = self.key_of(state, request)
        variant = choose_variant(deployment, key, 0.0 if key is not None else self._rnd())
        return state.variants.get(variant.role)

    def key_of(self, state: HostState, request: RouteRequest) -> str | None:
        """The sticky key value of ``request`` under the served deployment, if any."""
        deployment = state.deployment
        params = {} if deployment is None else deployment.params
        key = params.get("sticky_key") or self.sticky_key
        if not key:
            return None
        return sticky_value(str(key), request)

    @staticmethod
    def shadow(state: HostState) -> tuple[ServedModel, float] | None:
        """The shadow variant's model and its time budget in seconds, if one is served."""
        deployment = state.deployment
        if deployment is None or deployment.shadow is None:
            return None
        model = state.variants.get("shadow")
        if model is None:
            return None
        timeout_ms = float(deployment.params.get("shadow_timeout_ms", 250.0))
        return model, timeout_ms / 1000.0
