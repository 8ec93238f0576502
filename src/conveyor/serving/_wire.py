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
    TooManyRowsError,
    UnsupportedEncodingError,
    UnsupportedMediaTypeError,
)
from conveyor.serving._settings import ServingSettings
from conveyor.serving._table_limits import arrow_bound, parquet_bound

JSON_TYPE = "application/json"
ARROW_STREAM_TYPE = "application/vnd.apache.arrow.stream"
PARQUET_TYPE = "application/vnd.apache.parquet"
#: Content type -> table format, for the routes that take Arrow or Parquet bodies.
TABLE_TYPES = {
    ARROW_STREAM_TYPE: "arrow",
    PARQUET_TYPE: "parquet",
    "application/x-parquet": "parquet",
}
#: How much larger than the body a table may grow once decompressed and decoded.
_TABLE_EXPANSION = 16
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


def parse_table(body: bytes, fmt: str, settings: ServingSettings) -> dict[str, Any]:
    """An Arrow IPC stream or Parquet body as ``{column: values}`` (what a JSON
    ``{"columns": ...}`` body holds): numeric columns without nulls as numpy arrays, the
    others as lists (nulls as ``None``), dates and times as ISO strings.

    Rows are counted before columns are built (the Parquet footer first, then what is read)
    and the decoded size is bounded before anything is decompressed (from each Arrow
    message's buffer sizes, compressed buffers by the size they declare, and from every
    Parquet page header: see :mod:`conveyor.serving._table_limits`), then again as batches
    and row groups are decoded, so a small body cannot expand into a huge table.

    Args:
        body: The request body.
        fmt: ``"arrow"`` or ``"parquet"``.
        settings: ``max_batch_rows`` and ``max_body_bytes`` bound the table.

    Raises:
        MalformedRequestError: Not a readable stream or file, no rows or columns, a nested
            column, duplicate or non-UTF-8 column names (400).
        TooManyRowsError: More rows than ``max_batch_rows`` (400).
        PayloadTooLargeError: The table declares or decodes to more than 16x
            ``max_body_bytes`` (413).
    """
    import pyarrow as pa

    label = "Arrow IPC stream" if fmt == "arrow" else "Parquet file"
    if not body:
        raise MalformedRequestError(
            "The request body is empty.", hint=f"Send a {label} as the request body."
        )
    limit = settings.max_body_bytes * _TABLE_EXPANSION
    try:
        table = (
            _read_arrow(body, settings, limit)
            if fmt == "arrow"
            else _read_parquet(body, settings, limit)
        )
        # A stream's offsets, views and dictionary indices are only trusted once checked
        # against its buffers: reading past them would crash the server.
        table.validate(full=True)
        names = list(table.schema.names)
    except RequestError:
        raise
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError, UnicodeError) as exc:
        raise _unreadable(label, exc) from None
    _check_rows(table.num_rows, settings)
    if not names or table.num_rows == 0:
        raise MalformedRequestError(
            f"The {label} holds {table.num_rows} rows and {len(names)} columns; "
            "at least one of each is needed.",
            hint="Send the rows to predict, one column per input of the model.",
        )
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise MalformedRequestError(
            f"The {label} names column(s) {', '.join(map(repr, twice[:5]))} more than once.",
            hint="Send each column once.",
        )
    try:
        return {name: _column(name, table.column(i), limit) for i, name in enumerate(names)}
    except RequestError:
        raise
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise _unreadable(label, exc) from None


def _unreadable(label: str, exc: BaseException) -> MalformedRequestError:
    reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return MalformedRequestError(
        f"The request body is not a readable {label}: {reason}.",
        hint=f"Send one complete {label}, written by pyarrow or another Arrow library.",
    )


def _check_rows(n: int, settings: ServingSettings) -> None:
    if n > settings.max_batch_rows:
        raise TooManyRowsError(
            f"The request holds {n} rows; at most {settings.max_batch_rows} are accepted.",
            hint="Split the request into smaller batches.",
            rows=n,
            limit=settings.max_batch_rows,
        )


def _too_large_table(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request's table decodes to at least {size} bytes; the limit is {limit} "
        f"({_TABLE_EXPANSION}x the body limit).",
        hint="Send fewer rows per request, or values that compress less.",
        size=size,
        limit=limit,
    )


def _too_large_declared(label: str, size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request's {label} declares {size} bytes once decompressed and decoded; the "
        f"limit is {limit} ({_TABLE_EXPANSION}x the body limit). Nothing was decoded.",
        hint="Send fewer rows per request, or values that compress less.",
        size=size,
        limit=limit,
    )


def _read_arrow(body: bytes, settings: ServingSettings, limit: int) -> Any:
    import pyarrow as pa

    # Rows and decompressed sizes are read from every message's metadata first: Arrow
    # allocates a compressed buffer's declared size before it decompresses it.
    rows, declared = arrow_bound(body, settings.max_batch_rows)
    _check_rows(rows, settings)
    if declared > limit:
        raise _too_large_declared("Arrow IPC stream", declared, limit)
    reader = pa.ipc.open_stream(pa.BufferReader(body))
    batches = []
    rows = size = 0
    for batch in reader:
        rows += batch.num_rows
        size += batch.nbytes
        _check_rows(rows, settings)
        if size > limit:
            raise _too_large_table(size, limit)
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=reader.schema)


def _read_parquet(body: bytes, settings: ServingSettings, limit: int) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(pa.BufferReader(body))
    meta = parquet.metadata
    _check_rows(meta.num_rows, settings)  # the footer's count, before any page is read
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > limit:
        raise _too_large_table(size, limit)
    # The footer may understate sizes: the page headers, which the reader allocates by,
    # are counted before any page is decompressed.
    declared = parquet_bound(body, meta, parquet.schema)
    if declared > limit:
        raise _too_large_declared("Parquet file", declared, limit)
    # Strings and bytes stay dictionary-encoded as stored, so a value repeated by every row
    # is bounded (in _column) before it is copied once per row.
    texts = [
        field.name
        for field in parquet.schema_arrow
        if pa.types.is_string(field.type)
        or pa.types.is_large_string(field.type)
        or pa.types.is_binary(field.type)
        or pa.types.is_large_binary(field.type)
    ]
    if texts:
        parquet = pq.ParquetFile(pa.BufferReader(body), read_dictionary=texts)
    groups = []
    size = 0
    for group in range(meta.num_row_groups):  # a running bound, row group by row group
        groups.append(parquet.read_row_group(group))
        size += groups[-1].nbytes
        if size > limit:
            raise _too_large_table(size, limit)
    if not groups:
        return parquet.schema_arrow.empty_table()
    return pa.concat_tables(groups)


def _column(name: str, column: Any, limit: int) -> Any:
    """One Arrow column as a numpy array (numeric, no nulls) or a list."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind) or pa.types.is_run_end_encoded(kind):
        # A few values repeated by index or by run: bound the decoded size before decoding.
        longest = max(
            (
                _longest(c.dictionary if pa.types.is_dictionary(kind) else c.values)
                for c in column.chunks
            ),
            default=0,
        )
        if longest * len(column) > limit:
            raise _too_large_table(longest * len(column), limit)
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
        else:
            column = pc.run_end_decode(column)
        kind = column.type
    if _is_view(kind):  # views may all point at the same long value
        size = sum(_view_lengths(chunk).sum() for chunk in column.chunks)
        if size > limit:
            raise _too_large_table(int(size), limit)
    if pa.types.is_nested(kind):
        raise MalformedRequestError(
            f"Column {name[:60]!r} has the nested Arrow type {str(kind)[:80]}; "
            "only flat columns are accepted.",
            hint="Send one flat column (numbers, booleans or strings) per model input.",
            column=name[:60],
        )
    if pa.types.is_temporal(kind):
        column = column.cast(pa.string())
    elif (
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    ) and column.null_count == 0:
        return column.to_numpy()
    return column.to_pylist()


def _is_view(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_binary_view(kind) or pa.types.is_string_view(kind))


def _view_lengths(array: Any) -> Any:
    """The lengths of a (validated) string or binary view array's values, nulls as 0."""
    import numpy as np

    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    views = np.frombuffer(array.buffers()[1], dtype=np.int32).reshape(-1, 4)
    lengths = views[array.offset : array.offset + len(array), 0].astype(np.int64)
    if array.null_count:
        lengths[~array.is_valid().to_numpy(zero_copy_only=False)] = 0
    return lengths


def _longest(values: Any) -> int:
    """The most bytes one of ``values`` decodes to (an upper bound)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if len(values) == 0:
        return 0
    if _is_view(kind):
        return int(_view_lengths(values).max())
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        return int(pc.max(pc.binary_length(values)).as_py() or 0)
    try:
        return max(int(kind.bit_width) // 8, 1)
    except ValueError:  # not fixed-width: no value is longer than all of them
        return int(values.nbytes)
