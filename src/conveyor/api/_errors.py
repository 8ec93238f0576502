"""Error answers of the control plane: one JSON shape, a status that fits, no leaks.

Every error is ``{"error": message, "code": code, "hint"?: ..., ...fields}`` (the shape
the prediction server uses), with message, hint and fields redacted, so a client (and
:func:`conveyor.remote.error_from`) raises the same exception class again. A failure that
is not a conveyor error is logged here and answered 500 with no detail.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from conveyor.core import redact, redact_value
from conveyor.errors import (
    ConveyorError,
    StoreBusyError,
    StoreDisconnectedError,
    http_status,
)
from conveyor.serving._wire import json_response

_log = logging.getLogger("conveyor.server")


def status_of(exc: ConveyorError) -> int:
    """The HTTP status that answers ``exc`` (:func:`conveyor.errors.http_status`)."""
    return http_status(exc)


def error_answer(exc: ConveyorError) -> Response:
    """The JSON error answer of ``exc``."""
    status = status_of(exc)
    if isinstance(exc, StoreBusyError | StoreDisconnectedError):
        # the message names the database (host, port, name): the log has it, not callers
        _log.warning("The metadata store failed: %s", redact(exc.message))
        return json_response(
            {
                "error": "The metadata database cannot be reached or is busy.",
                "code": exc.code,
                "hint": "Retry in a few seconds.",
            },
            503,
            {"retry-after": "2"},
        )
    body: dict[str, Any] = {"error": redact(exc.message), "code": exc.code}
    if exc.hint:
        body["hint"] = redact(exc.hint)
    fields = {
        key: value
        for key, value in exc.fields.items()
        if isinstance(value, str | int | float | bool | list | dict) or value is None
    }
    for key, value in redact_value(fields).items():
        body.setdefault(key, value)
    headers = {"retry-after": "2"} if status == 503 else None
    return json_response(body, status, headers)


async def conveyor_error(request: Request, exc: Exception) -> Response:
    """FastAPI handler for :class:`ConveyorError`."""
    assert isinstance(exc, ConveyorError)
    return error_answer(exc)


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI handler for request bodies that do not match the route's schema (422)."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))[:200]}
        for e in exc.errors()[:20]
    ]
    first = problems[0] if problems else {"loc": [], "msg": "invalid"}
    return json_response(
        {
            "error": f"The request does not match the route's schema at "
            f"{'.'.join(first['loc']) or 'the body'}: {first['msg']}.",
            "code": "invalid_request",
            "hint": "See /openapi.json for the body this route takes.",
            "problems": problems,
        },
        422,
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """Anything else: logged with its traceback, answered 500 without detail."""
    _log.exception("Unhandled error on %s %s", request.method, request.url.path)
    return json_response(
        {
            "error": "The server failed while handling this request.",
            "code": "internal_error",
            "hint": "The server's log has the details; retry, or report it.",
        },
        500,
    )


#: Built-in exceptions a records method raises for a bad argument, by wire code (the
#: client raises the same built-in again).
BUILTIN_ERRORS: dict[type[Exception], tuple[str, int]] = {
    KeyError: ("key_error", 404),
    ValueError: ("value_error", 400),
    TypeError: ("type_error", 400),
}


async def builtin_error(request: Request, exc: Exception) -> Response:
    """A plain ``ValueError``/``KeyError``/``TypeError`` from a records method: the
    caller's argument was refused (4xx, with the message)."""
    for cls, (code, status) in BUILTIN_ERRORS.items():
        if isinstance(exc, cls):
            message = str(exc.args[0]) if exc.args else cls.__name__
            return json_response({"error": redact(message)[:2000], "code": code}, status)
    return await unexpected_error(request, exc)


#: The code of each status FastAPI or Starlette answer on their own (a body that cannot
#: be read, an unknown route, another method).
_HTTP_CODES = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}


async def http_error(request: Request, exc: Exception) -> Response:
    """An ``HTTPException`` raised by FastAPI itself (a body that is not JSON or not
    UTF-8, a route or method that does not exist): the same JSON error shape."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code if 400 <= exc.status_code < 600 else 400
    detail = exc.detail if isinstance(exc.detail, str) else "The request was refused."
    body: dict[str, Any] = {
        "error": f"{detail.rstrip('.')[:200]}.",
        "code": _HTTP_CODES.get(status, "http_error"),
    }
    if status == 400:
        body["hint"] = "Send a JSON body encoded as UTF-8; see /openapi.json for its schema."
    return json_response(body, status, dict(exc.headers or {}))
