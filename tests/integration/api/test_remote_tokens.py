"""A prediction server of a remote workspace checks tokens with the team server.

``RemoteTokens`` asks ``/api/v1/whoami`` with the presented token: it needs no token
records (no admin token) on the prediction server's side, refuses what the team server
refuses, and never lets a token through when the team server cannot be asked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.core import Actor
from conveyor.remote import RemoteTokens, ServerUnavailableError
from conveyor.security import FailureLimiter, InvalidTokenError, Role, TooManyAttemptsError
from conveyor.workspace import Workspace
from server_support import control_plane, free_port


def test_tokens_are_checked_by_the_team_server(tmp_path: Path) -> None:
    now = [0.0]
    with Workspace.open(tmp_path, env={}) as ws, control_plane(ws) as server:
        predictor = server.token("shop", "predictor", environments=("production",))
        tokens = RemoteTokens(server.url, cache_s=30, clock=lambda: now[0])
        token = tokens.verify(predictor, client="10.0.0.1")
        assert (token.name, token.role, token.environments) == (
            "shop",
            Role.PREDICTOR,
            ("production",),
        )
        for bad in (None, "", "cvy_" + "0" * 40, "x" * 300, "caf\u00e9"):
            with pytest.raises(InvalidTokenError, match="not valid"):
                tokens.verify(bad, client="10.0.0.2")
        # the team server audited the unknown token it was asked about, without its text
        rejected = ws.audit_log(action="token.rejected")
        assert rejected
        assert all("0" * 40 not in str(e.details) for e in rejected)

        server.tokens.revoke("shop", actor=Actor("admin"))
        assert tokens.verify(predictor, client="10.0.0.1").name == "shop"  # cached
        now[0] += 31
        with pytest.raises(InvalidTokenError):
            tokens.verify(predictor, client="10.0.0.1")
        tokens.close()


def test_a_client_guessing_tokens_is_stopped(tmp_path: Path) -> None:
    with Workspace.open(tmp_path, env={}) as ws, control_plane(ws) as server:
        tokens = RemoteTokens(server.url, limiter=FailureLimiter(max_failures=3))
        for _ in range(3):
            with pytest.raises(InvalidTokenError):
                tokens.verify("cvy_" + "1" * 40, client="10.0.0.9")
        with pytest.raises(TooManyAttemptsError):
            tokens.verify("cvy_" + "1" * 40, client="10.0.0.9")
        tokens.close()


def test_an_unreachable_team_server_lets_no_token_through() -> None:
    tokens = RemoteTokens(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ServerUnavailableError):
        tokens.verify("cvy_" + "2" * 40, client="10.0.0.3")
    tokens.close()
