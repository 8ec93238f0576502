"""Outputs on real data: class probabilities on request, /v2 metadata datatypes that match
what infer returns, and a header naming the version that answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_support import running, wait_ready
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from conveyor.serving import ServingSettings
from conveyor.serving._launch import build_app
from conveyor.workspace import Workspace

pytestmark = pytest.mark.slow

SETTINGS = ServingSettings(prepare_explainers=False, log_predictions=False)
CANCER = ["mean radius", "mean texture", "mean area"]
PENGUIN = {"island": "Biscoe", "sex": "female", "bill_length_mm": 45.1, "year": 2008}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """cancer@1 (integer labels, ONNX twin), diabetes@1 (regression), penguins@1 (strings)."""
    from palmerpenguins import load_penguins

    cancer = load_breast_cancer(as_frame=True)
    diabetes = load_diabetes(as_frame=True)
    penguins = load_penguins().dropna()
    features = penguins[["island", "sex", "bill_length_mm", "year"]]
    encoder = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["island", "sex"]), remainder="passthrough"
    )
    with Workspace.open(tmp_path_factory.mktemp("outputs"), env={}) as workspace:
        models = workspace.models
        frame = cancer.frame[CANCER]
        models.register(
            "cancer",
            LogisticRegression(max_iter=5000).fit(frame, cancer.target),
            input_example=frame.head(20),
        )
        models.register(
            "diabetes",
            LinearRegression().fit(diabetes.data, diabetes.target),
            input_example=diabetes.data.head(20),
        )
        models.register(
            "penguins",
            make_pipeline(encoder, LogisticRegression(max_iter=2000)).fit(
                features, penguins["species"]
            ),
            input_example=features.head(20),
        )
        yield workspace


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, Any]]:
    cancer = load_breast_cancer(as_frame=True).frame[CANCER].iloc[0].to_dict()
    diabetes = load_diabetes(as_frame=True).data.iloc[0].to_dict()
    return {"cancer": cancer, "diabetes": diabetes, "penguins": PENGUIN}


@pytest.fixture(scope="module")
def clients(ws: Workspace) -> Iterator[dict[str, httpx.Client]]:
    with (
        running(build_app(ws, "cancer@1", settings=SETTINGS)) as cancer,
        running(build_app(ws, "diabetes@1", settings=SETTINGS)) as diabetes,
        running(build_app(ws, "penguins@1", settings=SETTINGS)) as penguins,
    ):
        opened = {
            name: httpx.Client(base_url=url, timeout=20)
            for name, url in (("cancer", cancer), ("diabetes", diabetes), ("penguins", penguins))
        }
        for client in opened.values():
            assert wait_ready(client).status_code == 200
        yield opened
        for client in opened.values():
            client.close()


def test_class_probabilities_on_request_with_their_classes(
    clients: dict[str, httpx.Client], rows: dict[str, dict[str, Any]]
) -> None:
    answer = clients["penguins"].post(
        "/v1/predict", json={"rows": [rows["penguins"]] * 2, "outputs": ["proba"]}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert len(body["probabilities"]) == 2
    assert sum(body["probabilities"][0]) == pytest.approx(1.0)
    best = body["classes"][body["probabilities"][0].index(max(body["probabilities"][0]))]
    assert body["predictions"][0] == best
    assert answer.headers["x-conveyor-model-version"] == "penguins@1"
    served_by_onnx = clients["cancer"].post(
        "/v1/predict", json={"rows": [rows["cancer"]], "outputs": ["proba"]}
    )
    assert served_by_onnx.json()["classes"] == [0, 1]  # labels known also when ONNX answers


def test_probabilities_are_not_offered_where_there_are_none(
    clients: dict[str, httpx.Client], rows: dict[str, dict[str, Any]]
) -> None:
    regression = clients["diabetes"].post(
        "/v1/predict", json={"rows": [rows["diabetes"]], "outputs": ["proba"]}
    )
    typo = clients["cancer"].post(
        "/v1/predict", json={"rows": [rows["cancer"]], "outputs": ["probability"]}
    )
    plain = clients["cancer"].post("/v1/predict", json={"rows": [rows["cancer"]]})
    assert (regression.status_code, regression.json()["code"]) == (400, "unknown_output")
    assert "diabetes@1 has no class probabilities" in regression.json()["error"]
    assert (typo.status_code, typo.json()["code"]) == (400, "unknown_output")
    assert "probabilities" not in plain.json()


@pytest.mark.parametrize(
    ("name", "datatype"), [("cancer", "INT64"), ("diabetes", "FP64"), ("penguins", "BYTES")]
)
def test_v2_metadata_datatypes_match_what_infer_returns(
    clients: dict[str, httpx.Client], rows: dict[str, dict[str, Any]], name: str, datatype: str
) -> None:
    client = clients[name]
    metadata = client.get(f"/v2/models/{name}").json()
    inputs = [
        {"name": spec["name"], "shape": [1], "datatype": spec["datatype"], "data": [value]}
        for spec, value in zip(metadata["inputs"], rows[name].values(), strict=True)
    ]
    answer = client.post(f"/v2/models/{name}/infer", json={"inputs": inputs})
    assert answer.status_code == 200, answer.text
    (predict,) = answer.json()["outputs"]
    assert metadata["outputs"][0] == {"name": "predict", "datatype": datatype, "shape": [-1]}
    assert predict["datatype"] == datatype
    assert answer.headers["x-conveyor-model-version"] == f"{name}@1"


def test_v2_answers_the_probability_output_by_its_name(
    clients: dict[str, httpx.Client], rows: dict[str, dict[str, Any]]
) -> None:
    client = clients["cancer"]
    metadata = client.get("/v2/models/cancer").json()
    assert metadata["outputs"][1] == {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]}
    tensor = {
        "name": "x",
        "shape": [1, 3],
        "datatype": "FP64",
        "data": list(rows["cancer"].values()),
    }
    both = client.post(
        "/v2/models/cancer/infer",
        json={"inputs": [tensor], "outputs": [{"name": "predict_proba"}, {"name": "predict"}]},
    )
    unknown = client.post(
        "/v2/models/cancer/infer", json={"inputs": [tensor], "outputs": [{"name": "scores"}]}
    )
    outputs = {o["name"]: o for o in both.json()["outputs"]}
    assert outputs["predict_proba"]["shape"] == [1, 2]
    assert sum(outputs["predict_proba"]["data"]) == pytest.approx(1.0)
    assert outputs["predict"]["datatype"] == "INT64"
    assert (unknown.status_code, unknown.json()["code"]) == (400, "unknown_output")


def test_a_model_folder_is_removed_when_its_server_stops(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    # A temporary directory of this test's own: other tests running at the same time
    # serve the same model and would add folders of the same name to the shared one.
    own = tmp_path / "tmp"
    own.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own))

    def folders() -> set[str]:
        return {p.name for p in own.glob("conveyor-diabetes-1-*")}

    before = folders()
    with (
        running(build_app(ws, "diabetes@1", settings=SETTINGS)) as url,
        httpx.Client(base_url=url, timeout=20) as client,
    ):
        assert wait_ready(client).status_code == 200
        during = folders() - before
    assert len(during) == 1
    assert not (folders() - before)
