"""HMAC-SHA256 signatures of webhook bodies (what a receiver verifies)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Conveyor-Signature"
_PREFIX = "sha256="


def sign_body(body: bytes, secret: str) -> str:
    """The ``X-Conveyor-Signature`` value of ``body``: ``sha256=<hex HMAC>``.

    Example:
        >>> sign_body(b"{}", "s3cret")[:7]
        'sha256='
    """
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant-time comparison).

    Example:
        >>> verify_signature(b"{}", "s3cret", sign_body(b"{}", "s3cret"))
        True
    """
    return header is not None and hmac.compare_digest(sign_body(body, secret), header)
