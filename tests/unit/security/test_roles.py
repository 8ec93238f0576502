"""The role table and :func:`authorize`: what each role may do, where."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor.security import (
    ROLE_PERMISSIONS,
    AccessDeniedError,
    Permission,
    Role,
    TokenInfo,
    UnknownRoleError,
    authorize,
    parse_role,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _token(role: Role, *environments: str) -> TokenInfo:
    return TokenInfo("t", role, environments=environments, created_at=NOW)


ALLOWED = {
    Role.VIEWER: {"read"},
    Role.PREDICTOR: {"predict"},
    Role.DEVELOPER: {"read", "predict", "feedback", "write", "deploy", "promote", "rollback"},
    Role.DEPLOYER: {
        "read",
        "predict",
        "feedback",
        "write",
        "deploy",
        "promote",
        "rollback",
        "approve",
        "protected",
    },
    Role.ADMIN: {str(p) for p in Permission},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_each_role_holds_exactly_its_row_of_the_table(role: Role, permission: Permission) -> None:
    if str(permission) in ALLOWED[role]:
        authorize(_token(role), permission)
    else:
        with pytest.raises(AccessDeniedError, match=f"role {role}\\) may not {permission}"):
            authorize(_token(role), permission)
    assert {str(p) for p in ROLE_PERMISSIONS[role]} == ALLOWED[role]


def test_a_predictor_may_not_send_feedback_but_a_developer_may() -> None:
    with pytest.raises(AccessDeniedError, match="may not feedback"):
        authorize(_token(Role.PREDICTOR), Permission.FEEDBACK)
    authorize(_token(Role.DEVELOPER), Permission.FEEDBACK)


@pytest.mark.parametrize("permission", [Permission.DEPLOY, Permission.PROMOTE, Permission.ROLLBACK])
def test_developers_act_only_outside_protected_environments(permission: Permission) -> None:
    authorize(_token(Role.DEVELOPER), permission, environment="staging")
    with pytest.raises(AccessDeniedError, match="protected environment 'production'") as info:
        authorize(_token(Role.DEVELOPER), permission, environment="production", protected=True)
    assert info.value.status == 403
    assert info.value.hint
    authorize(_token(Role.DEPLOYER), permission, environment="production", protected=True)
    authorize(_token(Role.ADMIN), permission, environment="production", protected=True)


def test_reading_a_protected_environment_needs_no_protected_permission() -> None:
    authorize(_token(Role.VIEWER), Permission.READ, environment="production", protected=True)


def test_a_scoped_token_acts_only_in_its_environments() -> None:
    scoped = _token(Role.PREDICTOR, "staging")
    authorize(scoped, Permission.PREDICT, environment="staging")
    authorize(scoped, Permission.PREDICT)  # no environment involved
    with pytest.raises(AccessDeniedError, match="limited to environments staging; not 'prod'"):
        authorize(scoped, Permission.PREDICT, environment="prod")


def test_an_empty_scope_is_every_environment() -> None:
    authorize(_token(Role.PREDICTOR), Permission.PREDICT, environment="anything")


@pytest.mark.parametrize("value", ["root", "", "ADMIN", None, 3, "a" * 10_000, "admin\x00"])
def test_unknown_roles_are_refused_naming_the_value(value: object) -> None:
    with pytest.raises(UnknownRoleError, match="Unknown role") as info:
        parse_role(value)
    assert len(info.value.message) < 300
    assert info.value.hint is not None
    assert "admin" in info.value.hint


def test_roles_parse_from_their_names() -> None:
    assert [parse_role(str(role)) for role in Role] == list(Role)
