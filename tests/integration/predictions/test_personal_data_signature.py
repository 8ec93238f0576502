"""Columns a version's signature flags as personal data are protected like configured ones:
the prediction server hashes or drops them in the log, refuses to start without the key, and
monitoring never drift-tests them."""

from __future__ import annotations

import hashlib
import hmac
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))

from serving_support import running, wait_ready

from conveyor.deployments import DeploymentStore, Variant
from conveyor.predictions import PiiKeyMissingError
from conveyor.serving import ServingSettings
from conveyor.serving._launch import build_app, build_env_app
from conveyor.workspace import Workspace

EMAIL = "planted.penguin@example.org"
KEY = "a-long-random-secret-for-tests"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
SETTINGS = ServingSettings(prepare_explainers=False)


def _penguins() -> tuple[pd.DataFrame, pd.Series]:
    frame = load_penguins().dropna(subset=[*NUMERIC, "species"]).reset_index(drop=True)
    x = frame[NUMERIC].copy()
    x["email"] = [f"bird{i}@example.com" for i in range(len(x))]
    return x, frame["species"]


def _pipeline(x: pd.DataFrame, y: pd.Series) -> Pipeline:
    numbers = ColumnTransformer([("n", StandardScaler(), NUMERIC)])  # the email is dropped
    return make_pipeline(numbers, LogisticRegression(max_iter=500)).fit(x, y)


def _project(root: Path, policy: str, env: dict[str, str]) -> Workspace:
    """``penguins@1`` takes an email column its signature flags; no column is configured."""
    root.mkdir(parents=True, exist_ok=True)
    config = (
        f"project: {{name: p}}\npredictions: {{pii: {{policy: {policy}}}}}\n"
        "environments: {production: {strategy: replace}}\n"
    )
    (root / "conveyor.yaml").write_text(config, encoding="utf-8")
    ws = Workspace.open(root, env=env, search_parents=False)
    x, y = _penguins()
    model = _pipeline(x, y)
    ws.models.register("penguins", model, input_example=x.head(5), pii=("email",), explain=False)
    assert not ws.settings.config.predictions.pii.columns
    return ws


@pytest.fixture(params=["hash", "drop"])
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    workspace = _project(tmp_path / "p", request.param, {"CONVEYOR_PII_KEY": KEY})
    try:
        yield workspace
    finally:
        workspace.close()


def _rows() -> list[dict[str, object]]:
    return [
        {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181.0,
         "body_mass_g": 3750.0, "email": EMAIL},
        {"bill_length_mm": 46.5, "bill_depth_mm": 15.0, "flipper_length_mm": 220.0,
         "body_mass_g": 5200.0, "email": EMAIL},
    ]  # fmt: skip


def _check_log(ws: Workspace) -> None:
    logged = ws.predictions.read()
    assert len(logged) == 2
    if ws.settings.config.predictions.pii.policy == "hash":
        digest = hmac.new(KEY.encode(), EMAIL.encode(), hashlib.sha256).hexdigest()
        assert logged["in_email"].tolist() == [digest, digest]
    else:
        assert "in_email" not in logged.columns
    assert logged["in_body_mass_g"].tolist() == [3750.0, 5200.0]
    files = [path for path in (Path(ws.root) / ".conveyor").rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert EMAIL.encode() not in path.read_bytes(), path


def test_a_served_version_logs_its_flagged_column_masked(ws: Workspace) -> None:
    app = build_app(ws, "penguins@1", settings=SETTINGS)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert wait_ready(client).status_code == 200
        answer = client.post("/v1/predict", json={"rows": _rows()})
        assert answer.status_code == 200, answer.text
    _check_log(ws)


def test_an_environment_serving_the_version_logs_its_flagged_column_masked(
    ws: Workspace,
) -> None:
    DeploymentStore(ws.store, actor=ws.actor).transition(
        "production",
        expected_revision=None,
        action="deploy",
        reason="test",
        strategy="replace",
        state="stable",
        variants=(Variant("penguins", 1, "champion", 100.0),),
    )
    app = build_env_app(ws, "production", settings=SETTINGS, interval_s=0.05)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert wait_ready(client).status_code == 200
        answer = client.post("/v1/predict", json={"rows": _rows()})
        assert answer.status_code == 200, answer.text
    _check_log(ws)


def test_the_server_refuses_to_start_without_the_key_naming_it(tmp_path: Path) -> None:
    ws = _project(tmp_path / "p", "hash", {})
    try:
        with pytest.raises(PiiKeyMissingError, match="CONVEYOR_PII_KEY") as caught:
            build_app(ws, "penguins@1", settings=SETTINGS)
        assert "email" in caught.value.message
        # Not logging predictions, nothing is to be masked: the server may start.
        build_app(ws, "penguins@1", settings=ServingSettings(log_predictions=False))
    finally:
        ws.close()


def test_a_version_deployed_later_without_the_key_never_serves(tmp_path: Path) -> None:
    """The environment starts on a version without personal data; the flagged one it is
    moved to cannot be masked without the key, so its load fails and it never answers."""
    ws = _project(tmp_path / "p", "hash", {})
    try:
        x, y = _penguins()
        plain = _pipeline(x, y)
        ws.models.register("plain", plain, input_example=x.head(5), explain=False)
        deployments = DeploymentStore(ws.store, actor=ws.actor)
        first = deployments.transition(
            "production",
            expected_revision=None,
            action="deploy",
            reason="test",
            strategy="replace",
            state="stable",
            variants=(Variant("plain", 1, "champion", 100.0),),
        )
        app = build_env_app(ws, "production", settings=SETTINGS, interval_s=0.05)
        follower = app.state.follower
        with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            assert wait_ready(client).status_code == 200
            deployments.transition(
                "production",
                expected_revision=first.revision,
                action="deploy",
                reason="test",
                strategy="replace",
                state="stable",
                variants=(Variant("penguins", 1, "champion", 100.0),),
            )
            assert _wait(lambda: bool(follower.failures)), "loaded without a key"
            (failure,) = follower.failures
            assert (failure.model, failure.version) == ("penguins", 1)
            assert "PiiKeyMissingError" in failure.error
            assert "CONVEYOR_PII_KEY" in failure.error
            answer = client.post("/v1/predict", json={"rows": _rows()})
            assert answer.status_code == 200, answer.text
            assert answer.json()["model"] == "plain"
        logged = ws.predictions.read()
        assert set(logged["model"]) == {"plain"}
    finally:
        ws.close()


def _wait(predicate: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
