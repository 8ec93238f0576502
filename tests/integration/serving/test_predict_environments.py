"""``conveyor predict NAME@ENV`` with several environments: each environment scores with the
version its own deployment serves live (the heaviest live variant, never a shadow), an alias
of the same name wins over an environment, and an environment that serves no version of the
model is refused naming the reference. On palmerpenguins (strings and missing values)."""

from __future__ import annotations

import json
from pathlib import Path

import palmerpenguins
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from conveyor.cli import main
from conveyor.deployments import DeploymentStore, Variant
from conveyor.workspace import Workspace

ENVIRONMENTS = """
environments:
  staging: {strategy: replace}
  production: {strategy: canary}
  qa: {strategy: replace}
"""


def _model(estimator: object) -> Pipeline:
    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["island", "sex"]),
            (SimpleImputer(), ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]),
        ),
        estimator,
    )


def _deploy(ws: Workspace, environment: str, *variants: Variant) -> None:
    store = DeploymentStore(ws.store, actor=ws.actor)
    store.transition(
        environment,
        expected_revision=None,
        action="deploy",
        reason="test",
        strategy="canary" if len(variants) > 1 else "replace",
        state="stable",
        variants=variants,
        params={},
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, Pipeline]]:
    """penguins@1..3, three different models; production runs 1 (90 %) against 2 (10 %)
    with 3 as a shadow, staging serves 3, qa serves another model only."""
    tmp_path = tmp_path_factory.mktemp("environments")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(tmp_path)
        assert main(["init"]) == 0
    with (tmp_path / "conveyor.yaml").open("a", encoding="utf-8") as config:
        config.write(ENVIRONMENTS)
    frame = palmerpenguins.load_penguins()
    x, y = frame.drop(columns=["species"]), frame["species"]
    fitted = {
        1: _model(LogisticRegression(max_iter=2000)).fit(x, y),
        2: _model(DecisionTreeClassifier(max_depth=1, random_state=0)).fit(x, y),
        3: _model(DecisionTreeClassifier(max_depth=2, random_state=0)).fit(x, y),
    }
    example = x.iloc[[3, *range(0, 344, 9)]]  # row 3: measurements and sex missing
    with Workspace.open(tmp_path) as ws:
        for model in fitted.values():
            ws.models.register("penguins", model, input_example=example)
        ws.models.register("other", fitted[1], input_example=example)
        _deploy(
            ws,
            "production",
            Variant("penguins", 1, "champion", 90),
            Variant("penguins", 2, "challenger", 10),
            Variant("penguins", 3, "shadow", 0),
        )
        _deploy(ws, "staging", Variant("penguins", 3, "champion", 100))
        _deploy(ws, "qa", Variant("other", 1, "champion", 100))
    x.to_parquet(tmp_path / "penguins.parquet")
    # The three models must disagree somewhere, or the test could not tell them apart.
    answers = {version: tuple(model.predict(x)) for version, model in fitted.items()}
    assert len(set(answers.values())) == 3
    return tmp_path, fitted


@pytest.fixture
def project(
    built: tuple[Path, dict[int, Pipeline]], monkeypatch: pytest.MonkeyPatch
) -> dict[int, Pipeline]:
    """The built project as the working directory (tests write only their own outputs)."""
    monkeypatch.chdir(built[0])
    return built[1]


def _predict(ref: str, output: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["predict", ref, "-i", "penguins.parquet", "-o", output, "--json"])
    captured = capsys.readouterr()
    return code, captured.out if code == 0 else captured.err


@pytest.mark.parametrize(("environment", "version"), [("production", 1), ("staging", 3)])
def test_each_environment_scores_with_its_own_live_version(
    project: dict[int, Pipeline],
    capsys: pytest.CaptureFixture[str],
    environment: str,
    version: int,
) -> None:
    code, out = _predict(f"penguins@{environment}", f"{environment}.parquet", capsys)
    assert code == 0, out
    result = json.loads(out)
    assert (result["model"], result["version"], result["rows"]) == ("penguins", version, 344)
    scored = pd.read_parquet(f"{environment}.parquet")["prediction"].tolist()
    x = pd.read_parquet("penguins.parquet")
    assert scored == project[version].predict(x).tolist()


def test_an_alias_named_like_an_environment_wins(
    project: dict[int, Pipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    with Workspace.open(Path.cwd()) as ws:
        ws.models.set_alias("penguins", 2, "staging")
    try:
        code, out = _predict("penguins@staging", "aliased.parquet", capsys)
    finally:
        with Workspace.open(Path.cwd()) as ws:
            ws.models.remove_alias("penguins", "staging")
    assert code == 0, out
    assert json.loads(out)["version"] == 2


@pytest.mark.parametrize("environment", ["qa", "nowhere"])
def test_an_environment_serving_no_version_of_the_model_is_refused(
    project: dict[int, Pipeline], capsys: pytest.CaptureFixture[str], environment: str
) -> None:
    code, err = _predict(f"penguins@{environment}", "none.parquet", capsys)
    assert code == 1
    assert f"penguins@{environment}" in err or environment in err
    assert "Traceback" not in err
    assert not Path("none.parquet").exists()
