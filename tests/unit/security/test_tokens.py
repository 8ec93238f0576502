"""Creating, verifying and revoking tokens over in-memory records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from token_memory import MemoryTokenRecords

from conveyor.core import Actor
from conveyor.errors import InvalidNameError
from conveyor.security import (
    PREFIX,
    FailureLimiter,
    InvalidTokenError,
    Role,
    SecurityError,
    TokenExistsError,
    TokenNotFoundError,
    Tokens,
    TooManyAttemptsError,
    UnknownRoleError,
    hash_secret,
)

ALICE = Actor("alice")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def records() -> MemoryTokenRecords:
    return MemoryTokenRecords()


@pytest.fixture
def tokens(records: MemoryTokenRecords, clock: Clock) -> Tokens:
    return Tokens(records, clock=clock)


def test_a_created_secret_verifies_to_its_token(tokens: Tokens) -> None:
    secret, info = tokens.create("ci", "developer", environments=["staging"], actor=ALICE)
    assert secret.startswith(PREFIX)
    assert len(secret) == len(PREFIX) + 43
    assert info.role is Role.DEVELOPER
    assert info.environments == ("staging",)
    assert info.created_by == "alice"
    assert tokens.verify(secret, client="c").name == "ci"


def test_only_the_hash_is_stored_and_nothing_audited_holds_the_secret(
    tokens: Tokens, records: MemoryTokenRecords
) -> None:
    secret, _ = tokens.create("ci", Role.ADMIN, actor=ALICE)
    assert list(records.hashes) == [hash_secret(secret)]
    with pytest.raises(InvalidTokenError):
        tokens.verify(secret + "x", client="c")
    shown = repr(records.audit) + repr(records.tokens)
    assert secret not in shown
    assert hash_secret(secret) not in shown
    assert secret + "x" not in shown


def test_two_secrets_differ(tokens: Tokens) -> None:
    first, _ = tokens.create("a", "viewer", actor=ALICE)
    second, _ = tokens.create("b", "viewer", actor=ALICE)
    assert first != second


BAD = [
    None,
    "",
    "cvy_",
    "Bearer cvy_x",
    "cvy_" + "a" * 42,
    "cvy_" + "a" * 44,
    "xyz_" + "a" * 43,
    "cvy_" + "a" * 42 + "\x00",
    "cvy_" + "a" * 42 + "é",
    "\udcff" * 47,
    "a" * 1_000_000,
    b"cvy_" + b"a" * 43,
    42,
]


@pytest.mark.parametrize("secret", BAD, ids=range(len(BAD)))
def test_malformed_secrets_get_the_one_invalid_token_message(
    tokens: Tokens, secret: object
) -> None:
    with pytest.raises(InvalidTokenError, match=r"^The token is not valid\.$") as info:
        tokens.verify(secret, client="c")
    assert info.value.status == 401


def test_unknown_expired_and_revoked_tokens_read_the_same(tokens: Tokens, clock: Clock) -> None:
    expiring, _ = tokens.create("short", "predictor", expires=timedelta(hours=1), actor=ALICE)
    revoked, _ = tokens.create("gone", "predictor", actor=ALICE)
    tokens.revoke("gone", actor=ALICE)
    clock.now += timedelta(hours=1)
    messages = set()
    for secret in (expiring, revoked, PREFIX + "A" * 43):
        with pytest.raises(InvalidTokenError) as info:
            tokens.verify(secret, client="c")
        messages.add((info.value.message, info.value.hint, tuple(info.value.fields)))
    assert len(messages) == 1


def test_a_token_works_until_its_expiry(tokens: Tokens, clock: Clock) -> None:
    secret, info = tokens.create("short", "predictor", expires=timedelta(days=90), actor=ALICE)
    assert info.expires_at == clock.now + timedelta(days=90)
    clock.now += timedelta(days=90) - timedelta(seconds=1)
    tokens.verify(secret, client="c")
    clock.now += timedelta(seconds=1)
    with pytest.raises(InvalidTokenError):
        tokens.verify(secret, client="c")


def test_rejections_are_audited_with_the_client_never_the_secret(
    tokens: Tokens, records: MemoryTokenRecords
) -> None:
    secret, _ = tokens.create("gone", "predictor", actor=ALICE)
    tokens.revoke("gone", actor=ALICE)
    for presented in (secret, PREFIX + "B" * 43, "garbage-token"):
        with pytest.raises(InvalidTokenError):
            tokens.verify(presented, client="10.0.0.7")
    rejected = [entry for entry in records.audit if entry[1] == "token.rejected"]
    assert [(t, d) for _, _, t, d in rejected] == [
        ("token:gone", {"client": "10.0.0.7", "reason": "revoked"}),
        ("token:?", {"client": "10.0.0.7", "reason": "unknown"}),
        ("token:?", {"client": "10.0.0.7", "reason": "malformed"}),
    ]
    assert secret not in repr(records.audit)
    assert "garbage-token" not in repr(records.audit)


def test_a_missing_token_is_neither_counted_nor_audited(
    records: MemoryTokenRecords, clock: Clock
) -> None:
    tokens = Tokens(records, limiter=FailureLimiter(max_failures=1), clock=clock)
    for _ in range(5):
        with pytest.raises(InvalidTokenError):
            tokens.verify(None, client="c")
    assert records.audit == []


def test_too_many_failures_from_one_client_block_it_even_with_a_good_token(
    records: MemoryTokenRecords, clock: Clock
) -> None:
    seconds = [0.0]
    limiter = FailureLimiter(max_failures=3, window_s=60, clock=lambda: seconds[0])
    tokens = Tokens(records, limiter=limiter, clock=clock)
    good, _ = tokens.create("ci", "predictor", actor=ALICE)
    for _ in range(3):
        with pytest.raises(InvalidTokenError):
            tokens.verify("nope", client="10.0.0.7")
    with pytest.raises(TooManyAttemptsError, match=r"from 10\.0\.0\.7; retry in 60 s") as info:
        tokens.verify(good, client="10.0.0.7")
    assert info.value.status == 429
    assert tokens.verify(good, client="10.0.0.8").name == "ci"  # other clients are not blocked
    audited = [entry for entry in records.audit if entry[1] == "token.rejected"]
    assert len(audited) == 3  # refusals while blocked are not audited (bounded log)
    seconds[0] += 60
    assert tokens.verify(good, client="10.0.0.7").name == "ci"


def test_the_limiter_forgets_the_oldest_clients_past_its_bound() -> None:
    limiter = FailureLimiter(max_failures=1, max_clients=2, clock=lambda: 0.0)
    for client in ("a", "b", "c"):
        limiter.failed(client)
    limiter.check("a")  # forgotten
    with pytest.raises(TooManyAttemptsError):
        limiter.check("c")


def test_last_used_is_recorded_at_most_once_a_minute(
    tokens: Tokens, records: MemoryTokenRecords, clock: Clock
) -> None:
    secret, _ = tokens.create("ci", "predictor", actor=ALICE)
    first = clock.now
    tokens.verify(secret, client="c")
    clock.now += timedelta(seconds=30)
    tokens.verify(secret, client="c")
    assert records.tokens["ci"].last_used_at == first
    clock.now += timedelta(seconds=30)
    tokens.verify(secret, client="c")
    assert records.tokens["ci"].last_used_at == clock.now


@pytest.mark.parametrize("name", ["", "a/b", "..", "x" * 200, "name with space", "ci\n", "é"])
def test_hostile_names_are_refused(tokens: Tokens, name: str) -> None:
    with pytest.raises(InvalidNameError, match="Invalid token name"):
        tokens.create(name, "viewer", actor=ALICE)


def test_hostile_environment_names_are_refused(tokens: Tokens) -> None:
    with pytest.raises(InvalidNameError, match="Invalid environment name"):
        tokens.create("ci", "viewer", environments=["../prod"], actor=ALICE)


def test_an_unknown_role_is_refused(tokens: Tokens, records: MemoryTokenRecords) -> None:
    with pytest.raises(UnknownRoleError, match="Unknown role 'root'"):
        tokens.create("ci", "root", actor=ALICE)
    assert records.tokens == {}


@pytest.mark.parametrize("expires", [timedelta(0), timedelta(days=-1)])
def test_a_lifetime_must_be_positive(tokens: Tokens, expires: timedelta) -> None:
    with pytest.raises(SecurityError, match="must be positive"):
        tokens.create("ci", "viewer", expires=expires, actor=ALICE)


def test_a_huge_lifetime_is_refused(tokens: Tokens) -> None:
    with pytest.raises(SecurityError, match="too long"):
        tokens.create("ci", "viewer", expires=timedelta(days=999_999_999), actor=ALICE)


def test_names_are_unique_even_once_revoked(tokens: Tokens) -> None:
    tokens.create("ci", "viewer", actor=ALICE)
    tokens.revoke("ci", actor=ALICE)
    with pytest.raises(TokenExistsError, match="'ci' exists already"):
        tokens.create("ci", "viewer", actor=ALICE)


def test_revoking_an_unknown_token_says_so(tokens: Tokens) -> None:
    with pytest.raises(TokenNotFoundError, match="No token is named 'nope'"):
        tokens.revoke("nope", actor=ALICE)


def test_list_shows_state_without_secrets(tokens: Tokens, clock: Clock) -> None:
    tokens.create("b", "viewer", actor=ALICE)
    tokens.create("a", "viewer", expires=timedelta(minutes=1), actor=ALICE)
    clock.now += timedelta(minutes=1)
    listed = tokens.list()
    assert [(t.name, t.state(clock.now)) for t in listed] == [("a", "expired"), ("b", "active")]
    assert "secret" not in repr(listed[0].to_dict())
