"""The agent and the feature store: a candidate trained through a feature service is
deployed only once the online store is materialized and passes the skew check."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from automation_support import Clock, make_agent

from conveyor.features import SERVICE_TAG
from conveyor.workspace import Workspace, init_project
from features_support import gapminder

FEATURES = """
from conveyor.features import Entity, FeatureService, FeatureView

country = Entity("country", join_keys=["country"])
country_stats = FeatureView(
    "country_stats",
    entities=[country],
    source="gapminder@latest",
    schema={"lifeExp": "float64", "gdpPercap": "float64"},
)
life = FeatureService("life", [country_stats])
"""

PIPELINES = """
import pandas as pd
from sklearn.linear_model import LogisticRegression

import conveyor


@conveyor.step
def select(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["lifeExp", "gdpPercap", "y"]].reset_index(drop=True)


@conveyor.step
def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shuffled = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    cut = int(len(shuffled) * 0.7)
    return shuffled.iloc[:cut].reset_index(drop=True), shuffled.iloc[cut:].reset_index(drop=True)


@conveyor.step
def train(train: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression(max_iter=1000).fit(train.drop(columns=["y"]), train["y"])


@conveyor.pipeline
def training(data: str = "observations@latest") -> None:
    observations = conveyor.load_dataset(data)
    fit, holdout = split(select(conveyor.load_features(observations, "life")))
    train(fit)
"""

CONFIG = """
project: {{name: {name}}}
pipelines:
  training: pipelines:training
evaluation:
  model: life-model
  model_step: train
  holdout_step: split
  holdout_output: 1
  target: y
gates:
  - {{check: min_metric, params: {{metric: accuracy, min: 0.5}}}}
triggers:
  - {{name: fresh, kind: new_data, model: life-model, dataset: observations, cooldown_s: 0}}
{extra}
"""


def observations(until: int) -> pd.DataFrame:
    """Six months after each gapminder row up to ``until``: will life expectancy have
    risen by more than a year at the next row? (Known only later: the label.)"""
    data = gapminder().sort_values(["country", "event_timestamp"])
    data["next"] = data.groupby("country")["lifeExp"].shift(-1)
    data = data.dropna(subset=["next"])
    data = data[data["event_timestamp"].dt.year <= until]
    return pd.DataFrame(
        {
            "country": data["country"].to_numpy(),
            "event_timestamp": data["event_timestamp"] + pd.Timedelta(days=182),
            "y": (data["next"] - data["lifeExp"] > 1.0).astype(int).to_numpy(),
        }
    )


def make_project(root: Path, extra: str = "") -> Path:
    init_project(root, name=root.name)
    (root / "conveyor.yaml").write_text(
        CONFIG.format(name=f"agent-features-{root.name}", extra=extra), encoding="utf-8"
    )
    (root / "pipelines.py").write_text(PIPELINES, encoding="utf-8")
    (root / "features.py").write_text(FEATURES, encoding="utf-8")
    with Workspace.open(root) as ws:
        ws.datasets.add("gapminder", gapminder())
        ws.datasets.add("observations", observations(1990))
        ws.features.apply()
    return root


def test_a_feature_service_candidate_is_deployed_after_materializing(tmp_path: Path) -> None:
    root = make_project(tmp_path / "ok")
    with Workspace.open(root) as ws:
        agent = make_agent(ws, clock=Clock())
        agent.run_once()  # the baseline: observations@1
        ws.datasets.add("observations", observations(2002))
        tick = agent.run_once()
        assert tick.outcomes[0].details["result"] == "deployed"
        deploy = next(e for e in agent.events() if e.kind == "deploy")
        assert "online features of life@1" in deploy.reason
        assert "skew check passed" in deploy.reason
        assert ws.deployments.current(deploy.details["environment"]) is not None
        version = ws.models.get("life-model@1")
        assert version.tags[SERVICE_TAG] == "life@1"
        assert version.lineage["features"]["views"]["country_stats"]["dataset"] == "gapminder@1"
        assert ws.features.online_store.count("country_stats") == 142


def test_no_deployment_when_the_online_store_cannot_be_brought_up_to_date(
    tmp_path: Path,
) -> None:
    # Nothing listens on port 9 of 127.0.0.1: the online store is unreachable.
    root = make_project(tmp_path / "down", extra="features: {online_url: 'redis://127.0.0.1:9/0'}")
    with Workspace.open(root) as ws:
        agent = make_agent(ws, clock=Clock())
        agent.run_once()
        ws.datasets.add("observations", observations(2002))
        tick = agent.run_once()
        outcome = tick.outcomes[0]
        assert outcome.details["result"] == "failed"
        assert "online features could not be brought up to date" in outcome.reason
        assert "127.0.0.1:9" in outcome.reason
        assert not [e for e in agent.events() if e.kind == "deploy"]
        assert ws.deployments.current(agent.trigger("fresh").env) is None
