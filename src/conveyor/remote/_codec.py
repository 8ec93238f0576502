"""How a records method travels over HTTP: its arguments and its answer as JSON.

The wire format is derived from the records interface itself (the abstract methods of a
``Base<Thing>Records`` class and their type hints), so the SQL implementation, the REST
client and the control plane's routes cannot drift apart: a method added to an interface
is on the wire the moment it exists, with the same types. pydantic does the encoding
(dataclasses, datetimes, mappings, literals and enums), one ``TypeAdapter`` per type.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import importlib
import inspect
import os
import re
import threading
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    WithJsonSchema,
    create_model,
)

from conveyor.core import Actor

#: JSON as every method's arguments and answers are written: NaN and infinities as the
#: ``NaN``/``Infinity`` constants (metrics may hold them), bytes as base64.
WIRE_CONFIG = ConfigDict(
    ser_json_inf_nan="constants",
    ser_json_bytes="base64",
    val_json_bytes="base64",
    arbitrary_types_allowed=False,
)
_ACTOR = "actor"


@dataclass(frozen=True)
class MethodSpec:
    """One method of a records interface, as the wire sees it.

    Attributes:
        interface: The interface's wire name (``"run"`` for ``BaseRunRecords``).
        name: The method name.
        signature: The Python signature (with ``self``).
        writes: The method takes an ``actor``: it changes records. The server passes the
            caller's identity; a client never sends one.
        request: The body's model: one field per argument but ``self`` and ``actor``.
        response: The answer's type.
    """

    interface: str
    name: str
    signature: inspect.Signature
    writes: bool
    request: type[BaseModel]
    response: type[BaseModel]

    @property
    def path(self) -> str:
        """The route of this method under ``/api/v1``."""
        return f"/records/{self.interface}/{self.name}"

    def encode_call(self, arguments: Mapping[str, Any]) -> bytes:
        """The request body for ``arguments`` (by parameter name, ``actor`` left out)."""
        values = {k: v for k, v in arguments.items() if k not in ("self", _ACTOR)}
        return self.request.model_validate(values).model_dump_json(fallback=jsonable).encode()

    def decode_answer(self, body: bytes) -> Any:
        """The method's return value from the response body (``{"result": ...}``)."""
        return getattr(self.response.model_validate_json(body), "result")  # noqa: B009

    def encode_answer(self, value: Any) -> bytes:
        """The response body for the method's return value."""
        answer = self.response.model_validate({"result": value})
        return answer.model_dump_json(fallback=jsonable).encode()

    def call(self, records: Any, actor: Actor | None, request: BaseModel) -> Any:
        """Call this method on ``records`` with the arguments of a parsed request."""
        kwargs = {name: getattr(request, name) for name in type(request).model_fields}
        if self.writes:
            kwargs[_ACTOR] = actor
        return getattr(records, self.name)(**kwargs)


def jsonable(value: Any) -> Any:
    """What a value JSON has no type for travels as (NumPy and pandas scalars and arrays,
    sets, paths): the plain Python value the SQL records would store for it.

    Raises:
        TypeError: A value with no JSON form (a function, an open file, ...).
    """
    if hasattr(value, "tolist") and callable(value.tolist):  # NumPy scalars and arrays
        return value.tolist()
    if hasattr(value, "isoformat") and callable(value.isoformat):  # pandas.Timestamp
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} values cannot be sent to a conveyor server")


def interface_name(base: type[Any]) -> str:
    """``BaseRunRecords`` -> ``"run"``: the name of an interface in routes."""
    match = re.fullmatch(r"Base(\w+?)Records", base.__name__)
    if match is None:
        raise TypeError(f"{base.__name__} is not a records interface (Base<Thing>Records).")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", match.group(1)).lower()


_lock = threading.Lock()


def method_specs(base: type[Any]) -> dict[str, MethodSpec]:
    """Every abstract method of the records interface ``base``, by name (cached)."""
    with _lock:
        return _specs(base)  # type: ignore[arg-type]  # classes are hashable


@cache
def _specs(base: type[Any]) -> dict[str, MethodSpec]:
    interface = interface_name(base)
    namespace = _namespace(base)
    specs: dict[str, MethodSpec] = {}
    for name in sorted(getattr(base, "__abstractmethods__", ())):
        function: Callable[..., Any] = getattr(base, name)
        hints = typing.get_type_hints(function, localns=namespace)
        signature = inspect.signature(function)
        fields: dict[str, Any] = {}
        writes = False
        for parameter in list(signature.parameters.values())[1:]:
            if parameter.name == _ACTOR:
                writes = True
                continue
            annotation = _wire_type(hints[parameter.name])
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[parameter.name] = (annotation, default)
        request = create_model(
            f"{base.__name__.removeprefix('Base')}_{name}",
            __config__=WIRE_CONFIG,
            **fields,
        )
        response = create_model(
            f"{base.__name__.removeprefix('Base')}_{name}_answer",
            __config__=WIRE_CONFIG,
            result=(_wire_type(hints.get("return", type(None))), ...),
        )
        specs[name] = MethodSpec(interface, name, signature, writes, request, response)
    return specs


def _wire_type(annotation: Any) -> Any:
    """The type an argument travels as.

    ``Collection[X]`` (an argument any sized iterable may fill) travels as ``list[X]``; a
    dataclass holding a clock (a ``Callable[[], datetime]`` field, such as a lease claim)
    travels with the clock's reading at the time of the call, and arrives with a clock
    stopped at that reading.
    """
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        clocks = _clock_fields(annotation)
        return _clocked(annotation, clocks) if clocks else annotation
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is collections.abc.Collection:  # any sized iterable: a set, a dict's keys
        return Annotated[list[_wire_type(arguments[0])], BeforeValidator(_as_list)]  # type: ignore[misc]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_wire_type(a) for a in arguments)]  # noqa: UP007
    if isinstance(origin, type) and arguments:
        mapped = tuple(a if a is Ellipsis else _wire_type(a) for a in arguments)
        generic: Any = origin
        return generic[mapped if len(mapped) > 1 else mapped[0]]
    return annotation


def _as_list(value: Any) -> Any:
    if isinstance(value, collections.abc.Collection) and not isinstance(value, str | bytes):
        return list(value)
    return value


def _clock_fields(cls: type[Any]) -> tuple[str, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if typing.get_origin(hints[f.name]) is collections.abc.Callable
        and typing.get_args(hints[f.name]) == ([], datetime)
    )


def _clocked(cls: type[Any], clocks: tuple[str, ...]) -> Any:
    hints = typing.get_type_hints(cls)
    adapters = {
        f.name: TypeAdapter(hints[f.name]) for f in dataclasses.fields(cls) if f.name not in clocks
    }

    def dump(value: Any) -> dict[str, Any]:
        out = {
            name: a.dump_python(getattr(value, name), mode="json") for name, a in adapters.items()
        }
        out.update({name: getattr(value, name)().isoformat() for name in clocks})
        return out

    def load(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"expected an object for {cls.__name__}")
        kwargs = {name: a.validate_python(value.get(name)) for name, a in adapters.items()}
        for name in clocks:
            reading = datetime.fromisoformat(str(value.get(name)))
            kwargs[name] = functools.partial(_stopped, reading)
        return cls(**kwargs)

    return Annotated[
        cls,
        PlainValidator(load),
        PlainSerializer(dump, return_type=dict[str, Any]),
        WithJsonSchema({"type": "object", "title": cls.__name__}),
    ]


def _stopped(reading: datetime) -> datetime:
    return reading


def _namespace(base: type[Any]) -> dict[str, Any]:
    """Names the interface's annotations may use: its module's and its package's
    (annotations of types imported only for type checking are found in the package)."""
    module = importlib.import_module(base.__module__)
    package = importlib.import_module(base.__module__.rsplit(".", 1)[0])
    namespace: dict[str, Any] = {"Actor": Actor}
    namespace.update(vars(package))
    namespace.update(vars(module))
    return namespace
