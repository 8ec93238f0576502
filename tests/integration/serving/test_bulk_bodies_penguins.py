"""Real mixed data (palmerpenguins: strings, doubles, a long, missing values) sent four ways:
JSON rows, JSON columns, an Arrow IPC stream and a Parquet file predict the same species."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pytest
from serving_support import ARROW, PARQUET, ipc, parquet, running, wait_ready
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from conveyor.serving import ServingSettings
from conveyor.serving._launch import build_app
from conveyor.workspace import Workspace

pytestmark = pytest.mark.slow

COLUMNS = ["island", "sex", "bill_length_mm", "body_mass_g", "year"]
SETTINGS = ServingSettings(prepare_explainers=False, log_predictions=False)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame) -> Iterator[httpx.Client]:
    features = frame[COLUMNS]
    encode = make_column_transformer(
        (
            make_pipeline(
                SimpleImputer(strategy="constant", fill_value="missing"),
                OneHotEncoder(handle_unknown="ignore"),
            ),
            ["island", "sex"],
        ),
        (SimpleImputer(), ["bill_length_mm", "body_mass_g", "year"]),
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=3000)).fit(features, frame["species"])
    with Workspace.open(tmp_path_factory.mktemp("bulk"), env={}) as ws:
        ws.models.register("penguins", model, input_example=features.head(20))
        with (
            running(build_app(ws, "penguins@1", settings=SETTINGS)) as url,
            httpx.Client(base_url=url, timeout=30) as opened,
        ):
            assert wait_ready(opened).status_code == 200
            yield opened


def _sample(frame: pd.DataFrame) -> pd.DataFrame:
    """Every row with a missing value, and enough others for 100 rows."""
    features = frame[COLUMNS]
    missing = features[features.isna().any(axis=1)]
    rest = features.dropna().sample(100 - len(missing), random_state=3)
    return pd.concat([missing, rest]).reset_index(drop=True)


def _records(sample: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in sample.astype(object).to_dict("records")
    ]


@pytest.mark.parametrize("path", ["/v1/predict", "/invocations"])
def test_json_rows_columns_arrow_and_parquet_predict_the_same(
    client: httpx.Client, frame: pd.DataFrame, path: str
) -> None:
    sample = _sample(frame)
    records = _records(sample)
    assert any(r["sex"] is None for r in records)
    assert any(r["bill_length_mm"] is None for r in records)
    columns = {name: [r[name] for r in records] for name in COLUMNS}
    if path == "/v1/predict":
        bodies = [{"rows": records}, {"columns": columns}]
    else:
        bodies = [{"dataframe_records": records}, {"inputs": columns}]
    answers = [client.post(path, json=body) for body in bodies]
    table = pa.Table.from_pandas(sample, preserve_index=False)
    for content, headers in ((ipc(table), ARROW), (parquet(table), PARQUET)):
        answers.append(client.post(path, content=content, headers=headers))
    for answer in answers:
        assert answer.status_code == 200, answer.text
    predictions = [answer.json()["predictions"] for answer in answers]
    assert len(predictions[0]) == 100
    assert set(predictions[0]) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert all(p == predictions[0] for p in predictions[1:])


def test_a_dictionary_encoded_string_column_is_read_as_strings(
    client: httpx.Client, frame: pd.DataFrame
) -> None:
    sample = _sample(frame)
    table = pa.Table.from_pandas(sample, preserve_index=False)
    encoded = table.set_column(0, "island", table.column("island").dictionary_encode())
    plain = client.post("/v1/predict", json={"rows": _records(sample)}).json()["predictions"]
    answer = client.post("/v1/predict", content=ipc(encoded), headers=ARROW)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == plain
