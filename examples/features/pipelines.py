"""Will a country's life expectancy rise by more than 1.5 years over the next five?

The pipeline ``training`` reads the labelled observations (country, time, label), joins
each to the features of ``life_outlook`` as they were at the observation's time (the
point-in-time join of ``conveyor.load_features``), keeps the model's columns, holds out
the latest periods, trains a gradient-boosted classifier and evaluates it. Run it with
``conveyor run pipelines:training``, or through ``conveyor ci`` (see README.md).
"""

from __future__ import annotations

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import conveyor

TARGET = "rises"
CATEGORICAL = ["continent"]
NUMERIC = ["lifeExp", "pop", "gdpPercap", "gdp_growth", "life_gain"]
FEATURES = CATEGORICAL + NUMERIC


def make_model(n_estimators: int, max_depth: int, seed: int = 0) -> Pipeline:
    """Continents one-hot encoded inside the model, so the server takes raw rows."""
    encode = ColumnTransformer(
        [("continent", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL)],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    boost = GradientBoostingClassifier(
        n_estimators=n_estimators, max_depth=max_depth, learning_rate=0.1, random_state=seed
    )
    return Pipeline([("encode", encode), ("boost", boost)])


@conveyor.step
def select(observations: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs and the label, oldest observations first (the key and the time
    are not features; the order lets ``split`` hold out the latest periods)."""
    ordered = observations.sort_values(["event_timestamp", "country"], kind="stable")
    return ordered[[*FEATURES, TARGET]].reset_index(drop=True)


@conveyor.step
def split(frame: pd.DataFrame, test_share: float = 0.3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on the earlier observations, test on the latest ``test_share`` of them: the
    model is judged on periods it has never seen, as it will be used."""
    cut = int(len(frame) * (1.0 - test_share))
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


@conveyor.step
def train(
    train: pd.DataFrame, n_estimators: int = 100, max_depth: int = 2, seed: int = 0
) -> Pipeline:
    """Fit the classifier on the training observations."""
    model = make_model(n_estimators, max_depth, seed)
    model.fit(train[FEATURES], train[TARGET])
    return model


@conveyor.step
def evaluate(model: Pipeline, test: pd.DataFrame) -> dict[str, float]:
    """Accuracy, ROC AUC and log loss on the held-out periods, logged."""
    X, y = test[FEATURES], test[TARGET]
    proba = model.predict_proba(X)[:, 1]
    metrics = {
        "accuracy": float(accuracy_score(y, model.predict(X))),
        "roc_auc": float(roc_auc_score(y, proba)),
        "log_loss": float(log_loss(y, proba)),
    }
    conveyor.log_metrics(metrics)
    return metrics


@conveyor.pipeline
def training(
    data: str = "observations@latest",
    n_estimators: int = 100,
    max_depth: int = 2,
    seed: int = 0,
) -> None:
    """observations + the feature store (point-in-time) -> select -> split -> train ->
    evaluate."""
    observations = conveyor.load_dataset(data)
    # Each observation gets its country's statistics and trends as they were at its time,
    # never a later value: the later values contain the answer.
    frame = select(conveyor.load_features(observations, "life_outlook"))
    train_df, test_df = split(frame)
    model = train(train_df, n_estimators=n_estimators, max_depth=max_depth, seed=seed)
    evaluate(model, test_df)
