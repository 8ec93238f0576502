"""JSON bodies of the resource routes: records, dataclasses and pydantic values as plain data.

The resource routes (:mod:`conveyor.api._resources`, :mod:`conveyor.api._deployment_routes`)
answer with :func:`ok`; :func:`plain` turns what the facades return into JSON-able data.
"""

from __future__ import annotations

from dataclasses import is_dataclass
from functools import cache
from typing import Any

from fastapi.responses import Response
from pydantic import TypeAdapter

from conveyor.serving._wire import json_response


def ok(value: Any) -> Response:
    """A 200 JSON response of ``value`` (see :func:`plain`)."""
    return json_response(plain(value))


def plain(value: Any) -> Any:
    """``value`` as JSON-able data: ``to_dict()`` where a record has one, else pydantic."""
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return _adapter(type(value)).dump_python(value, mode="json")
    return _adapter(Any).dump_python(value, mode="json")


@cache
def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


__all__ = ["ok", "plain"]
