"""The demo shop's training pipeline: features, tuning, training, evaluation, explanation.

Copied into the demo project by ``conveyor demo``; it is an ordinary conveyor pipeline that
``conveyor run pipelines:training`` (and ``conveyor ci`` / the agent) runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

import conveyor
from conveyor.tuning import Float, Int

TARGET = "purchased"
CATEGORICAL = ["user_segment", "device", "product_category"]
NUMERIC = [
    "hour",
    "price",
    "discount",
    "pages_viewed",
    "session_seconds",
    "past_purchases",
    "category_affinity",
    "list_price",
]
FEATURES = CATEGORICAL + NUMERIC


def make_model(learning_rate: float, max_depth: int, seed: int = 0) -> Pipeline:
    """Categories encoded inside the model, so the server takes raw session rows."""
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    # Ordinal codes as plain numbers: trees split them well, the fitted model stays within
    # the types skops loads without trusting anything extra, and SHAP's exact tree
    # explainer applies to the boosted trees behind the encoder.
    boost = GradientBoostingClassifier(
        learning_rate=learning_rate,
        max_depth=max_depth,
        n_estimators=60,
        subsample=0.8,
        random_state=seed,
    )
    return Pipeline([("encode", encode), ("boost", boost)])


@conveyor.step
def features(sessions: pd.DataFrame) -> pd.DataFrame:
    """Keep the model's inputs and the label (ids and times are not features)."""
    return sessions[[*FEATURES, TARGET]].reset_index(drop=True)


@conveyor.step
def split(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified 75/25 split."""
    train, test = train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame[TARGET])
    return train.reset_index(drop=True), test.reset_index(drop=True)


@conveyor.step
def tune_model(train: pd.DataFrame, n_trials: int = 6, seed: int = 0) -> dict[str, float]:
    """Optuna over the learning rate and tree depth, by 3-fold ROC AUC on up to 3,000 rows."""
    sample = train.sample(n=min(len(train), 3000), random_state=seed)
    X, y = sample[FEATURES], sample[TARGET]

    def objective(params: dict[str, float]) -> float:
        model = make_model(params["learning_rate"], int(params["max_depth"]), seed)
        return float(cross_val_score(model, X, y, cv=3, scoring="roc_auc").mean())

    result = conveyor.tune(
        objective,
        {"learning_rate": Float(0.05, 0.3, log=True), "max_depth": Int(2, 5)},
        n_trials=n_trials,
        direction="maximize",
        seed=seed,
    )
    conveyor.log_metrics({"cv_roc_auc": result.best_value})
    return {k: float(v) for k, v in result.best_params.items()}


@conveyor.step
def train(
    train: pd.DataFrame, best: dict[str, float], seed: int = 0, broken: bool = False
) -> Pipeline:
    """Fit on the whole training set. ``broken=True`` trains on shuffled labels: a
    deliberately bad candidate, to show the gates and the canary catching it."""
    y = train[TARGET]
    if broken:
        y = pd.Series(np.random.default_rng(seed).permutation(y.to_numpy()), name=TARGET)
    model = make_model(best["learning_rate"], int(best["max_depth"]), seed)
    model.fit(train[FEATURES], y)
    return model


@conveyor.step
def evaluate(model: Pipeline, test: pd.DataFrame) -> dict[str, float]:
    """Holdout accuracy and ROC AUC, logged."""
    proba = model.predict_proba(test[FEATURES])[:, 1]
    metrics = {
        "accuracy": float(accuracy_score(test[TARGET], model.predict(test[FEATURES]))),
        "roc_auc": float(roc_auc_score(test[TARGET], proba)),
    }
    conveyor.log_metrics(metrics)
    return metrics


class Loaded:
    """The fitted pipeline seen as a loaded model (``.model`` and the predict methods), the
    shape SHAP's explainer takes: it explains the trees behind the encoder exactly."""

    def __init__(self, model: Pipeline) -> None:
        self.model = model

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(frame))


@conveyor.step
def explain(model: Pipeline, test: pd.DataFrame) -> dict[str, float]:
    """Global SHAP importance of the features on the holdout, logged."""
    from conveyor.explain import global_importance

    importance = global_importance(Loaded(model), test[FEATURES].head(300), budget_s=20)
    conveyor.log_metrics({f"shap.{name}": float(value) for name, value in importance.items()})
    return {str(k): float(v) for k, v in importance.items()}


@conveyor.pipeline
def training(
    data: str = "sessions@latest", n_trials: int = 6, seed: int = 0, broken: bool = False
) -> None:
    """sessions + the feature store (point-in-time) -> features -> split -> tune -> train
    -> evaluate + explain."""
    sessions = conveyor.load_dataset(data)
    # Each session gets its user's profile and its category's list price as they were
    # when it happened (never a later value): the features the server looks up online.
    frame = features(conveyor.load_features(sessions, "recommender"))
    train_df, test_df = split(frame, seed=seed)
    best = tune_model(train_df, n_trials=n_trials, seed=seed)
    model = train(train_df, best, seed=seed, broken=broken)
    evaluate(model, test_df)
    explain(model, test_df)
