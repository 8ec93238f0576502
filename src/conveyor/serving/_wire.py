"""Request bodies in, strict JSON out: content type, size limit, and parsing rules.

Only JSON is ever parsed (415 for anything else, so a pickle or other serialized object in a
request is refused before its bytes are looked at), except on the prediction routes, which also
read an Arrow IPC stream or a Parquet file (:func:`parse_table`: flat columns only, rows and
decoded size bounded before any column is built), and only as sent: a ``Content-Encoding``
other than ``identity`` is refused with 415. Bodies are read incrementally, cut off at
``max_body_bytes`` (413) even without a ``Content-Length``, and must arrive within
``body_timeout_s`` (408), so a client trickling bytes cannot hold a connection forever.

One parser, one policy, for every route: the body must be UTF-8 without lone surrogates
(400), integers must fit in 64 bits (422; columns narrow that further), and
``NaN``/``Infinity`` tokens, which are not JSON, are refused with 422 or read as ``null`` per
the ``non_finite`` policy. Whatever passes can be written to the prediction log as is.
Responses use orjson, which writes non-finite floats as ``null``: always strict JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response

from conveyor.core import redact, redact_value
from conveyor.serving._errors import (
    InvalidRequestIdError,
    InvalidValueError,
    MalformedRequestError,
    NonFiniteValueError,
    PayloadTooLargeError,
    RequestError,
    RequestTimeoutError,
    UnsupportedEncodingError,
    UnsupportedMediaTypeError,
)
from conveyor.serving._settings import ServingSettings
from conveyor.serving._tables import parse_table as parse_table  # noqa: PLC0414 - re-exported

JSON_TYPE = "application/json"
ARROW_STREAM_TYPE = "application/vnd.apache.arrow.stream"
PARQUET_TYPE = "application/vnd.apache.parquet"
#: Content type -> table format, for the routes that take Arrow or Parquet bodies.
TABLE_TYPES = {
    ARROW_STREAM_TYPE: "arrow",
    PARQUET_TYPE: "parquet",
    "application/x-parquet": "parquet",
}
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
#: What a request id may look like: it is echoed in a header and joined on by feedback.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
#: Integers a request may hold anywhere (``[-2**63, 2**64)``); columns narrow this.
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1


class _NonFiniteToken(Exception):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def check_content_type(
    request: Request, *, allow_missing: bool = False, tables: bool = False
) -> str:
    """Refuse (415) any body that is not declared as JSON (or, with ``tables``, Arrow/Parquet).

    Args:
        request: The request.
        allow_missing: Accept a body without a content type (the OIP clients send none).
        tables: Also accept an Arrow IPC stream or a Parquet file (:data:`TABLE_TYPES`).

    Returns:
        ``"json"``, ``"arrow"`` or ``"parquet"``.
    """
    ctype = request.headers.get("content-type", "")
    base = ctype.split(";", 1)[0].strip().lower()
    if allow_missing and not base:
        return "json"
    if base == JSON_TYPE or base.endswith("+json"):
        return "json"
    if tables and base in TABLE_TYPES:
        return TABLE_TYPES[base]
    also = f", {ARROW_STREAM_TYPE} or {PARQUET_TYPE}" if tables else ""
    raise UnsupportedMediaTypeError(
        f"Content type {ctype[:100] or '(none)'!r} is not accepted; send {JSON_TYPE}{also}.",
        hint="Set the header 'Content-Type: application/json' and send a JSON body.",
        content_type=ctype[:100],
    )


async def read_body(request: Request, limit: int, timeout_s: float | None = None) -> bytes:
    """The raw body, refused once it grows past ``limit`` bytes or takes too long.

    Args:
        request: The request.
        limit: Most bytes accepted (413 beyond).
        timeout_s: Longest the whole body may take to arrive (408 beyond); ``None``: no limit.

    Raises:
        UnsupportedEncodingError: The body declares a content encoding other than identity.
        PayloadTooLargeError: The body is larger than ``limit``.
        RequestTimeoutError: The body did not arrive within ``timeout_s``.
    """
    check_encoding(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(timeout_s) as scope:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(size, limit)
            chunks.append(chunk)
    if scope.cancelled_caught:
        raise RequestTimeoutError(
            f"The request body did not arrive within {timeout_s:g} s ({size} bytes received).",
            hint="Send the whole body at once (or raise the server's body_timeout_s).",
            received=size,
            timeout_s=timeout_s,
        )
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_encoding(request: Request) -> None:
    """Refuse (415) a body declared compressed or otherwise encoded: it is never decoded."""
    encoding = request.headers.get("content-encoding")
    if encoding is None or encoding.strip().lower() in ("", "identity"):
        return
    raise UnsupportedEncodingError(
        f"Content encoding {encoding[:40]!r} is not supported; send the body uncompressed.",
        hint="Remove the Content-Encoding header and send plain JSON.",
        content_encoding=encoding[:40],
    )


def check_request_id(value: Any, where: str) -> str:
    """``value`` when it is a well-formed request id, else 400 (it may reach a header).

    Args:
        value: The id sent.
        where: Where it was sent (for the message), e.g. ``"the OIP 'id'"``.
    """
    if isinstance(value, str) and REQUEST_ID.fullmatch(value):
        return value
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise InvalidRequestIdError(
        f"Request id {shown} in {where} is not 1-128 characters of A-Z a-z 0-9 . _ : -.",
        hint="Send the request id the server returned, or omit it to get a new one.",
        request_id=shown,
    )


def _too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request body has {'at least ' if size <= limit + 65536 else ''}{size} bytes; "
        f"the limit is {limit}.",
        hint="Send fewer rows per request (or raise the server's max_body_bytes).",
        size=size,
        limit=limit,
    )


def parse_json(body: bytes, settings: ServingSettings) -> Any:
    """Parse a JSON body under the one policy of this module's docstring.

    Raises:
        MalformedRequestError: Empty, not UTF-8, a lone surrogate, or not JSON (400).
        NonFiniteValueError: ``NaN``/``Infinity`` under the ``reject`` policy (422).
        InvalidValueError: An integer outside ``[-2**63, 2**64)`` (422).
    """
    if not body.strip():
        raise MalformedRequestError(
            "The request body is empty.", hint="Send a JSON object as the request body."
        )
    try:
        # orjson refuses invalid UTF-8, lone surrogates and integers past 64 bits (it reads
        # those as floats); what it accepts needs no further check.
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        first_error = str(exc)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequestError(
            f"The request body is not UTF-8 (byte {exc.start}).",
            hint="Encode the JSON body as UTF-8.",
        ) from None
    # Find out whether NaN/Infinity or a huge integer was the problem; anything the
    # standard parser accepts beyond orjson is checked against the policy below.
    policy = settings.non_finite

    def constant(token: str) -> Any:
        if policy == "null":
            return None
        raise _NonFiniteToken(token)

    try:
        value = json.loads(text, parse_constant=constant)
    except _NonFiniteToken as exc:
        raise NonFiniteValueError(
            f"The body contains {exc.token}, which is not JSON; NaN and Infinity are refused.",
            hint="Send null for a missing value, or a finite number.",
            value=exc.token,
        ) from None
    except (ValueError, RecursionError):
        raise MalformedRequestError(
            f"The request body is not valid JSON: {first_error}.",
            hint='Send a JSON object such as {"rows": [{"x": 1.0}]}.',
        ) from None
    _check_policy(value)
    return value


def _check_policy(value: Any) -> None:
    """Refuse lone surrogates (unencodable) and integers past 64 bits anywhere in ``value``."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            _check_text(item)
        elif kind is int:
            if not INT_MIN <= item <= INT_MAX:
                digits = len(str(abs(item)))
                raise InvalidValueError(
                    f"The body holds a {digits}-digit integer; integers must fit in 64 bits.",
                    hint="Send numbers within the range of the column's type.",
                    digits=digits,
                )
        elif kind is list:
            stack.extend(item)
        elif kind is dict:
            for key, inner in item.items():
                _check_text(key)
                stack.append(inner)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedRequestError(
            f"The body holds a string with a lone surrogate (\\u{ord(text[exc.start]):04x}), "
            "which is not Unicode text.",
            hint="Send valid Unicode text: escape pairs must be complete surrogate pairs.",
        ) from None


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A strict-JSON response (numpy arrays allowed; non-finite floats become null)."""
    return Response(orjson.dumps(content, option=_NUMPY), status, headers, media_type=JSON_TYPE)


def wants_arrow(request: Request) -> bool:
    """Whether the client asks for an Arrow IPC stream back (``Accept``, exactly that type)."""
    accept = request.headers.get("accept", "")
    return any(
        part.split(";", 1)[0].strip().lower() == ARROW_STREAM_TYPE for part in accept.split(",")
    )


def arrow_response(columns: dict[str, list[Any]], headers: dict[str, str]) -> Response:
    """A 200 answer holding ``columns`` as one Arrow IPC stream (one record batch)."""
    import pyarrow as pa

    table = pa.table({name: pa.array(values) for name, values in columns.items()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(sink.getvalue().to_pybytes(), 200, headers, media_type=ARROW_STREAM_TYPE)


def error_response(
    exc: RequestError, headers: dict[str, str] | None = None, *, oip: bool = False
) -> Response:
    """The JSON error body: ``{"error", "code", "hint"?, ...fields}`` or OIP's ``{"error"}``.

    Message, hint and fields go through :func:`conveyor.core.redact_value` on their way
    out: an error that quotes a database or artifact URL never hands its credentials to a
    client.
    """
    if oip:  # OIP clients read "error"; "code" is added for conveyor's own clients
        return json_response({"error": redact(exc.message), "code": exc.code}, exc.status, headers)
    body: dict[str, Any] = {"error": redact(exc.message), "code": exc.code}
    if exc.hint:
        body["hint"] = redact(exc.hint)
    fields = {
        key: value
        for key, value in exc.fields.items()
        if isinstance(value, (str, int, float, bool, list)) or value is None
    }
    for key, value in redact_value(fields).items():
        body.setdefault(key, value)
    return json_response(body, exc.status, headers)
