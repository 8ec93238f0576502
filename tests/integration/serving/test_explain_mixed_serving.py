"""``POST /v1/explain`` on models with string and missing inputs, on a real server: SHAP
values per raw column, and 501/409 with the reason (never 500) when a model's explainer
cannot be built, while predictions go on being served."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import palmerpenguins
import pandas as pd
import pytest
from serving_support import linear_model, running
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

from conveyor.serving import ModelHost, create_app
from conveyor.serving._explain import ExplainerSlot, explain_status
from conveyor.serving._launch import build_app, model_loader
from conveyor.workspace import Workspace

pytestmark = pytest.mark.slow  # SHAP's import and permutation kernels take seconds

CATEGORICAL = ["island", "sex"]


def _penguins() -> tuple[pd.DataFrame, pd.Series]:
    frame = palmerpenguins.load_penguins()
    return frame.drop(columns=["species"]), frame["species"]


def _pipeline(estimator: object, x: pd.DataFrame) -> Pipeline:
    numeric = [c for c in x.columns if c not in CATEGORICAL]
    pre = make_column_transformer(
        (
            make_pipeline(
                SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
            ),
            CATEGORICAL,
        ),
        (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
    )
    return make_pipeline(pre, estimator)


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """penguins@1: one-hot encoded logistic regression; svc@1: no predict_proba, strings out."""
    x, y = _penguins()
    example = x.iloc[[3, *range(0, 344, 9)]]  # row 3: measurements and sex missing
    with Workspace.open(tmp_path) as workspace:
        registry = workspace.models
        model = _pipeline(LogisticRegression(max_iter=1000), x).fit(x, y)
        registry.register("penguins", model, input_example=example)
        registry.register("svc", _pipeline(LinearSVC(), x).fit(x, y), input_example=example)
        yield workspace


def _wait_ready(client: httpx.Client) -> httpx.Response:
    deadline = time.monotonic() + 120
    while True:
        answer = client.get("/v2/health/ready")
        if answer.status_code == 200 or "error" in answer.json() or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def test_a_one_hot_encoded_penguins_pipeline_is_explained_per_raw_column(ws: Workspace) -> None:
    x, _ = _penguins()
    rows = _rows(x.iloc[[0, 3, 150, 300]])  # row 3: every measurement and sex missing
    with (
        running(build_app(ws, "penguins@1")) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        assert _wait_ready(client).status_code == 200
        answer = client.post("/v1/explain", json={"rows": rows})
    body = answer.json()
    assert answer.status_code == 200, body
    assert body["method"] == "permutation"
    assert [set(e) for e in body["explanations"]] == [set(x.columns)] * 4
    assert all(np.isfinite(list(e.values())).all() for e in body["explanations"])
    assert len(body["base_values"]) == 4


def test_a_model_that_cannot_be_explained_answers_501_with_the_reason_and_still_predicts(
    ws: Workspace,
) -> None:
    x, _ = _penguins()
    rows = _rows(x.head(2))
    with running(build_app(ws, "svc@1")) as url, httpx.Client(base_url=url, timeout=60) as client:
        ready = _wait_ready(client)
        explained = client.post("/v1/explain", json={"rows": rows})
        predicted = client.post("/v1/predict", json={"rows": rows})
        metadata = client.get("/v2/models/svc/versions/1")
    assert ready.status_code == 200  # predictions are served
    assert metadata.status_code == 200, metadata.text
    said = metadata.json()["parameters"]["explain"]
    assert said["status"] == "unsupported"
    assert "not numbers" in said["reason"]
    assert predicted.status_code == 200
    assert explained.status_code == 501, explained.text
    body = explained.json()
    assert body["code"] == "explain_unsupported"
    assert "svc@1" in body["error"]
    assert "predict_proba" in body["reason"] + body["hint"]


def test_the_loaded_version_exposes_why_it_has_no_explainer(ws: Workspace) -> None:
    explained = model_loader(ws, "penguins@1")()
    refused = model_loader(ws, "svc@1")()
    assert explain_status(explained) == {"status": "ready", "reason": None}
    status = explain_status(refused)
    assert status["status"] == "unsupported"
    assert "not numbers" in str(status["reason"])


def test_an_explainer_whose_build_failed_otherwise_answers_409_with_the_reason() -> None:
    def unreadable() -> Any:
        raise OSError("model.skops: no such file")

    model = linear_model()
    object.__setattr__(model, "explainer", ExplainerSlot.prepare(unreadable))
    host = ModelHost()
    host.add(model)
    with (
        running(create_app(host)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        answer = client.post("/v1/explain", json={"rows": [{"age": 30.0, "spend": 5.0}]})
        predicted = client.post("/v1/predict", json={"rows": [{"age": 30.0, "spend": 5.0}]})
    assert answer.status_code == 409
    assert answer.json()["code"] == "explainer_unavailable"
    assert "no such file" in answer.json()["reason"]
    assert predicted.status_code == 200
    assert explain_status(model)["status"] == "unavailable"


def test_hostile_values_in_raw_columns_are_explained_not_crashed_on(ws: Workspace) -> None:
    x, _ = _penguins()
    hostile = _rows(x.iloc[[0, 1]])
    hostile[0].update(island="Ätlantis\u0000" + "x" * 10_000, sex="\u202e")
    hostile[1].update(bill_length_mm=1e308, body_mass_g=-1e308, year=2**62)
    with (
        running(build_app(ws, "penguins@1")) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        assert _wait_ready(client).status_code == 200
        answer = client.post("/v1/explain", json={"rows": hostile})
        again = client.post("/v1/explain", json={"rows": _rows(x.head(1))})
    assert answer.status_code == 200, answer.text
    assert [set(e) for e in answer.json()["explanations"]] == [set(x.columns)] * 2
    assert again.status_code == 200
