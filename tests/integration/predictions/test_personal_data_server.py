"""A real prediction server never writes a personal-data column in clear, anywhere."""

from __future__ import annotations

import hashlib
import hmac
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))

from serving_support import running, wait_ready

from conveyor.predictions import PiiKeyMissingError
from conveyor.serving import ServingSettings
from conveyor.serving._launch import build_app
from conveyor.workspace import Workspace

EMAIL = "planted.person@example.org"
KEY = "a-long-random-secret-for-tests"


def _frame(rows: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows),
            "spend": rng.normal(50, 20, rows),
            "email": [f"user{i}@example.com" for i in range(rows)],
        }
    )
    return frame, (frame["age"] > 40).astype(int)


@pytest.fixture(params=["hash", "drop"])
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """churn@1 takes an email column (and ignores it); ``email`` is personal data."""
    pii = f"{{columns: [email], policy: {request.param}}}"
    config = f"project: {{name: p}}\npredictions: {{pii: {pii}}}\n"
    (tmp_path / "conveyor.yaml").write_text(config)
    with Workspace.open(tmp_path, env={"CONVEYOR_PII_KEY": KEY}) as workspace:
        x, y = _frame(200)
        numbers = ColumnTransformer([("n", "passthrough", ["age", "spend"])])
        model = make_pipeline(numbers, LogisticRegression()).fit(x, y)
        workspace.models.register("churn", model, input_example=x.head(20), explain=False)
        yield workspace  # the server sets the masking policy itself


def test_a_planted_email_is_found_in_no_file_under_the_project_state(ws: Workspace) -> None:
    rows = [
        {"age": 41.0, "spend": 80.0, "email": EMAIL},
        {"age": 20.0, "spend": 5.0, "email": EMAIL},
    ]
    app = build_app(ws, "churn@1", settings=ServingSettings(prepare_explainers=False))
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert wait_ready(client).status_code == 200
        answer = client.post("/v1/predict", json={"rows": rows})
        assert answer.status_code == 200, answer.text
    logged = ws.predictions.read()
    assert len(logged) == 2
    if ws.settings.config.predictions.pii.policy == "hash":
        digest = hmac.new(KEY.encode(), EMAIL.encode(), hashlib.sha256).hexdigest()
        assert logged["in_email"].tolist() == [digest, digest]
    else:
        assert "in_email" not in logged.columns
    state = Path(ws.root) / ".conveyor"
    files = [path for path in state.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert EMAIL.encode() not in path.read_bytes(), path


def test_the_server_refuses_to_start_when_the_hash_key_is_missing(tmp_path: Path) -> None:
    config = "project: {name: p}\npredictions: {pii: {columns: [email]}}\n"
    (tmp_path / "conveyor.yaml").write_text(config)
    with Workspace.open(tmp_path, env={}) as workspace:
        x, y = _frame(50)
        numbers = ColumnTransformer([("n", "passthrough", ["age", "spend"])])
        model = make_pipeline(numbers, LogisticRegression()).fit(x, y)
        workspace.models.register("churn", model, input_example=x.head(5), explain=False)
        with pytest.raises(PiiKeyMissingError, match="CONVEYOR_PII_KEY"):
            build_app(workspace, "churn@1", settings=ServingSettings())
