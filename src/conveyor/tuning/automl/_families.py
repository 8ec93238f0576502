"""The model families AutoML searches, each a search space and an estimator builder.

Parameter names carry the family as a prefix (``"random_forest.max_depth"``) so that one
Optuna study holds a conditional space: each trial draws a family, then only that family's
parameters. LightGBM and XGBoost join the defaults only when importable.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from conveyor.tuning._space import Categorical, Float, Int, SpaceSpec

__all__ = ["FAMILIES", "Family", "Task", "family_space"]

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class Family:
    """A model family: its search space and how to build an estimator from drawn params.

    Attributes:
        name: The family name used in ``families=`` and in the leaderboard.
        space: Parameter (without prefix) -> spec.
        build: ``build(params, task, seed)`` -> an unfitted scikit-learn-style estimator.
        requires: The module that must be importable (``None``: scikit-learn only).
    """

    name: str
    space: Mapping[str, SpaceSpec]
    build: Callable[[dict[str, Any], Task, int], Any]
    requires: str | None = None

    def available(self) -> bool:
        """True when the family's library is installed."""
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


def _linear(params: dict[str, Any], task: Task, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task == "classification":
        model: Any = LogisticRegression(C=params["C"], max_iter=2000, random_state=seed)
    else:
        model = Ridge(alpha=params["alpha"])
    return make_pipeline(StandardScaler(), model)


def _builder(
    module: str, classifier: str, regressor: str, **fixed: Any
) -> Callable[[dict[str, Any], Task, int], Any]:
    """A build function: the task's class from ``module``, the drawn params plus ``fixed``.

    The drawn params are exactly the family's space, whose names are the constructor's.
    """

    def build(params: dict[str, Any], task: Task, seed: int) -> Any:
        name = classifier if task == "classification" else regressor
        cls = getattr(importlib.import_module(module), name)
        return cls(**params, random_state=seed, **fixed)

    return build


_LINEAR_SPACE: dict[Task, dict[str, SpaceSpec]] = {
    "classification": {"C": Float(1e-3, 1e2, log=True)},
    "regression": {"alpha": Float(1e-3, 1e2, log=True)},
}

#: Every family, in leaderboard tie-break order; ``linear`` gets its space per task.
FAMILIES: dict[str, Family] = {
    "linear": Family("linear", {}, _linear),
    "random_forest": Family(
        "random_forest",
        {
            "n_estimators": Int(20, 200, log=True),
            "max_depth": Int(2, 16),
            "min_samples_leaf": Int(1, 8),
            "max_features": Categorical(["sqrt", 0.5, 1.0]),
        },
        _builder("sklearn.ensemble", "RandomForestClassifier", "RandomForestRegressor", n_jobs=1),
    ),
    "hist_gradient_boosting": Family(
        "hist_gradient_boosting",
        {
            "learning_rate": Float(0.01, 0.3, log=True),
            "max_iter": Int(30, 200, log=True),
            "max_leaf_nodes": Int(8, 64, log=True),
            "l2_regularization": Float(1e-6, 1.0, log=True),
        },
        _builder(
            "sklearn.ensemble", "HistGradientBoostingClassifier", "HistGradientBoostingRegressor"
        ),
    ),
    "lightgbm": Family(
        "lightgbm",
        {
            "n_estimators": Int(30, 200, log=True),
            "learning_rate": Float(0.01, 0.3, log=True),
            "num_leaves": Int(8, 64, log=True),
            "min_child_samples": Int(5, 50),
        },
        _builder("lightgbm", "LGBMClassifier", "LGBMRegressor", n_jobs=1, verbose=-1),
        requires="lightgbm",
    ),
    "xgboost": Family(
        "xgboost",
        {
            "n_estimators": Int(30, 200, log=True),
            "learning_rate": Float(0.01, 0.3, log=True),
            "max_depth": Int(2, 8),
            "subsample": Float(0.6, 1.0),
        },
        _builder("xgboost", "XGBClassifier", "XGBRegressor", n_jobs=1, verbosity=0),
        requires="xgboost",
    ),
}


def family_space(family: Family, task: Task) -> Mapping[str, SpaceSpec]:
    """The family's search space for ``task``."""
    return _LINEAR_SPACE[task] if family.name == "linear" else family.space
