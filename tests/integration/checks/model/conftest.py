"""Fixtures: a workspace with a good and a shuffled-label model on a real holdout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.workspace import Workspace

FEATURES = ["mean radius", "mean texture", "mean smoothness", "worst area", "site"]


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and holdout frames of the breast-cancer data with a 3-valued ``site`` column."""
    data = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(0)
    data["site"] = rng.integers(0, 3, len(data))
    frame = data[[*FEATURES, "target"]].sample(frac=1.0, random_state=0).reset_index(drop=True)
    return frame.iloc[:350].reset_index(drop=True), frame.iloc[350:].reset_index(drop=True)


def fit(train: pd.DataFrame, labels: np.ndarray | None = None) -> Pipeline:
    y = train["target"].to_numpy() if labels is None else labels
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(train[FEATURES], y)


@pytest.fixture(scope="module")
def good_model(frames: tuple[pd.DataFrame, pd.DataFrame]) -> Pipeline:
    return fit(frames[0])


@pytest.fixture(scope="module")
def shuffled_model(frames: tuple[pd.DataFrame, pd.DataFrame]) -> Pipeline:
    train = frames[0]
    return fit(train, np.random.default_rng(1).permutation(train["target"].to_numpy()))


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.open(tmp_path, actor="ci", search_parents=False) as opened:
        yield opened


@pytest.fixture
def register(ws: Workspace, frames: tuple[pd.DataFrame, pd.DataFrame]) -> Callable[..., str]:
    """Register a model as the next version of ``cancer``; the callable returns its ref."""

    def add(model: Pipeline, **kwargs: Any) -> str:
        version = ws.models.register(
            "cancer",
            model,
            input_example=frames[1][FEATURES].head(5),
            explain=False,
            onnx=False,
            **kwargs,
        )
        return version.ref

    return add
