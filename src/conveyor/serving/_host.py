"""The loaded models a server answers with, and the router that picks one per request.

A :class:`ModelHost` keeps an immutable :class:`HostState` (every loaded version keyed by
``(name, version)``, the default version per name and, when it serves a deployment, the
deployment with its loaded variant per role) and replaces it in one assignment, so a request
sees either the old or the new set, never a mixture, and requests in flight keep the model
they picked. Loading runs in a background thread; until it finishes the host is not ready.
A deployment can also be staged to take over once a gate opens
(:meth:`ModelHost.stage_deployment`): every request checks the gate while a revision is
staged, so worker processes gated on one shared switch file all answer with the new
revision from the moment the file exists.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.serving._errors import ModelNotServedError, NotReadyError
from conveyor.serving._model import ServedModel

if TYPE_CHECKING:
    from conveyor.deployments import Deployment

ModelKey = tuple[str, int]


@dataclass(frozen=True)
class HostState:
    """An immutable snapshot of what a host serves.

    Attributes:
        models: Every loaded version by ``(name, version)``.
        defaults: The version answering requests that do not name one, by model name.
        default_name: The model answering requests that name none (the first one added).
        deployment: The deployment served (a ``conveyor.deployments.Deployment``), if any.
        variants: The loaded model of each variant of ``deployment``, by role.
    """

    models: Mapping[ModelKey, ServedModel] = field(default_factory=lambda: MappingProxyType({}))
    defaults: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    default_name: str | None = None
    deployment: Deployment | None = None
    variants: Mapping[str, ServedModel] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class RouteRequest:
    """What a router may look at to pick a version.

    Attributes:
        name: The model the request names (``None``: the server's default model).
        version: The version the request names, if any (then no routing happens).
        request_id: The request's id (stable hashing by id keeps a caller on one variant).
        headers: The request headers, lower-cased names.
        payload: The parsed JSON body (sticky routing by an input column reads it).
    """

    name: str | None
    version: int | None
    request_id: str
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    payload: Any = None


class Router(Protocol):
    """Picks the loaded version answering one request.

    Called on the event loop for every request: it must be fast and must not block. It
    returns ``None`` when nothing fits; the host then answers 404.
    """

    def pick(self, state: HostState, request: RouteRequest) -> ServedModel | None:
        """Return the version answering ``request`` among ``state.models``."""


class DefaultRouter:
    """Answers with the default version of the requested model (one served version per name)."""

    def pick(self, state: HostState, request: RouteRequest) -> ServedModel | None:
        """Return the default version of ``request.name`` (or of the default model)."""
        name = request.name if request.name is not None else state.default_name
        if name is None:
            return None
        version = state.defaults.get(name)
        return None if version is None else state.models.get((name, version))


class ModelHost:
    """Holds loaded model versions, swaps them atomically, and routes requests among them.

    Thread safety: writers (``add``, ``swap``, background loads) serialise on a lock and
    publish a new :class:`HostState` with one assignment; readers never lock.

    Args:
        router: Picks the version per request; :class:`DefaultRouter` when omitted.

    Example:
        >>> host = ModelHost()
        >>> host.ready
        False
    """

    def __init__(self, router: Router | None = None) -> None:
        self.router: Router = router if router is not None else DefaultRouter()
        self._state = HostState()
        self._lock = threading.Lock()
        self._loading = 0
        self.load_error: BaseException | None = None
        self._staged: tuple[Callable[[], bool], HostState] | None = None

    @property
    def state(self) -> HostState:
        """The current snapshot (never mutated; a swap publishes a new one)."""
        return self._current()

    @property
    def staged(self) -> Deployment | None:
        """The deployment waiting for its gate to open (``None`` if none is staged)."""
        staged = self._staged
        return None if staged is None else staged[1].deployment

    def adopt_staged(self) -> bool:
        """Serve the staged deployment now if its gate is open; True if one was adopted."""
        staged = self._staged
        self._current()
        return staged is not None and self._staged is None

    def _current(self) -> HostState:
        """The snapshot serving now: a staged one once its gate is open."""
        staged = self._staged
        if staged is not None and staged[0]():
            with self._lock:
                if self._staged is staged:
                    self._state = staged[1]
                    self._staged = None
        return self._state

    @property
    def ready(self) -> bool:
        """True when at least one model is loaded and no load is pending or failed."""
        served = self._current()  # a staged revision whose gate opened counts
        return bool(served.models) and self._loading == 0 and self.load_error is None

    def add(self, model: ServedModel, *, default: bool = True) -> None:
        """Serve ``model`` beside the loaded ones (replacing the same name and version).

        Args:
            model: The loaded version.
            default: Make it the version answering requests that name no version.
        """
        with self._lock:
            old = self._state
            models = dict(old.models)
            models[model.key] = model
            defaults = dict(old.defaults)
            if default or model.name not in defaults:
                defaults[model.name] = model.version
            self._publish(models, defaults, old.default_name or model.name)

    def swap(self, models: Iterable[ServedModel], *, default_name: str | None = None) -> None:
        """Replace everything served by ``models`` at once (the last of a name is its default)."""
        items = list(models)
        with self._lock:
            table = {m.key: m for m in items}
            defaults = {m.name: m.version for m in items}
            first = default_name or (items[0].name if items else None)
            self._publish(table, defaults, first)

    def serve_deployment(self, deployment: Deployment, variants: Mapping[str, ServedModel]) -> None:
        """Serve ``deployment`` with its loaded ``variants`` (by role), replacing everything.

        The default version of each name is its heaviest live variant, so requests that
        name a model but no version still follow the deployment.
        """
        state = _deployment_state(deployment, variants)
        with self._lock:
            self._staged = None
            self._state = state

    def stage_deployment(
        self, deployment: Deployment, variants: Mapping[str, ServedModel], gate: Callable[[], bool]
    ) -> None:
        """Serve ``deployment`` (as :meth:`serve_deployment`) once ``gate()`` is true.

        Requests routed while the gate is closed get what is served now; the first
        request (or :meth:`adopt_staged`) that finds it open switches, and every later one
        gets ``deployment``. The gate is called once per request while a revision is
        staged, so it must be cheap and must stay open once open. A later stage or serve
        replaces this one.

        Args:
            deployment: The revision to serve.
            variants: Its loaded variants, by role.
            gate: True once the revision may take over.
        """
        state = _deployment_state(deployment, variants)
        with self._lock:
            self._staged = (gate, state)
        self._current()

    def remove(self, name: str, version: int) -> None:
        """Stop serving one version (requests already holding it finish with it)."""
        with self._lock:
            old = self._state
            models = {k: v for k, v in old.models.items() if k != (name, version)}
            defaults = dict(old.defaults)
            if defaults.get(name) == version:
                remaining = sorted(v for (n, v) in models if n == name)
                if remaining:
                    defaults[name] = remaining[-1]
                else:
                    del defaults[name]
            first = old.default_name if old.default_name in defaults else next(iter(defaults), None)
            self._publish(models, defaults, first)

    def load_in_background(
        self, loader: Callable[[], ServedModel], *, default: bool = True
    ) -> threading.Thread:
        """Run ``loader`` in a thread and serve its result; readiness stays false until then.

        A failing loader leaves the host not ready and keeps the exception in ``load_error``.

        Returns:
            The started thread (join it to wait for the load).
        """
        with self._lock:
            self._loading += 1

        def run() -> None:
            try:
                model = loader()
            except BaseException as exc:  # noqa: BLE001 - reported through load_error/readiness
                self.load_error = exc
            else:
                self.add(model, default=default)
            finally:
                with self._lock:
                    self._loading -= 1

        thread = threading.Thread(target=run, name="conveyor-model-load", daemon=True)
        thread.start()
        return thread

    def route(self, request: RouteRequest) -> ServedModel:
        """Return the version answering ``request``.

        Raises:
            NotReadyError: Nothing is loaded yet.
            ModelNotServedError: The named model or version is not served.
        """
        state = self._current()
        if request.version is not None and request.name is not None:
            model = state.models.get((request.name, request.version))
        else:
            model = self.router.pick(state, request)
        if model is not None:
            return model
        if not state.models:
            raise NotReadyError(
                "No model is loaded yet.",
                hint="Wait until /v2/health/ready answers 200.",
            )
        raise self.not_served(request.name, request.version)

    def not_served(self, name: str | None, version: int | None) -> ModelNotServedError:
        """The error for a model or version this host does not serve, listing what it does."""
        served = ", ".join(f"{n}@{v}" for n, v in sorted(self._state.models)) or "nothing"
        what = f"{name}@{version}" if version is not None else f"{name}"
        return ModelNotServedError(
            f"Model {what} is not served here. Served: {served}.",
            hint="Send the request to a served model name and version.",
            name=name,
            version=version,
        )

    def _publish(
        self, models: dict[ModelKey, ServedModel], defaults: dict[str, int], first: str | None
    ) -> None:
        self._state = HostState(MappingProxyType(models), MappingProxyType(defaults), first)


def _deployment_state(deployment: Deployment, variants: Mapping[str, ServedModel]) -> HostState:
    """The snapshot serving ``deployment``: defaults are each name's heaviest live variant."""
    by_weight = sorted(deployment.variants, key=lambda variant: variant.weight, reverse=True)
    models: dict[ModelKey, ServedModel] = {}
    defaults: dict[str, int] = {}
    for variant in by_weight:
        model = variants.get(variant.role)
        if model is None:
            continue
        models.setdefault(model.key, model)
        defaults.setdefault(model.name, model.version)
    return HostState(
        MappingProxyType(models),
        MappingProxyType(defaults),
        next(iter(defaults), None),
        deployment,
        MappingProxyType(dict(variants)),
    )
