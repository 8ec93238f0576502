"""Roles and permissions: which role may do what, and :func:`authorize`, the one check.

A role is a set of permissions (the table below is the whole policy). Roles are not
ranked; they happen to nest except for ``predictor``, a role for prediction clients that
may call prediction routes and nothing else.

=============  ==================================================================
role           permissions
=============  ==================================================================
``viewer``     ``read``
``predictor``  ``predict``
``developer``  ``read``, ``predict``, ``feedback``, ``write``, ``deploy``,
               ``promote``, ``rollback`` (outside protected environments)
``deployer``   the developer's, plus ``approve`` and ``protected``: the deploy,
               promote, rollback and approve actions in protected environments
``admin``      every permission, including ``manage_tokens``
=============  ==================================================================

``feedback`` (sending labels to ``/v1/feedback``) is its own permission: a prediction
client's token (``predictor``) cannot write ground truth, which feeds monitoring and the
performance triggers; a ``developer`` token can.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Protocol

from conveyor.security._errors import AccessDeniedError, UnknownRoleError

__all__ = [
    "ENVIRONMENT_ACTIONS",
    "ROLE_PERMISSIONS",
    "Permission",
    "Role",
    "authorize",
    "parse_role",
]


class Permission(enum.StrEnum):
    """What a token may do."""

    READ = "read"
    PREDICT = "predict"
    FEEDBACK = "feedback"
    WRITE = "write"
    DEPLOY = "deploy"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    APPROVE = "approve"
    PROTECTED = "protected"
    MANAGE_TOKENS = "manage_tokens"


class Role(enum.StrEnum):
    """The role of a token: one row of :data:`ROLE_PERMISSIONS`."""

    VIEWER = "viewer"
    PREDICTOR = "predictor"
    DEVELOPER = "developer"
    DEPLOYER = "deployer"
    ADMIN = "admin"


_DEVELOPER = frozenset(
    {
        Permission.READ,
        Permission.PREDICT,
        Permission.FEEDBACK,
        Permission.WRITE,
        Permission.DEPLOY,
        Permission.PROMOTE,
        Permission.ROLLBACK,
    }
)

#: The whole policy: the permissions of each role.
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.PREDICTOR: frozenset({Permission.PREDICT}),
    Role.DEVELOPER: _DEVELOPER,
    Role.DEPLOYER: _DEVELOPER | {Permission.APPROVE, Permission.PROTECTED},
    Role.ADMIN: frozenset(Permission),
}

_ROLES = {str(role): role for role in Role}

#: Actions that, in a protected environment, also need :attr:`Permission.PROTECTED`.
ENVIRONMENT_ACTIONS = frozenset(
    {Permission.DEPLOY, Permission.PROMOTE, Permission.ROLLBACK, Permission.APPROVE}
)


class _Holder(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def environments(self) -> tuple[str, ...]: ...


def parse_role(value: object) -> Role:
    """The :class:`Role` named ``value``.

    Raises:
        UnknownRoleError: ``value`` names no role.

    Example:
        >>> parse_role("deployer")
        <Role.DEPLOYER: 'deployer'>
    """
    if isinstance(value, str) and value in _ROLES:
        return _ROLES[value]
    shown = repr(value)
    raise UnknownRoleError(
        f"Unknown role {shown[:80]}; roles: {', '.join(Role)}.",
        hint="Pass one of " + ", ".join(Role) + " (see docs/access.md).",
        role=str(value)[:80],
    )


def authorize(
    token: _Holder,
    permission: Permission,
    *,
    environment: str | None = None,
    protected: bool = False,
) -> None:
    """Return if ``token`` may do ``permission``, else raise :class:`AccessDeniedError`.

    A pure function of its arguments. The role must hold ``permission``; when
    ``environment`` is given, it must be in the token's scope (an empty scope is every
    environment); in a ``protected`` environment, deploy, promote, rollback and approve
    also need the ``protected`` permission (``deployer`` and ``admin``).

    Args:
        token: The verified token (a :class:`~conveyor.security.TokenInfo`).
        permission: What is about to be done.
        environment: The environment it is done in, if any.
        protected: Whether that environment is protected (``environments.<env>.protected``).

    Raises:
        AccessDeniedError: naming the token, its role and what it lacks.

    Example:
        >>> from datetime import UTC, datetime
        >>> from conveyor.security import TokenInfo
        >>> ci = TokenInfo("ci", Role.DEVELOPER, created_at=datetime.now(UTC))
        >>> authorize(ci, Permission.DEPLOY, environment="staging")
        >>> authorize(ci, Permission.DEPLOY, environment="production", protected=True)
        Traceback (most recent call last):
        ...
        conveyor.security._errors.AccessDeniedError: Token 'ci' (role developer) may not deploy ...
    """
    granted = ROLE_PERMISSIONS.get(token.role, frozenset())
    if permission not in granted:
        raise AccessDeniedError(
            f"Token {token.name!r} (role {token.role}) may not {permission}.",
            hint="Use a token whose role has this permission (see docs/access.md).",
            token=token.name,
            role=str(token.role),
            permission=str(permission),
        )
    if environment is not None and token.environments and environment not in token.environments:
        raise AccessDeniedError(
            f"Token {token.name!r} is limited to environments "
            f"{', '.join(token.environments)}; not {environment!r}.",
            hint="Use a token scoped to this environment, or one with no scope.",
            token=token.name,
            environment=environment,
        )
    if protected and permission in ENVIRONMENT_ACTIONS and Permission.PROTECTED not in granted:
        where = f" {environment!r}" if environment is not None else ""
        raise AccessDeniedError(
            f"Token {token.name!r} (role {token.role}) may not {permission} in the protected "
            f"environment{where}.",
            hint="Protected environments need a deployer or admin token.",
            token=token.name,
            role=str(token.role),
            permission=str(permission),
        )
