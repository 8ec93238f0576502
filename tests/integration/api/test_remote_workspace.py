"""A remote workspace: only a server URL and a token, the same results as a local one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from conveyor.security import AccessDeniedError, InvalidTokenError
from conveyor.workspace import NoMetadataStoreError, Workspace
from server_support import Server, control_plane


@pytest.fixture
def server(tmp_path: Path) -> Server:
    with Workspace.open(tmp_path / "server", env={}) as ws, control_plane(ws) as running:
        yield running  # type: ignore[misc]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": [10.0, 12.5, np.nan, 7.0, 30.0, 1.0],
            "country": ["DE", "FR", None, "DE", "US", "FR"],
            "member": [True, False, True, False, True, False],
            "at": pd.to_datetime(["2026-01-01"] * 6),
            "churned": [0, 1, 0, 1, 0, 1],
        }
    )


def test_data_and_models_round_trip_through_the_server(server: Server, tmp_path: Path) -> None:
    env = {
        "CONVEYOR_SERVER_URL": server.url,
        "CONVEYOR_TOKEN": server.token("alice", "developer"),
        "CONVEYOR_ACTOR": "mallory",  # a self-declared name counts for nothing
    }
    frame = _frame()
    with Workspace.open(tmp_path / "clone", env=env) as ws:
        assert ws.is_remote
        assert ws.actor.name == "token:alice"
        version = ws.datasets.add("orders", frame)
        pd.testing.assert_frame_equal(ws.datasets.load(f"orders@{version.version}"), frame)
        features = frame[["amount", "country"]].fillna({"amount": 0.0, "country": "?"})
        model = make_pipeline(
            make_column_transformer(
                (OneHotEncoder(handle_unknown="ignore"), ["country"]), remainder="passthrough"
            ),
            LogisticRegression(),
        ).fit(features, frame["churned"])
        registered = ws.models.register("churn", model, input_example=features.head(2))
        loaded = ws.models.load(f"churn@{registered.version}")
        assert (loaded.predict(features) == model.predict(features)).all()
        assert [e.actor for e in ws.audit_log(action="model.register")] == ["token:alice"]
        assert ws.verify_audit().ok
        with pytest.raises(NoMetadataStoreError):
            ws.gc(dry_run=True)
    assert not (tmp_path / "clone" / ".conveyor" / "conveyor.db").exists()
    # The server holds it all, recorded under the token.
    assert server.ws.datasets.load("orders").shape == frame.shape
    assert {
        e.actor for e in server.ws.audit_log() if e.action in ("data.add", "model.register")
    } == {"token:alice"}


def test_a_bad_token_fails_when_the_workspace_opens(server: Server, tmp_path: Path) -> None:
    env = {"CONVEYOR_SERVER_URL": server.url, "CONVEYOR_TOKEN": "cvy_" + "0" * 40}
    with pytest.raises(InvalidTokenError, match="not valid"):
        Workspace.open(tmp_path / "clone", env=env)


def test_a_viewer_reads_but_cannot_write(server: Server, tmp_path: Path) -> None:
    server.ws.datasets.add("orders", _frame())
    env = {"CONVEYOR_SERVER_URL": server.url, "CONVEYOR_TOKEN": server.token("v", "viewer")}
    with Workspace.open(tmp_path / "clone", env=env) as ws:
        assert ws.datasets.load("orders").shape == (6, 5)
        with pytest.raises(AccessDeniedError):
            ws.datasets.add("orders", _frame().head(2))
    assert [v.version for v in server.ws.datasets.log("orders")] == [1]


def test_the_audit_trail_filters_by_actor_and_pages_back_through_the_server(
    server: Server, tmp_path: Path
) -> None:
    frame = _frame()
    for name in ("alice", "bob"):
        env = {"CONVEYOR_SERVER_URL": server.url, "CONVEYOR_TOKEN": server.token(name, "developer")}
        with Workspace.open(tmp_path / name, env=env) as ws:
            ws.datasets.add(f"orders-{name}", frame)
            ws.datasets.add(f"orders-{name}", frame.head(3))
    local = server.ws.audit
    with Workspace.open(tmp_path / "alice", env=env) as ws:
        remote = ws.audit
        by_alice = remote.audit_log(by_actor="token:alice")
        assert by_alice == local.audit_log(by_actor="token:alice")
        assert by_alice
        assert {e.actor for e in by_alice} == {"token:alice"}
        newest = remote.audit_log(limit=1)[-1]
        older = remote.audit_log(limit=2, before_seq=newest.seq)
        assert [e.seq for e in older] == [newest.seq - 2, newest.seq - 1]
        assert remote.audit_log(by_actor="token:nobody") == []
