"""Request bodies in, strict JSON out: content type, size limit, and parsing rules.

Only JSON is ever parsed (415 for anything else, so a pickle or other serialized object in a
request is refused before its bytes are looked at). Bodies are read incrementally and cut off
at ``max_body_bytes`` (413) even without a ``Content-Length``. ``NaN``/``Infinity`` tokens
are not JSON: they are refused with 422 or read as ``null`` per the ``non_finite`` policy.
Responses use orjson, which writes non-finite floats as ``null``: always strict JSON.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from conveyor.serving._errors import (
    MalformedRequestError,
    NonFiniteValueError,
    PayloadTooLargeError,
    RequestError,
    UnsupportedMediaTypeError,
)
from conveyor.serving._settings import ServingSettings

JSON_TYPE = "application/json"
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


class _NonFiniteToken(Exception):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def check_content_type(request: Request, *, allow_missing: bool = False) -> None:
    """Refuse (415) any body that is not declared as JSON.

    Args:
        request: The request.
        allow_missing: Accept a body without a content type (the OIP clients send none).
    """
    ctype = request.headers.get("content-type", "")
    base = ctype.split(";", 1)[0].strip().lower()
    if allow_missing and not base:
        return
    if base != JSON_TYPE and not base.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"Content type {ctype or '(none)'!r} is not accepted; send {JSON_TYPE}.",
            hint="Set the header 'Content-Type: application/json' and send a JSON body.",
            content_type=ctype,
        )


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 once it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request body has {'at least ' if size <= limit + 65536 else ''}{size} bytes; "
        f"the limit is {limit}.",
        hint="Send fewer rows per request (or raise the server's max_body_bytes).",
        size=size,
        limit=limit,
    )


def parse_json(body: bytes, settings: ServingSettings) -> Any:
    """Parse a JSON body strictly (see the module docstring for NaN/Infinity)."""
    if not body.strip():
        raise MalformedRequestError(
            "The request body is empty.", hint="Send a JSON object as the request body."
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        first_error = str(exc)
    # orjson refuses NaN/Infinity tokens; find out whether that was the only problem.
    policy = settings.non_finite

    def constant(token: str) -> Any:
        if policy == "null":
            return None
        raise _NonFiniteToken(token)

    try:
        return json.loads(body, parse_constant=constant)
    except _NonFiniteToken as exc:
        raise NonFiniteValueError(
            f"The body contains {exc.token}, which is not JSON; NaN and Infinity are refused.",
            hint="Send null for a missing value, or a finite number.",
            value=exc.token,
        ) from None
    except (ValueError, RecursionError):
        pass
    raise MalformedRequestError(
        f"The request body is not valid JSON: {first_error}.",
        hint='Send a JSON object such as {"rows": [{"x": 1.0}]}.',
    )


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A strict-JSON response (numpy arrays allowed; non-finite floats become null)."""
    return Response(orjson.dumps(content, option=_NUMPY), status, headers, media_type=JSON_TYPE)


def error_response(
    exc: RequestError, headers: dict[str, str] | None = None, *, oip: bool = False
) -> Response:
    """The JSON error body: ``{"error", "code", "hint"?, ...fields}`` or OIP's ``{"error"}``."""
    if oip:
        return json_response({"error": exc.message}, exc.status, headers)
    body: dict[str, Any] = {"error": exc.message, "code": exc.code}
    if exc.hint:
        body["hint"] = exc.hint
    for key, value in exc.fields.items():
        if isinstance(value, (str, int, float, bool, list)) or value is None:
            body.setdefault(key, value)
    return json_response(body, exc.status, headers)
