"""REST implementations of the records interfaces, built from the interfaces themselves.

``rest_records(BaseRunRecords, client)`` returns a ``RestRunRecords``: a subclass of the
interface whose every abstract method sends its arguments to
``POST /api/v1/records/run/<method>`` and decodes the answer. The subclass is built from
the interface's own signatures (:mod:`conveyor.remote._codec`) rather than written by
hand once per interface, so the REST implementation covers each interface completely by
construction; the shipped contract suites (:mod:`conveyor.testing.records`) check it
behaves like the SQL one. The actor of a write is never sent: the server records the
identity of the token that made the request.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from conveyor.remote._client import RemoteClient
from conveyor.remote._codec import MethodSpec, method_specs

T = TypeVar("T")

_classes: dict[type[Any], type[Any]] = {}
_lock = threading.Lock()


def rest_records(base: type[T], client: RemoteClient) -> T:
    """The REST implementation of the records interface ``base`` over ``client``.

    Example:
        >>> runs = rest_records(BaseRunRecords, RemoteClient(url, token))  # doctest: +SKIP
        >>> runs.get_run("3f2a...").status  # doctest: +SKIP
        'finished'
    """
    return rest_class(base)(client)  # type: ignore[call-arg]


def rest_class(base: type[T]) -> type[T]:
    """The class ``Rest<Thing>Records`` implementing ``base`` (built once per interface)."""
    with _lock:
        cls = _classes.get(base)
        if cls is None:
            cls = _classes[base] = _build(base)
        return cls


def _build(base: type[Any]) -> type[Any]:
    specs = method_specs(base)
    name = "Rest" + base.__name__.removeprefix("Base")

    def __init__(self: Any, client: RemoteClient) -> None:
        self.client = client

    def __repr__(self: Any) -> str:
        return f"{name}({self.client.url!r})"

    namespace: dict[str, Any] = {
        "__init__": __init__,
        "__repr__": __repr__,
        "__doc__": f"{base.__name__} through a conveyor server's REST API.",
        "__module__": __name__,
    }
    for method, spec in specs.items():
        namespace[method] = _forward(getattr(base, method), spec)
    return type(name, (base,), namespace)


def _forward(original: Callable[..., Any], spec: MethodSpec) -> Callable[..., Any]:
    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = spec.signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        return self.client.call(spec, bound.arguments)

    method.__isabstractmethod__ = False  # type: ignore[attr-defined]
    return method
