"""Personal data in the prediction log: columns kept as a keyed hash, or not kept at all.

``predictions.pii.columns`` (and signature columns flagged ``"pii": true``) are never
written in clear: with the ``hash`` policy a value is stored as the hex HMAC-SHA256 of its
text under the key held by the ``predictions.pii.key_env`` variable; with ``drop`` the
column is left out. Hashing is idempotent (a value that already is a 64-digit lowercase hex
digest is kept as it is), so a record masked on the request path and masked again when
written is stored once hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from conveyor.predictions._errors import PiiKeyMissingError
from conveyor.predictions._records import Loggable, PredictionBatch

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class PiiPolicy:
    """Which input columns hold personal data and how the prediction log keeps them.

    Attributes:
        columns: Input feature names holding personal data.
        policy: ``"hash"`` (HMAC-SHA256 hex under ``key``) or ``"drop"`` (left out).
        key: The HMAC key (required by ``hash``; never shown in ``repr``).

    Example:
        >>> policy = PiiPolicy(frozenset({"email"}), "drop")
        >>> policy.mask({"email": "a@b.c", "age": 41})
        {'age': 41}
    """

    columns: frozenset[str]
    policy: Literal["hash", "drop"] = "hash"
    key: bytes | None = None

    def __post_init__(self) -> None:
        if self.policy == "hash" and self.columns and not self.key:
            raise PiiKeyMissingError(
                "Personal-data columns are to be hashed but no key was given.",
                hint="Set the variable named by `predictions.pii.key_env`, or use "
                "`predictions.pii.policy: drop`.",
            )

    def __repr__(self) -> str:
        return f"PiiPolicy(columns={sorted(self.columns)!r}, policy={self.policy!r})"

    def digest(self, value: Any) -> str:
        """The stored form of ``value`` under the ``hash`` policy (hex HMAC-SHA256).

        Strings are hashed as their UTF-8 bytes; other values as their JSON text.
        """
        if isinstance(value, str) and _DIGEST.match(value):
            return value
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return hmac.new(
            self.key or b"", text.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).hexdigest()

    def mask(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """``inputs`` with personal-data columns hashed or left out (a new dict)."""
        masked: dict[str, Any] = {}
        for name, value in inputs.items():
            if name not in self.columns:
                masked[name] = value
            elif self.policy == "hash":
                masked[name] = None if value is None else self.digest(value)
        return masked

    def apply(self, record: Loggable) -> Loggable:
        """``record`` (or a request's batch) with its personal-data inputs masked.

        Returns ``record`` itself when it has no personal-data column.
        """
        if isinstance(record, PredictionBatch):
            if self.columns.isdisjoint(record.columns):
                return record
            return replace(record, columns=self.mask_columns(record.columns))
        if self.columns.isdisjoint(record.inputs):
            return record
        return replace(record, inputs=self.mask(record.inputs))

    def mask_columns(self, columns: Mapping[str, Any]) -> dict[str, Any]:
        """``{feature: values}`` with personal-data columns hashed or left out (a new dict)."""
        masked: dict[str, Any] = {}
        for name, values in columns.items():
            if name not in self.columns:
                masked[name] = values
            elif self.policy == "hash":
                masked[name] = [None if v is None else self.digest(_plain(v)) for v in values]
        return masked


def _plain(value: Any) -> Any:
    """A NumPy scalar as its Python value (hashed the same as the value a record holds)."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def pii_policy(settings: Any, *, signature_columns: Iterable[str] = ()) -> PiiPolicy | None:
    """The personal-data policy a project's settings ask for (``None``: no such columns).

    Args:
        settings: The project's :class:`~conveyor.config.Settings` (configuration and the
            environment it was loaded with).
        signature_columns: More columns to treat as personal data (those a model
            version's signature flags).

    Raises:
        PiiKeyMissingError: the policy is ``hash`` and the key variable is unset or empty.
    """
    config = settings.config.predictions.pii
    columns = frozenset(config.columns) | frozenset(signature_columns)
    if not columns:
        return None
    key: bytes | None = None
    if config.policy == "hash":
        raw = settings.environ.get(config.key_env, "")
        if not raw:
            raise PiiKeyMissingError(
                f"Personal-data columns {', '.join(sorted(columns))} are to be hashed, but "
                f"the environment variable {config.key_env!r} holding the key is not set.",
                hint=f"Set {config.key_env} to a long random secret (the same for every "
                "process writing the log), or use `predictions.pii.policy: drop`.",
                key_env=config.key_env,
            )
        key = raw.encode("utf-8", "surrogatepass")
    return PiiPolicy(columns, config.policy, key)
