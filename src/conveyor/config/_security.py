"""Configuration of access and privacy: who may change what, what must be signed, and how
personal data in the prediction log is kept.

``environments.<env>.protected`` and ``require_signature`` live with the environment
(:class:`~conveyor.config.EnvironmentConfig`); the sections here are ``serving`` (the
prediction server's authentication and allowed hosts), ``signing`` (public keys that model
signatures are verified with) and ``predictions`` (retention and personal-data columns).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from conveyor.config._operations import _Section

#: ``30d``, ``12h``, ``90m``, ``2w``: what retention and token lifetimes are written as.
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str) -> timedelta:
    """``"30d"`` -> 30 days (units ``m``, ``h``, ``d``, ``w``).

    Raises:
        ValueError: ``value`` is not a whole number followed by one of those units.

    Example:
        >>> parse_duration("90d").days
        90
    """
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"expected a duration such as 30d, 12h or 2w, got {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class ServingAuthConfig(_Section):
    """``serving``: who may call the prediction server, and on which host names."""

    auth: Literal["none", "token"] = Field(
        default="none",
        description="`token`: prediction routes need a predictor token (required to bind a "
        "host other than loopback, unless `conveyor serve --insecure`).",
    )
    allowed_hosts: tuple[str, ...] = Field(
        default=("127.0.0.1", "localhost", "::1"),
        description="Host header values the server answers (others get 400): DNS-rebinding "
        "protection.",
    )
    open_health: bool = Field(default=True, description="Health routes answer without a token.")
    open_metrics: bool = Field(default=True, description="`/metrics` answers without a token.")


class SigningConfig(_Section):
    """``signing``: the public keys that model-version signatures are checked against."""

    public_keys: dict[str, str] = Field(
        default_factory=dict,
        description="Key name -> ed25519 public key (base64 of the 32 raw bytes).",
    )


class PiiConfig(_Section):
    """``predictions.pii``: columns that hold personal data, and how the log keeps them."""

    columns: tuple[str, ...] = ()
    policy: Literal["hash", "drop"] = Field(
        default="hash",
        description="`hash`: stored as a keyed hash (HMAC-SHA256 with the key in `key_env`); "
        "`drop`: not stored at all.",
    )
    key_env: str = Field(
        default="CONVEYOR_PII_KEY", description="Environment variable holding the HMAC key."
    )


class PredictionsConfig(_Section):
    """``predictions``: how long the prediction log keeps rows and what it keeps of them."""

    retention: str | None = Field(
        default=None,
        description="Rows older than this (e.g. `30d`) are removed by `conveyor gc`.",
    )
    pii: PiiConfig = PiiConfig()

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class ServerConfig(_Section):
    """``server:`` the team server (``conveyor server``), the control plane over this
    project's stores that remote workspaces call with a URL and a token.

    Attributes:
        allowed_hosts: ``Host`` header values it answers (DNS-rebinding defence); add the
            name clients reach it by.
        max_request_mb: Largest JSON request body; uploads stream and are not bounded by it.
        checkpoint_key_file: An ed25519 private key (docs/signing.md formats); with it the
            server checkpoints the audit chain's head, signed, every
            ``checkpoint_interval_s`` seconds while it runs.
        checkpoint_interval_s: Seconds between checkpoints.
    """

    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
    max_request_mb: float = Field(default=64.0, gt=0, le=4096)
    checkpoint_key_file: str | None = None
    checkpoint_interval_s: float = Field(default=300.0, gt=0, le=86400)

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(h.strip().lower() for h in value if h.strip())
        if not cleaned or any(("/" in h or " " in h) for h in cleaned):
            raise ValueError("expected host names such as conveyor.example.com or 127.0.0.1")
        return cleaned
