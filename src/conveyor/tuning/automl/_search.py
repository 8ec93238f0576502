"""``search``: pick the best model family and its parameters within a time budget."""

from __future__ import annotations

import logging
import os
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from conveyor.tuning._errors import TuneError
from conveyor.tuning._space import Categorical
from conveyor.tuning._trial import Trial
from conveyor.tuning._tune import TuneResult, tune
from conveyor.tuning.automl._families import FAMILIES, Family, Task, family_space
from conveyor.tuning.automl._features import FeaturePlan, plan_features
from conveyor.workspace import Workspace

__all__ = ["AutoMLResult", "search"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AutoMLResult:
    """The outcome of :func:`search`.

    Attributes:
        best_estimator: The best family with its best parameters, refitted on all data.
        best_family: Its family name.
        best_params: Its parameters (without the family prefix).
        best_score: Its mean cross-validated ``metric`` (greater is better).
        metric: The scikit-learn scorer name used.
        leaderboard: One row per completed trial, best first: ``family``, ``params``,
            ``score``, ``fit_s`` (seconds spent cross-validating), ``trial``, ``run_id``.
        tune: The underlying :class:`~conveyor.tuning.TuneResult` (its ``run_id`` is the
            search's run).
        dropped_columns: Feature column -> why the search pipelines do not use it
            (datetime columns); empty when every column is used.
    """

    best_estimator: Any
    best_family: str
    best_params: dict[str, Any]
    best_score: float
    metric: str
    leaderboard: pd.DataFrame
    tune: TuneResult
    dropped_columns: dict[str, str] = field(default_factory=dict)


def search(
    X: Any,
    y: Any,
    *,
    task: Task = "classification",
    budget_s: float | None = 60.0,
    metric: str | None = None,
    cv: int = 3,
    seed: int = 0,
    families: Sequence[str] | None = None,
    max_trials: int | None = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
) -> AutoMLResult:
    """Search model families and their hyperparameters for the best cross-validated score.

    ``X`` may mix numeric, string, categorical and boolean columns with missing values:
    each candidate is a pipeline that imputes numbers (median) and one-hot encodes the
    other columns (unknown values ignored), so the best estimator takes raw rows like
    ``X``. Datetime columns are dropped, with the reason in ``dropped_columns``.

    Each family is tried once first (with sampled parameters), then the sampler spends the
    rest of ``budget_s`` where it looks most promising. The search is a :func:`tune` call,
    so it is recorded as a tune run with one child run per trial.

    Args:
        X: Features (DataFrame or array).
        y: Target.
        task: ``"classification"`` or ``"regression"``.
        budget_s: Stop starting new trials after this many seconds (the refit comes after);
            ``None`` sets no time limit, so ``max_trials`` alone bounds the search.
        metric: A scikit-learn scorer name; default ``roc_auc`` (binary), ``accuracy``
            (multiclass) or ``r2`` (regression).
        cv: Number of cross-validation folds.
        seed: Seed for the sampler, the folds and the models.
        families: Names from ``linear``, ``random_forest``, ``hist_gradient_boosting``,
            ``lightgbm``, ``xgboost``; default every installed one.
        max_trials: Also stop after this many trials.
        workspace: Where to record the runs (see :func:`tune`).

    Raises:
        TuneError: Unknown task, metric or family, a family's library missing, bad data, or
            every trial failed.
        UnusableColumnError: A column holds values no pipeline can encode (lists, bytes,
            mixed types, infinite numbers); the error names the column and its dtype.

    Example:
        >>> from sklearn.datasets import load_breast_cancer
        >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        >>> result = search(X, y, budget_s=30)  # doctest: +SKIP
        >>> result.leaderboard.head()  # doctest: +SKIP
    """
    _check_arguments(X, y, task=task, budget_s=budget_s, max_trials=max_trials)
    plan = plan_features(X)
    if plan.dropped:
        _log.info("AutoML does not use columns: %s", plan.dropped)
    chosen = _families(families, task, y)
    scoring = metric or _default_metric(task, y)
    objective = _Objective(
        X, y, plan=plan, families=chosen, task=task, scoring=scoring, cv=cv, seed=seed
    )
    result = tune(
        objective,
        {"family": Categorical(list(chosen))},
        n_trials=max_trials,
        timeout=budget_s,
        direction="maximize",
        study_name=f"automl-{task}-{uuid.uuid4().hex[:10]}",
        seed=seed,
        enqueue=[{"family": name} for name in chosen],
        workspace=workspace,
    )
    board = _leaderboard(result, objective.fit_seconds)
    if board.empty:
        raise TuneError(
            f"Every one of the {len(result.trials)} AutoML trials failed to fit or score.",
            hint="Check that y suits the task and metric, and that X holds usable values; "
            "fit one family by hand to see its error.",
        )
    best = board.iloc[0]
    family = chosen[str(best["family"])]
    best_params = dict(best["params"])
    return AutoMLResult(
        best_estimator=_refit(X, y, plan.pipeline(family.build(best_params, task, seed))),
        best_family=family.name,
        best_params=best_params,
        best_score=float(best["score"]),
        metric=scoring,
        leaderboard=board,
        tune=result,
        dropped_columns=dict(plan.dropped),
    )


def _check_arguments(
    X: Any, y: Any, *, task: str, budget_s: float | None, max_trials: int | None
) -> None:
    """Refuse a search that cannot run (unknown task, mismatched rows, no bound)."""
    if task not in ("classification", "regression"):
        raise TuneError(
            f"task must be 'classification' or 'regression', got {task!r}.",
            hint="Pass task='regression' for a numeric target.",
            task=task,
        )
    if len(X) != len(y):
        raise TuneError(
            f"X has {len(X)} rows but y has {len(y)}.",
            hint="Pass features and target of the same length.",
        )
    if budget_s is None and max_trials is None:
        raise TuneError(
            "search needs budget_s or max_trials; with neither it would never stop.",
            hint="Pass budget_s=60 (seconds) or max_trials=20.",
        )


class _Objective:
    """One trial: build the sampled family's pipeline and cross-validate it on ``X, y``.

    Remembers each trial's fitting time for the leaderboard (``fit_seconds``).
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        *,
        plan: FeaturePlan,
        families: dict[str, Family],
        task: Task,
        scoring: str,
        cv: int,
        seed: int,
    ) -> None:
        from sklearn.model_selection import KFold, StratifiedKFold

        self.X, self.y = X, y
        self.plan = plan
        self.families = families
        self.task = task
        self.seed = seed
        self.scorer = _scorer(scoring)
        self.splitter: Any = (
            StratifiedKFold(cv, shuffle=True, random_state=seed)
            if task == "classification"
            else KFold(cv, shuffle=True, random_state=seed)
        )
        self.fit_seconds: dict[int, float] = {}

    def __call__(self, params: dict[str, Any], trial: Trial) -> float:
        from sklearn.model_selection import cross_val_score

        family = self.families[params["family"]]
        drawn = {
            name: trial.suggest(f"{family.name}.{name}", spec)
            for name, spec in family_space(family, self.task).items()
        }
        estimator = self.plan.pipeline(family.build(drawn, self.task, self.seed))
        started = time.perf_counter()
        with _quiet_fitting():
            scores = cross_val_score(
                estimator, self.X, self.y, cv=self.splitter, scoring=self.scorer, error_score=np.nan
            )
        self.fit_seconds[trial.number] = time.perf_counter() - started
        return float(np.mean(scores))


def _refit(X: Any, y: Any, estimator: Any) -> Any:
    """A fresh copy of the winning pipeline, fitted on all of ``X, y``."""
    from sklearn.base import clone

    fitted = clone(estimator)
    with _quiet_fitting():
        fitted.fit(X, y)
    return fitted


def _families(requested: Sequence[str] | None, task: Task, y: Any) -> dict[str, Family]:
    labels_ok = task == "regression" or _zero_based_labels(y)
    if requested is None:
        return {
            name: family
            for name, family in FAMILIES.items()
            if family.available() and (name != "xgboost" or labels_ok)
        }
    if not requested:
        raise TuneError(
            "families is empty; AutoML needs at least one model family.",
            hint=f"Choose from: {', '.join(FAMILIES)}.",
        )
    chosen: dict[str, Family] = {}
    for name in requested:
        family = FAMILIES.get(name)
        if family is None:
            raise TuneError(
                f"Unknown model family {name!r}.",
                hint=f"Choose from: {', '.join(FAMILIES)}.",
                family=name,
            )
        if not family.available():
            raise TuneError(
                f"Model family {name!r} needs the package {family.requires!r}, which is not "
                "installed.",
                hint=f"Install it with: pip install {family.requires}",
                family=name,
            )
        if name == "xgboost" and not labels_ok:
            raise TuneError(
                "Model family 'xgboost' needs class labels 0..n-1; got "
                f"{sorted(map(str, pd.unique(np.asarray(y))))[:10]}.",
                hint="Encode y with sklearn.preprocessing.LabelEncoder first.",
                family=name,
            )
        chosen[name] = family
    return chosen


def _zero_based_labels(y: Any) -> bool:
    labels = np.unique(np.asarray(y))
    if not np.issubdtype(labels.dtype, np.integer):
        return False
    return bool(np.array_equal(labels, np.arange(len(labels))))


def _default_metric(task: Task, y: Any) -> str:
    if task == "regression":
        return "r2"
    return "roc_auc" if len(np.unique(np.asarray(y))) == 2 else "accuracy"


def _scorer(name: str) -> Any:
    from sklearn.metrics import get_scorer

    try:
        return get_scorer(name)
    except ValueError as exc:
        raise TuneError(
            f"Unknown metric {name!r}: it is not a scikit-learn scorer name.",
            hint="See sklearn.metrics.get_scorer_names(), e.g. 'f1', 'neg_log_loss', 'r2'.",
            metric=name,
        ) from exc


def _leaderboard(result: TuneResult, fit_seconds: dict[int, float]) -> pd.DataFrame:
    rows = []
    for trial in result.trials:
        if trial.state != "complete" or trial.value is None:
            continue
        family = str(trial.params["family"])
        prefix = family + "."
        params = {k[len(prefix) :]: v for k, v in trial.params.items() if k.startswith(prefix)}
        rows.append(
            {
                "family": family,
                "params": params,
                "score": trial.value,
                "fit_s": fit_seconds.get(trial.number, float("nan")),
                "trial": trial.number,
                "run_id": trial.run_id,
            }
        )
    board = pd.DataFrame(rows, columns=["family", "params", "score", "fit_s", "trial", "run_id"])
    return board.sort_values(["score", "trial"], ascending=[False, True]).reset_index(drop=True)


@contextmanager
def _quiet_fitting() -> Iterator[None]:
    # Trials deliberately visit poor settings (few iterations, tiny regularisation); the
    # libraries' convergence chatter says nothing the score does not already say.
    from sklearn.exceptions import ConvergenceWarning, FitFailedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.filterwarnings("ignore", module=r"(lightgbm|xgboost)(\.|$)")
        yield
