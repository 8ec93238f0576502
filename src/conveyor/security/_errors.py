"""Errors of tokens and roles; each maps to one HTTP status and a stable code."""

from __future__ import annotations

from conveyor.errors import ConveyorError, InvalidNameError

__all__ = [
    "AccessDeniedError",
    "InvalidTokenError",
    "SecurityError",
    "TokenExistsError",
    "TokenNotFoundError",
    "TooManyAttemptsError",
    "UnknownRoleError",
]


class SecurityError(ConveyorError):
    """A token or a permission check failed; ``status`` is the HTTP status it answers."""

    code = "security_error"
    status = 400


class InvalidTokenError(SecurityError):
    """The token is missing, malformed, unknown, expired or revoked (HTTP 401).

    The message is the same in every case, so a caller learns nothing about which tokens
    exist.
    """

    code = "invalid_token"
    status = 401


class AccessDeniedError(SecurityError):
    """The token is valid but its role or environment scope does not allow this (HTTP 403)."""

    code = "access_denied"
    status = 403


class TooManyAttemptsError(SecurityError):
    """Too many failed token checks from one client in the window (HTTP 429)."""

    code = "too_many_attempts"
    status = 429


class TokenExistsError(SecurityError):
    """A token with this name exists already (names are unique, also once revoked)."""

    code = "token_exists"
    status = 409


class TokenNotFoundError(SecurityError, KeyError):
    """No token has this name."""

    code = "token_not_found"
    status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class UnknownRoleError(SecurityError, InvalidNameError):
    """A role name is not one of :class:`~conveyor.security.Role`."""

    code = "unknown_role"
