"""The demo shop's project: its pace, its ``conveyor.yaml`` and its training pipeline."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from conveyor.workspace import init_project

#: The training pipeline and the feature definitions copied into the demo project.
PIPELINE_TEMPLATE = Path(__file__).parent / "project" / "pipelines.py"
FEATURES_TEMPLATE = Path(__file__).parent / "project" / "features.py"
#: What the shop sends the server per session: the user's id (the server looks up the
#: user's profile and the category's list price in the feature store) and what is known
#: only at request time. The label is ``purchased``.
REQUEST_COLUMNS = (
    "user_id",
    "device",
    "product_category",
    "hour",
    "price",
    "discount",
    "pages_viewed",
    "session_seconds",
    "category_affinity",
)
#: Columns of a session that come from the feature store, not from the session log.
LOOKED_UP = ("user_segment", "past_purchases")
TARGET = "purchased"
MODEL = "recommender"
ENV = "production"


@dataclass(frozen=True)
class Pace:
    """How big and how fast the story is played.

    Attributes:
        training_rows: Rows of each season's training data.
        n_trials: Optuna trials per training run.
        rows_per_request: Rows sent in one ``/v1/predict`` request.
        day_requests: Requests of one simulated day of traffic.
        canary_steps: Canary traffic steps in percent.
        step_seconds: Minimum duration of a canary step.
        step_requests: Rows the challenger serves in a step before it is judged.
        min_labels: Labels per variant before the model metric decides.
        drift_window: Logged rows the drift check looks at.
        rollout_timeout_s: Longest wait for a canary to finish on its own.
    """

    training_rows: int
    n_trials: int
    rows_per_request: int
    day_requests: int
    canary_steps: tuple[int, ...]
    step_seconds: float
    step_requests: int
    min_labels: int
    drift_window: int
    rollout_timeout_s: float


FULL = Pace(
    training_rows=20_000,
    n_trials=6,
    rows_per_request=25,
    day_requests=60,
    canary_steps=(10, 50, 100),
    step_seconds=4.0,
    step_requests=200,
    min_labels=200,
    drift_window=1_500,
    rollout_timeout_s=150.0,
)
FAST = Pace(
    training_rows=6_000,
    n_trials=3,
    rows_per_request=25,
    day_requests=40,
    canary_steps=(20, 100),
    step_seconds=2.0,
    step_requests=150,
    min_labels=150,
    drift_window=1_000,
    rollout_timeout_s=60.0,
)

_CONFIG = """\
# The demo shop: a product recommender (will the shown product be bought?).
project:
  name: shop

features:
  definitions: features.py

pipelines:
  training: pipelines:training
  params: {{n_trials: {n_trials}}}

evaluation:
  model: {model}
  model_step: train
  holdout_step: split
  holdout_output: 1
  target: {target}
  positive_label: 1

gates:
  - {{check: schema, severity: error}}
  - {{check: min_metric, params: {{metric: roc_auc, min: 0.7}}, severity: error}}
  - {{check: min_metric, params: {{metric: accuracy, min: 0.65}}, severity: error}}
  - {{check: champion_comparison, params: {{metric: roc_auc, margin: -0.02, \
mode: non_inferiority}}}}
  - {{check: save_load_parity}}

environments:
  {env}:
    strategy: canary
    steps: [{steps}]
    min_step_duration_s: {step_seconds}
    min_requests: {step_requests}
    analysis: {{alpha: 0.05, beta: 0.05, max_error_rate_increase: 0.01,
               max_latency_p95_ratio: 4.0, max_divergence: 0.2, metric: accuracy,
               min_metric_delta: -0.02, min_labels: {min_labels}}}

monitoring:
  window: "{drift_window}"
  drift_share: 0.3
  metric: accuracy
  min_labels: 100

triggers:
  - {{name: season-drift, kind: drift, model: {model}, env: {env}, threshold: 0.3, \
cooldown_s: 600}}
  - {{name: fresh-sessions, kind: new_data, model: {model}, dataset: sessions, \
cooldown_s: 600}}

# Prices for `conveyor cost` (on-demand cloud list prices, per vCPU and per GB of memory).
cost: {{cpu_hour: 0.04, gb_hour: 0.005, spot_discount: 0.7}}
"""


def config_text(pace: Pace) -> str:
    """The demo project's ``conveyor.yaml`` for ``pace``."""
    return _CONFIG.format(
        n_trials=pace.n_trials,
        model=MODEL,
        target=TARGET,
        env=ENV,
        steps=", ".join(str(step) for step in pace.canary_steps),
        step_seconds=pace.step_seconds,
        step_requests=pace.step_requests,
        min_labels=pace.min_labels,
        drift_window=pace.drift_window,
    )


def scaffold(directory: Path, pace: Pace) -> Path:
    """Create the shop project in ``directory / "shop"`` and return its root."""
    root = directory / "shop"
    init_project(root, name="shop")
    (root / "conveyor.yaml").write_text(config_text(pace), encoding="utf-8")
    shutil.copyfile(PIPELINE_TEMPLATE, root / "pipelines.py")
    shutil.copyfile(FEATURES_TEMPLATE, root / "features.py")
    (root / "data").mkdir(exist_ok=True)
    return root
