"""Pipeline parameters: validation against the signature and coercion of CLI strings."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from conveyor.pipelines._errors import ParameterError

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def parse_assignments(items: list[str]) -> dict[str, str]:
    """Parse ``["lr=0.1", "data=iris@2"]`` (from ``-p``) into a dict of strings.

    Raises:
        ParameterError: An item has no ``=``.
    """
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(
                f"Invalid parameter {item!r}: expected KEY=VALUE.",
                hint="Write -p lr=0.1 (one -p per parameter).",
                value=item,
            )
        parsed[key.strip()] = value
    return parsed


def bind_params(
    pipeline: str, fn: Callable[..., Any], params: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Validate ``params`` against ``fn``'s signature; fill defaults; coerce strings.

    Returns:
        Every parameter by name, in signature order.

    Raises:
        ParameterError: Unknown parameter (the message lists the valid ones), a missing
            required one, or a value that does not fit the annotated type.
    """
    signature = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations are not checked
        hints = {}
    given = dict(params or {})
    names = [
        n
        for n, p in signature.parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ParameterError(
            f"Pipeline {pipeline!r} has no parameter {', '.join(map(repr, unknown))}. "
            f"Parameters: {', '.join(names) or '(none)'}.",
            hint="Check the spelling, or see the pipeline function's signature.",
            pipeline=pipeline,
            unknown=unknown,
            valid=names,
        )
    bound: dict[str, Any] = {}
    for name in names:
        parameter = signature.parameters[name]
        if name in given:
            bound[name] = coerce(pipeline, name, hints.get(name, Any), given[name])
        elif parameter.default is not inspect.Parameter.empty:
            bound[name] = parameter.default
        else:
            raise ParameterError(
                f"Pipeline {pipeline!r} needs parameter {name!r} (it has no default).",
                hint=f"Pass it: -p {name}=VALUE.",
                pipeline=pipeline,
                name=name,
            )
    return bound


def coerce(pipeline: str, name: str, annotation: Any, value: Any) -> Any:
    """Return ``value`` as the annotated type (strings from the CLI are converted).

    Raises:
        ParameterError: The value does not fit.
    """
    ok, result = _convert(annotation, value)
    if ok:
        return result
    raise ParameterError(
        f"Parameter {name!r} of pipeline {pipeline!r} expects {_type_name(annotation)}, "
        f"got {value!r}.",
        hint=f"Pass a valid value, e.g. -p {name}=... matching {_type_name(annotation)}.",
        pipeline=pipeline,
        name=name,
        value=value,
        expected=_type_name(annotation),
    )


def _convert(annotation: Any, value: Any) -> tuple[bool, Any]:
    if annotation is Any or annotation is inspect.Parameter.empty:
        return True, value
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        for option in typing.get_args(annotation):
            ok, converted = _convert(type(option), value)
            if ok and converted == option:
                return True, option
        return False, None
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        is_none = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_none and type(None) in options:
            return True, None
        # Try exact types first, so "3" stays an int for int | str and not a str.
        for option in sorted(options, key=lambda t: t is str):
            if option is type(None):
                continue
            ok, converted = _convert(option, value)
            if ok:
                return True, converted
        return False, None
    if annotation is bool:
        return _to_bool(value)
    if annotation is int:
        return _to_int(value)
    if annotation is float:
        return _to_float(value)
    if annotation is str:
        return (True, value) if isinstance(value, str) else (False, None)
    if isinstance(annotation, type) and isinstance(value, annotation):
        return True, value
    # Types we cannot coerce (lists, user classes) are passed through when not strings.
    return (not isinstance(value, str) or annotation is str), value


def _to_bool(value: Any) -> tuple[bool, Any]:
    if isinstance(value, bool):
        return True, value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return True, value.strip().lower() in _TRUE
    return False, None


def _to_int(value: Any) -> tuple[bool, Any]:
    if isinstance(value, bool):
        return False, None
    if isinstance(value, int):
        return True, value
    if isinstance(value, str):
        try:
            return True, int(value.strip())
        except ValueError:
            return False, None
    return False, None


def _to_float(value: Any) -> tuple[bool, Any]:
    if isinstance(value, bool):
        return False, None
    if isinstance(value, int | float):
        return True, float(value)
    if isinstance(value, str):
        try:
            return True, float(value.strip())
        except ValueError:
            return False, None
    return False, None


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
