"""Redaction of secrets before a value leaves conveyor (output, logs, audit, errors).

One function decides what a secret looks like, so every output surface hides the same
things: the password (or token user) in a URL's user info, the values of query parameters
that carry credentials (``token=``, ``sig=``, ``key=``, ``secret=``, ``password=``, ...),
``password=`` pairs in connection strings, and the values of fields whose name says they
hold a secret (``password``, ``secret``, ``token``, ``api_key``, ...). Redaction keeps the
shape (scheme, host, path, parameter names), so a redacted URL still tells which endpoint
failed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

#: What a secret is replaced with.
REDACTED = "***"

#: Query parameters whose values are credentials (compared case-insensitively).
SECRET_QUERY_KEYS = frozenset(
    {
        "access_token",
        "api-key",
        "api_key",
        "apikey",
        "auth",
        "client_secret",
        "key",
        "password",
        "passwd",
        "pwd",
        "secret",
        "sig",
        "signature",
        "sslpassword",
        "token",
        "x-amz-credential",
        "x-amz-security-token",
        "x-amz-signature",
    }
)

# Field names, not values: "signature" (a model's input schema) and "key" (a metric or an
# idempotency key) are ordinary fields in conveyor's records, so they are not listed.
_FIELD = re.compile(
    r"(?:^|[_-])(?:password|passwd|pwd|secret|token|api_?key|access_?key|secret_?key|"
    r"private_?key|master_?key|credentials?|authorization|cookie)$",
    re.IGNORECASE,
)
# scheme://user:password@  -> keep the user, hide the password
# (the scheme's length is bounded so a long run of letters costs linear, not quadratic, time)
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31}://)([^\s/?#@:'\"]*):([^\s/?#'\"]*)@")
# http(s)://token@host  -> a bare user on a web URL is a credential (e.g. a token)
_WEB_USER = re.compile(r"(https?://)([^\s/?#@:'\"]+)@", re.IGNORECASE)
_QUERY = re.compile(
    r"([?&;](?:" + "|".join(re.escape(k) for k in sorted(SECRET_QUERY_KEYS)) + r")=)"
    r"[^&#;\s'\"]*",
    re.IGNORECASE,
)
# libpq-style "host=db password=s3cret" connection strings
_DSN_PASSWORD = re.compile(r"(\b(?:password|passwd)\s*=\s*)('[^']*'|[^\s&;'\"]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """Return ``text`` with every secret it contains replaced by ``***``.

    Args:
        text: Anything that may contain URLs or connection strings (a message, a URL).

    Returns:
        The same text, with URL passwords, credential query values and ``password=``
        pairs hidden. Text without secrets is returned unchanged.

    Example:
        >>> redact("https://bob:pw@hooks.example/x?token=abc&team=ml")
        'https://bob:***@hooks.example/x?token=***&team=ml'
    """
    if not text:
        return text
    out = _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", text)
    out = _WEB_USER.sub(lambda m: f"{m.group(1)}{REDACTED}@", out)
    out = _QUERY.sub(lambda m: m.group(1) + REDACTED, out)
    return _DSN_PASSWORD.sub(lambda m: m.group(1) + REDACTED, out)


def is_secret_field(name: str) -> bool:
    """Whether a field called ``name`` holds a secret (``password``, ``api_key``, ...).

    Names of *where* a secret lives (``secret_env``, ``key_file``) are not secrets.

    Example:
        >>> is_secret_field("aws_secret_access_key"), is_secret_field("secret_env")
        (True, False)
    """
    return bool(_FIELD.search(name))


def redact_value(value: Any) -> Any:
    """Return a copy of a JSON-like value with every secret hidden.

    Strings are passed through :func:`redact`; in mappings, the value of a key for which
    :func:`is_secret_field` holds is replaced by ``***`` whatever it is (unless empty);
    lists, tuples and nested mappings are walked. Other values are returned as they are.

    Example:
        >>> redact_value({"url": "postgresql://u:pw@db/x", "password": "pw", "n": 3})
        {'url': 'postgresql://u:***@db/x', 'password': '***', 'n': 3}
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and is_secret_field(key) and item not in (None, ""):
                out[key] = REDACTED
            else:
                out[key] = redact_value(item)
        return out
    if isinstance(value, list | tuple):
        items = [redact_value(item) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message before a handler writes it.

    Attach it to the handlers an entry point configures (the CLI, the servers), so any
    library log line that quotes a URL or connection string is written without secrets.

    Example:
        >>> handler = logging.StreamHandler()
        >>> handler.addFilter(RedactingFilter())
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its redacted form; never drops a record."""
        message = record.getMessage()
        shown = redact(message)
        if shown != message:
            record.msg, record.args = shown, None
        return True
