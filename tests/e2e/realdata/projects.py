"""Real public data sets that ship inside installed packages, as conveyor projects.

Each project is what a new user would write: a CSV (strings, booleans, datetimes and missing
values where the data has them), a ``pipelines.py`` with split / train / evaluate steps whose
model is a scikit-learn pipeline with its own preprocessing, and a ``conveyor.yaml`` with two
environments. Nothing is downloaded: penguins come from ``palmerpenguins``, diabetes and
breast cancer from scikit-learn.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes


@dataclass(frozen=True)
class RealProject:
    """One data set as a project: its name, task, target and quality metric."""

    name: str
    task: str  # "classification" | "regression"
    target: str
    metric: str
    positive_label: str | int | None
    frame: pd.DataFrame
    older: pd.DataFrame

    @property
    def model(self) -> str:
        return f"{self.name}-model"


def penguins() -> RealProject:
    """Palmer penguins: predict ``sex`` from strings (species, island) and measurements
    with missing values. The label itself is a string."""
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    frame = frame[frame["sex"].notna()].reset_index(drop=True)
    frame["species"] = frame["species"].astype(object)
    frame["island"] = frame["island"].astype(object)
    frame["sex"] = frame["sex"].astype(object)
    older = frame[frame["year"] < 2009].reset_index(drop=True)  # next year's data comes later
    return RealProject("penguins", "classification", "sex", "accuracy", "male", frame, older)


def diabetes() -> RealProject:
    """scikit-learn's diabetes: a regression target."""
    data = load_diabetes(as_frame=True)
    frame = data.frame.rename(columns={"target": "progression"})
    older = frame.iloc[: int(len(frame) * 0.6)].reset_index(drop=True)
    return RealProject("diabetes", "regression", "progression", "r2", None, frame, older)


def imbalanced_cancer(seed: int = 0) -> RealProject:
    """Breast cancer subsampled to a 1:9 class imbalance, with a datetime column."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.copy()
    # In scikit-learn's encoding 0 is malignant: make malignant the rare positive class.
    frame["malignant"] = (frame.pop("target") == 0).astype(int)
    rng = np.random.default_rng(seed)
    positives = frame[frame["malignant"] == 1]
    negatives = frame[frame["malignant"] == 0]
    keep = positives.sample(n=len(negatives) // 9, random_state=seed)
    frame = pd.concat([negatives, keep]).sample(frac=1.0, random_state=seed)
    frame = frame.reset_index(drop=True)
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    start = np.datetime64("2025-01-01")
    frame["visit_date"] = start + rng.integers(0, 365, size=len(frame)).astype("timedelta64[D]")
    older = frame.sample(frac=0.6, random_state=seed).reset_index(drop=True)
    return RealProject("cancer", "classification", "malignant", "roc_auc", 1, frame, older)


PIPELINES = '''
"""{name}: split, train, evaluate."""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score, mean_squared_error, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import conveyor

TARGET = {target!r}
TASK = {task!r}
POSITIVE = {positive!r}


def features(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[TARGET])


def make_model(df: pd.DataFrame, c: float, seed: int) -> Pipeline:
    X = features(df)
    strings = [c for c in X.columns if X[c].dtype == object or str(X[c].dtype) == "string"]
    numbers = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), numbers),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                  OneHotEncoder(handle_unknown="ignore")), strings),
        ],
        remainder="drop",
    )
    if TASK == "regression":
        return make_pipeline(prep, Ridge(alpha=1.0 / c))
    return make_pipeline(prep, LogisticRegression(C=c, max_iter=2000))


@conveyor.step
def split(df: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    stratify = df[TARGET] if TASK == "classification" else None
    train, test = train_test_split(df, test_size=0.3, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


@conveyor.step
def train(train: pd.DataFrame, c: float = 1.0, seed: int = 0,
          shuffle_labels: bool = False) -> Pipeline:
    labels = train[TARGET]
    if shuffle_labels:
        labels = labels.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return make_model(train, c, seed).fit(features(train), labels)


@conveyor.step
def evaluate(model: Pipeline, test: pd.DataFrame) -> dict[str, float]:
    X, y = features(test), test[TARGET]
    pred = model.predict(X)
    if TASK == "regression":
        metrics = {{"r2": float(r2_score(y, pred)),
                   "rmse": float(np.sqrt(mean_squared_error(y, pred)))}}
    else:
        metrics = {{"accuracy": float(accuracy_score(y, pred))}}
        classes = list(model.classes_)
        if len(classes) == 2:
            proba = model.predict_proba(X)[:, classes.index(POSITIVE)]
            metrics["roc_auc"] = float(roc_auc_score(y == POSITIVE, proba))
    conveyor.log_metrics(metrics)
    return metrics


@conveyor.pipeline
def training(data: str = "{name}@latest", c: float = 1.0, seed: int = 0,
             shuffle_labels: bool = False) -> None:
    df = conveyor.load_dataset(data)
    fit, holdout = split(df, seed=seed)
    model = train(fit, c=c, seed=seed, shuffle_labels=shuffle_labels)
    evaluate(model, holdout)
'''

CONFIG = """
project: {{name: {name}}}
pipelines:
  training: pipelines:training
evaluation:
  model: {model}
  model_step: train
  holdout_step: split
  holdout_output: 1
  target: {target}
{positive_line}gates:
  - {{check: schema, severity: error}}
  - {{check: min_metric, params: {{metric: {metric}, min: {floor}}}, severity: error}}
  - check: champion_comparison
    params: {{metric: {metric}, margin: {margin}, mode: non_inferiority}}
environments:
  staging: {{strategy: replace}}
  production:
    strategy: canary
    steps: [10, 50, 100]
    min_step_duration_s: 5
    min_requests: 50
    analysis: {{metric: {canary_metric}, min_metric_delta: {canary_delta}, min_labels: 30}}
monitoring: {{min_labels: 30}}
triggers:
  - {{name: degraded, kind: performance, model: {model}, metric: {monitored_metric},
     threshold: {trigger_threshold}, min_labels: 30, cooldown_s: 0}}
"""

FLOORS = {"accuracy": 0.7, "roc_auc": 0.8, "r2": 0.2}
# r2 on a holdout of ~130 rows has a wide bootstrap interval: a looser non-inferiority margin.
MARGINS = {"classification": -0.05, "regression": -0.15}
CANARY_METRIC = {"classification": "accuracy", "regression": "mae"}
MONITORED_METRIC = {"classification": "accuracy", "regression": "rmse"}
# How much worse the challenger may be, in the metric's units. With a 1:9 imbalance a model
# that always answers the majority class still scores 0.9 accuracy: the margin is tight.
CANARY_DELTA = {"penguins": -0.05, "cancer": -0.01, "diabetes": -5.0}  # diabetes: mae ~45
TRIGGER_THRESHOLD = {"classification": 0.7, "regression": 80.0}  # accuracy below; rmse above


def write_project(root: Path, project: RealProject) -> Path:
    """Write ``conveyor.yaml``, ``pipelines.py``, and two data versions under ``data/``:
    ``<name>-v1.csv`` (the older, narrower data) and ``<name>-v2.csv`` (all of it)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    project.older.to_csv(root / "data" / f"{project.name}-v1.csv", index=False)
    project.frame.to_csv(root / "data" / f"{project.name}-v2.csv", index=False)
    (root / "pipelines.py").write_text(
        textwrap.dedent(
            PIPELINES.format(
                name=project.name,
                target=project.target,
                task=project.task,
                positive=project.positive_label,
            )
        ),
        encoding="utf-8",
    )
    positive = (
        ""
        if project.positive_label is None
        else f"  positive_label: {project.positive_label!r}\n".replace("'", '"')
    )
    (root / "conveyor.yaml").write_text(
        CONFIG.format(
            name=project.name,
            model=project.model,
            target=project.target,
            positive_line=positive,
            metric=project.metric,
            floor=FLOORS[project.metric],
            margin=MARGINS[project.task],
            canary_metric=CANARY_METRIC[project.task],
            monitored_metric=MONITORED_METRIC[project.task],
            canary_delta=CANARY_DELTA[project.name],
            trigger_threshold=TRIGGER_THRESHOLD[project.task],
        ),
        encoding="utf-8",
    )
    return root


#: ``CONVEYOR_*`` variables every command gets besides the actor: empty for a local
#: project; a server URL and token when the suite runs against a remote workspace.
BACKEND_ENV: dict[str, str] = {}


def cli_env() -> dict[str, str]:
    """The environment the CLI runs in: this process's, without its ``CONVEYOR_*``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(BACKEND_ENV, CONVEYOR_ACTOR="realdata", COLUMNS="200")
    return env


def conveyor_json(cwd: Path, *args: str, code: int | None = 0) -> Any:
    """Run a ``--json`` command and parse its standard output (progress goes to stderr)."""
    proc = run(cwd, *args, code=code)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"conveyor {' '.join(args)} exited {proc.returncode} without JSON:\n{proc.stderr}"
        ) from None


def conveyor(cwd: Path, *args: str, code: int | None = 0, timeout: float = 600) -> str:
    """Run the real CLI in ``cwd`` as a user would; assert its exit code; both streams."""
    proc = run(cwd, *args, code=code, timeout=timeout)
    return proc.stdout + proc.stderr


def run(
    cwd: Path, *args: str, code: int | None = 0, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in ``cwd`` as a user would; assert its exit code."""
    env = cli_env()
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if code is not None:
        assert proc.returncode == code, (
            f"conveyor {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@contextlib.contextmanager
def _as_the_cli(cwd: Path) -> Iterator[None]:
    """This process with the CLI's environment (:func:`cli_env`) and working folder."""
    saved, here = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(cli_env())
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)


def _main(cwd: Path, *args: str) -> tuple[str, str]:
    from conveyor.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _as_the_cli(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    assert code == 0, (
        f"conveyor {' '.join(args)} exited {code}:\n{out.getvalue()}\n{err.getvalue()}"
    )
    return out.getvalue(), err.getvalue()


def read(cwd: Path, *args: str) -> str:
    """A read-only command (``models show|list|history|card``) run by the CLI's ``main``
    in this process, as :func:`conveyor` runs it in a child; exit 0 asserted; both streams.

    Starting the interpreter and importing conveyor costs a child one to two seconds,
    the most of a read; the commands that change the project run as real processes.
    """
    out, err = _main(cwd, *args)
    return out + err


def read_json(cwd: Path, *args: str) -> Any:
    """:func:`read` of a ``--json`` command, parsed from its standard output."""
    out, _ = _main(cwd, *args)
    return json.loads(out)
