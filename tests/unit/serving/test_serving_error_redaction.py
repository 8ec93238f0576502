"""Error bodies of the prediction server carry no secret, whatever the error's message says.

A store error can quote its database URL; a load failure can quote a remote artifact URL
with a query token. The server answers the failure, but hides the credentials the same way
``conveyor config show`` and the logs do (``conveyor.core.redact``).
"""

from __future__ import annotations

import orjson

from conveyor.serving._errors import MalformedRequestError, StoreBusyRequestError
from conveyor.serving._wire import error_response

PASSWORD = "pw-Secret-71"
TOKEN = "tok-Secret-72"
URL = f"postgresql://ml:{PASSWORD}@db.internal/conveyor?sslpassword={TOKEN}"


def _body(exc: Exception, *, oip: bool = False) -> dict[str, object]:
    response = error_response(exc, oip=oip)  # type: ignore[arg-type]
    text = bytes(response.body).decode()
    assert PASSWORD not in text
    assert TOKEN not in text
    body: dict[str, object] = orjson.loads(text)
    return body


def test_message_hint_and_fields_are_redacted() -> None:
    exc = StoreBusyRequestError(
        f"The store at {URL} is busy.", hint=f"Retry later; see {URL}.", store=URL, retries=[URL]
    )
    body = _body(exc)
    assert (
        body["error"]
        == "The store at postgresql://ml:***@db.internal/conveyor?sslpassword=*** is busy."
    )
    assert "ml:***@db.internal" in str(body["hint"])
    assert body["store"] == "postgresql://ml:***@db.internal/conveyor?sslpassword=***"
    assert body["retries"] == ["postgresql://ml:***@db.internal/conveyor?sslpassword=***"]
    assert body["code"] == exc.code


def test_oip_error_bodies_are_redacted() -> None:
    body = _body(MalformedRequestError(f"cannot read {URL}"), oip=True)
    assert body["error"] == "cannot read postgresql://ml:***@db.internal/conveyor?sslpassword=***"


def test_secret_named_fields_are_hidden_whatever_their_value() -> None:
    body = _body(MalformedRequestError("bad", password="hunter2-Secret", token=TOKEN))
    assert body["password"] == "***"
    assert body["token"] == "***"
    assert "hunter2-Secret" not in orjson.dumps(body).decode()


def test_a_message_without_secrets_is_unchanged() -> None:
    body = _body(MalformedRequestError("column 'x' must be a number, got 'abc'", column="x"))
    assert body == {
        "error": "column 'x' must be a number, got 'abc'",
        "code": "malformed_request",
        "column": "x",
    }
