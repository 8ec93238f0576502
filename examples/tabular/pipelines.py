"""A training pipeline on the breast-cancer data: split, tune, train, evaluate.

Run it with ``conveyor run pipelines:training`` (see README.md). Every step is cached:
run it twice and the second run reuses every output; change ``n_trials`` and only the
tuning step and the steps after it run again.
"""

from __future__ import annotations

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import conveyor
from conveyor.tuning import Float

TARGET = "target"


def make_model(c: float) -> Pipeline:
    """The model every step agrees on: scaled features into a logistic regression."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))


@conveyor.step
def split(
    df: pd.DataFrame, seed: int = 0, test_size: float = 0.25
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out a stratified test set."""
    train, test = train_test_split(df, test_size=test_size, random_state=seed, stratify=df[TARGET])
    return train.reset_index(drop=True), test.reset_index(drop=True)


@conveyor.step
def tune_model(train: pd.DataFrame, n_trials: int = 8, seed: int = 0) -> dict[str, float]:
    """Pick the regularisation strength C by 3-fold cross-validated ROC AUC."""
    X, y = train.drop(columns=[TARGET]), train[TARGET]

    def objective(params: dict[str, float]) -> float:
        scores = cross_val_score(make_model(params["C"]), X, y, cv=3, scoring="roc_auc")
        return float(scores.mean())

    result = conveyor.tune(
        objective,
        {"C": Float(1e-3, 1e2, log=True)},
        n_trials=n_trials,
        direction="maximize",
        seed=seed,
    )
    conveyor.log_metrics({"cv_roc_auc": result.best_value})
    return {"C": float(result.best_params["C"])}


@conveyor.step
def train(
    train: pd.DataFrame, best: dict[str, float], shuffle_labels: bool = False, seed: int = 0
) -> Pipeline:
    """Fit the model with the tuned parameters on the whole training set.

    ``shuffle_labels`` trains on permuted labels: a deliberately broken model, used to
    show that the quality gates of ``conveyor ci`` reject it.
    """
    labels = train[TARGET]
    if shuffle_labels:
        labels = labels.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    model = make_model(best["C"])
    model.fit(train.drop(columns=[TARGET]), labels)
    return model


@conveyor.step
def evaluate(model: Pipeline, test: pd.DataFrame) -> dict[str, float]:
    """Score the model on the held-out test set and log the metrics."""
    X, y = test.drop(columns=[TARGET]), test[TARGET]
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
    data: str = "cancer@latest", n_trials: int = 8, seed: int = 0, shuffle_labels: bool = False
) -> None:
    """Load a dataset version, split it, tune, train and evaluate."""
    df = conveyor.load_dataset(data)
    train_df, test_df = split(df, seed=seed)
    best = tune_model(train_df, n_trials=n_trials, seed=seed)
    model = train(train_df, best, shuffle_labels=shuffle_labels, seed=seed)
    evaluate(model, test_df)
