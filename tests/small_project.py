"""Test support shared by the CI and automation tests: a small project's pipeline module
(split, train) and its data set, ``points``."""

from __future__ import annotations

import numpy as np
import pandas as pd

PIPELINES = """
import pandas as pd
from sklearn.linear_model import LogisticRegression

import conveyor


@conveyor.step
def split(df: pd.DataFrame, min_rows: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    if len(df) < min_rows:
        raise ValueError(f"need at least {min_rows} rows, got {len(df)}")
    cut = int(len(df) * 0.7)
    return df.iloc[:cut].reset_index(drop=True), df.iloc[cut:].reset_index(drop=True)


@conveyor.step
def train(train: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(train.drop(columns=["y"]), train["y"])


@conveyor.pipeline
def training(data: str = "points@latest", min_rows: int = 0) -> None:
    df = conveyor.load_dataset(data)
    fit, holdout = split(df, min_rows=min_rows)
    train(fit)
"""


def points(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["y"] = (frame["a"] + 0.2 * frame["b"] > 0).astype(int)
    return frame
