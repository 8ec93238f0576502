"""Tokens and roles: who may call conveyor, and what each role may do.

This package owns API tokens (created with a role and an optional environment scope,
shown once, stored only as a SHA-256 hash, verified, revoked; every change audited) behind
:class:`BaseTokenRecords` (by default :class:`SqlTokenRecords`, in the metadata store),
the rules over them in :class:`Tokens` (one answer for every invalid token, failed checks
rate-limited per client and audited), and the role table with :func:`authorize`, the one
permission check the prediction server and the control plane call.
"""

from __future__ import annotations

from conveyor.security._base import BaseTokenRecords
from conveyor.security._errors import (
    AccessDeniedError,
    InvalidTokenError,
    SecurityError,
    TokenExistsError,
    TokenNotFoundError,
    TooManyAttemptsError,
    UnknownRoleError,
)
from conveyor.security._limit import FailureLimiter
from conveyor.security._records import TokenInfo
from conveyor.security._roles import (
    ENVIRONMENT_ACTIONS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    authorize,
    parse_role,
)
from conveyor.security._sessions import SessionInfo, Sessions
from conveyor.security._sql import SqlTokenRecords
from conveyor.security._tokens import PREFIX, Tokens, hash_secret

__all__ = [
    "AccessDeniedError",
    "BaseTokenRecords",
    "ENVIRONMENT_ACTIONS",
    "FailureLimiter",
    "InvalidTokenError",
    "PREFIX",
    "Permission",
    "ROLE_PERMISSIONS",
    "Role",
    "SecurityError",
    "SessionInfo",
    "Sessions",
    "SqlTokenRecords",
    "TokenExistsError",
    "TokenInfo",
    "TokenNotFoundError",
    "Tokens",
    "TooManyAttemptsError",
    "UnknownRoleError",
    "authorize",
    "hash_secret",
    "parse_role",
]
