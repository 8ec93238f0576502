"""100-row requests to a real server are logged as batches and read back row by row.

A penguins model (numbers with gaps, a string column, a boolean) served by uvicorn on
127.0.0.1 answers 100-row requests; the logged window holds every row once, under the
request id ``<id>:<i>`` (a single row under ``<id>``), with the inputs as they were sent,
and feedback sent by row id joins.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import palmerpenguins
import pandas as pd
import pytest
from serving_support import running, wait_ready
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from conveyor.serving import ServingSettings
from conveyor.serving._launch import build_app
from conveyor.workspace import Workspace

NUMERIC = ["bill_length_mm", "flipper_length_mm", "body_mass_g"]
COLUMNS = [*NUMERIC, "island", "heavy"]


def penguins() -> pd.DataFrame:
    frame = palmerpenguins.load_penguins()
    frame["heavy"] = frame["body_mass_g"].fillna(0) > 4000
    return frame


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """penguins@1: species from three measurements (gaps imputed), the island and a flag."""
    with Workspace.open(tmp_path) as workspace:
        frame = penguins()
        x, y = frame[COLUMNS], frame["species"]
        columns = ColumnTransformer(
            [
                ("n", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
                ("c", OneHotEncoder(handle_unknown="ignore"), ["island"]),
                ("b", "passthrough", ["heavy"]),
            ]
        )
        model = make_pipeline(columns, LogisticRegression(max_iter=1000)).fit(x, y)
        workspace.models.register("penguins", model, input_example=x.head(20), explain=False)
        yield workspace


def rows(start: int, count: int) -> list[dict[str, Any]]:
    frame = penguins()[COLUMNS].iloc[start : start + count]
    return [
        {str(k): (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


def test_hundred_row_requests_are_logged_once_per_row_under_their_row_ids(
    ws: Workspace,
) -> None:
    sent: dict[str, dict[str, Any]] = {}
    settings = ServingSettings(prepare_explainers=False)
    with (
        running(build_app(ws, "penguins@1", settings=settings)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        assert wait_ready(client).status_code == 200
        for start in (0, 100, 200):
            body = rows(start, 100)
            answer = client.post("/v1/predict", json={"rows": body})
            assert answer.status_code == 200, answer.text
            rid = answer.json()["request_id"]
            sent.update({f"{rid}:{i}": row for i, row in enumerate(body)})
        single = client.post("/v1/predict", json={"rows": rows(3, 1)})  # bill length unknown
        assert single.status_code == 200, single.text
        sent[single.json()["request_id"]] = rows(3, 1)[0]
        some = sorted(sent)[::50]
        feedback = client.post("/v1/feedback", json={"labels": dict.fromkeys(some, "Adelie")})
        assert feedback.json()["accepted"] == len(some)
    logged = ws.predictions.read(model="penguins")
    assert len(logged) == 301
    assert sorted(logged["request_id"]) == sorted(sent)
    assert (logged["status"] == "ok").all()
    assert set(logged["prediction"]) <= {"Adelie", "Chinstrap", "Gentoo"}
    by_id = logged.set_index("request_id")
    for rid, row in sent.items():
        stored = by_id.loc[rid]
        assert stored["in_island"] == row["island"]
        assert bool(stored["in_heavy"]) is row["heavy"]
        for name in NUMERIC:
            if row[name] is None:
                assert pd.isna(stored[f"in_{name}"]), (rid, name)
            else:
                assert stored[f"in_{name}"] == pytest.approx(row[name]), (rid, name)
    labelled = by_id["label"].dropna()
    assert sorted(labelled.index) == some
    assert set(labelled) == {"Adelie"}
