"""Cost on real work: a pipeline with a 5-trial Optuna study trains a Ridge model on sklearn's
diabetes data and registers it; real uvicorn servers of two environments answer requests
and are stopped; ``model_cost``, ``conveyor cost`` and the model card report what it cost."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sqlalchemy import text

from conveyor.cost import cost_report, model_cost
from conveyor.deployments import DeploymentStore, Variant
from conveyor.pipelines import load_pipeline
from conveyor.serving import ServingSettings
from conveyor.serving._launch import build_env_app
from conveyor.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parents[2] / "integration" / "serving"))
sys.path.insert(0, str(Path(__file__).parents[2] / "e2e"))
from cli_in_process import in_process
from serving_support import running, wait_ready

PIPELINE = """
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score

import conveyor
from conveyor.tuning import Float


@conveyor.step
def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    cut = int(len(shuffled) * 0.75)
    return shuffled.iloc[:cut].reset_index(drop=True), shuffled.iloc[cut:].reset_index(drop=True)


@conveyor.step
def search(fit: pd.DataFrame) -> float:
    X, y = fit.drop(columns=["target"]), fit["target"]

    def objective(params):
        return -cross_val_score(Ridge(alpha=params["alpha"]), X, y, cv=3).mean()

    result = conveyor.tune(
        objective, {"alpha": Float(0.001, 10.0, log=True)}, n_trials=5, seed=7,
        study_name="ridge-alpha",
    )
    return float(result.best_params["alpha"])


@conveyor.step
def train(fit: pd.DataFrame, alpha: float) -> Ridge:
    return Ridge(alpha=alpha).fit(fit.drop(columns=["target"]), fit["target"])


@conveyor.step
def publish(model: Ridge, holdout: pd.DataFrame, note: str) -> int:
    features = holdout.drop(columns=["target"])
    version = conveyor.register_model(
        "progression", model, input_example=features.head(3), explain=False, onnx=False,
        tags={"note": note},
    )
    return version.version


@conveyor.pipeline
def training(data: str = "diabetes@latest", note: str = "first") -> None:
    fit, holdout = split(conveyor.load_dataset(data))
    publish(train(fit, search(fit)), holdout, note)
"""

CONFIG = """\
project: {name: cost}
environments:
  staging: {strategy: replace}
  production: {strategy: replace}
cost: {cpu_hour: 0.05, gb_hour: 0.01, spot_discount: 0.7, currency: EUR}
"""
SETTINGS = ServingSettings(prepare_explainers=False, usage_interval_s=0)
#: Requests sent to each environment's server.
SENT = {"staging": 7, "production": 12}


@dataclass(frozen=True)
class Project:
    root: Path
    run_id: str
    version: int
    unserved: int
    rerun_id: str
    rerun_version: int


def _deploy(ws: Workspace, environment: str, version: int) -> None:
    DeploymentStore(ws.store, actor=ws.actor).transition(
        environment,
        expected_revision=None,
        action="deploy",
        reason="test",
        strategy="replace",
        state="stable",
        variants=(Variant("progression", version, "champion", 100),),
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("cost") / "proj"
    root.mkdir()
    (root / "diabetes_pipeline.py").write_text(PIPELINE, encoding="utf-8")
    (root / "conveyor.yaml").write_text(CONFIG, encoding="utf-8")
    frame = load_diabetes(as_frame=True).frame
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.datasets.add("diabetes", frame)
        result = load_pipeline("diabetes_pipeline:training", root).run(ws)
        version = ws.models.get("progression@latest").version
        for environment, sent in SENT.items():
            _deploy(ws, environment, version)
            app = build_env_app(ws, environment, settings=SETTINGS, interval_s=0.05)
            row = frame.drop(columns=["target"]).iloc[0].to_dict()
            with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
                assert wait_ready(client).status_code == 200
                for _ in range(sent):
                    answer = client.post("/v1/predict", json={"rows": [row]})
                    assert answer.status_code == 200, answer.text
        # Run again with another note: every step but publish is a cache hit.
        rerun = load_pipeline("diabetes_pipeline:training", root).run(ws, params={"note": "again"})
        rerun_version = ws.models.get("progression@latest").version
        unserved = ws.models.register(
            "progression", Ridge().fit(frame.drop(columns=["target"]), frame["target"])
        ).version
        yield Project(root, result.run_id, version, unserved, rerun.run_id, rerun_version)


def _open(project: Project) -> Workspace:
    return Workspace.open(project.root, env={}, search_parents=False)


def _tree_rows(ws: Workspace, root_id: str) -> list[dict[str, object]]:
    """Every run under ``root_id``, read straight from the ``runs`` table."""
    with ws.store.engine.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    "SELECT id, parent_id, kind, status, wall_s, cpu_s, peak_rss_mb, cached_from "
                    "FROM runs"
                )
            )
        ]
    wanted, found = {root_id}, []
    while True:
        level = [r for r in rows if r["parent_id"] in wanted and r not in found]
        if not level:
            break
        found += level
        wanted = {str(r["id"]) for r in level}
    return [r for r in rows if r["id"] == root_id] + found


def _billed(rows: list[dict[str, object]]) -> float:
    """CPU seconds of the tree ``rows`` (root first), each run counted as the larger of
    its own and its children's; a cached run did no work."""
    children: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        children.setdefault(str(r["parent_id"]), []).append(r)

    def billed(run: dict[str, object]) -> float:
        below = sum(billed(c) for c in children.get(str(run["id"]), []))
        own = 0.0 if run["status"] == "cached" else float(run["cpu_s"] or 0.0)  # type: ignore[arg-type]
        return max(own, below)

    return billed(rows[0])


@pytest.mark.slow
def test_step_runs_and_trials_record_wall_cpu_and_peak_memory(project: Project) -> None:
    with _open(project) as ws:
        rows = _tree_rows(ws, project.run_id)
    kinds = sorted(str(r["kind"]) for r in rows)
    assert kinds.count("trial") == 5
    assert kinds.count("step") == 5  # load_dataset, split, search, train, publish
    assert sorted(set(kinds)) == ["pipeline", "step", "trial", "tune"]
    for row in rows:
        assert row["status"] == "completed", row
        for column in ("wall_s", "cpu_s", "peak_rss_mb"):
            assert isinstance(row[column], float), row
            assert row[column] > 0, row


@pytest.mark.slow
def test_model_cost_sums_the_recorded_run_tree_and_prices_it(project: Project) -> None:
    with _open(project) as ws:
        cost = model_cost(ws, f"progression@{project.version}")
        rows = _tree_rows(ws, project.run_id)
    training = cost.training
    assert training is not None
    assert training.root_run_id == project.run_id
    assert {r.run_id for r in training.runs} == {str(r["id"]) for r in rows}
    recorded = sum(float(r["cpu_s"] or 0.0) for r in rows)  # type: ignore[arg-type]
    assert training.recorded_cpu_s == pytest.approx(recorded, rel=1e-12)
    # Billed: each run counts the larger of its own CPU and its children's, once per level.
    assert training.cpu_s == pytest.approx(_billed(rows), rel=1e-12)
    leaves = sum(float(r["cpu_s"] or 0.0) for r in rows if r["kind"] == "trial")  # type: ignore[arg-type]
    assert leaves <= training.cpu_s <= recorded
    assert (training.steps, training.trials, training.cached_steps) == (5, 5, 0)
    expected = training.cpu_s / 3600 * 0.05 + training.gb_hours * 0.01
    assert training.cost == pytest.approx(expected, rel=1e-12)
    assert training.spot_cost == pytest.approx(expected * 0.3, rel=1e-12)
    assert training.spot_saving == pytest.approx(expected * 0.7, rel=1e-12)
    assert cost.currency == "EUR"
    assert cost.priced


@pytest.mark.slow
def test_stopped_servers_leave_usage_whose_predictions_are_the_requests_answered(
    project: Project,
) -> None:
    with _open(project) as ws:
        usage = ws.predictions.records.usage(model="progression", version=project.version)
        cost = model_cost(ws, f"progression@{project.version}", since="1d")
    by_env = {u.environment: u for u in usage}
    assert {env: u.predictions for env, u in by_env.items()} == SENT
    for u in usage:
        assert u.wall_s > 0
        assert u.cpu_s > 0
        assert u.peak_rss_mb > 0
        assert u.busy_s > 0
        assert u.busy_s <= u.wall_s
    serving = {s.environment: s for s in cost.serving}
    assert set(serving) == set(SENT)
    for env, sent in SENT.items():
        s, u = serving[env], by_env[env]
        assert s.predictions == sent
        on_demand = u.cpu_s / 3600 * 0.05 + (u.peak_rss_mb / 1024) * (u.wall_s / 3600) * 0.01
        assert s.cost == pytest.approx(on_demand, rel=1e-9)
        assert s.per_1000 == pytest.approx(on_demand / sent * 1000, rel=1e-9)
        busy_only = u.cpu_s / 3600 * 0.05 + (u.peak_rss_mb / 1024) * (u.busy_s / 3600) * 0.01
        assert s.scale_to_zero_saving == pytest.approx(on_demand - busy_only, rel=1e-9)


@pytest.mark.slow
def test_cached_steps_cost_nothing_and_say_what_they_saved(project: Project) -> None:
    with _open(project) as ws:
        cost = model_cost(ws, f"progression@{project.rerun_version}")
        first = model_cost(ws, f"progression@{project.version}")
        cached = [r for r in _tree_rows(ws, project.rerun_id) if r["status"] == "cached"]
    training, original = cost.training, first.training
    assert training is not None
    assert original is not None
    assert training.root_run_id == project.rerun_id
    assert training.cached_steps == len(cached) == 4  # load_dataset, split, search, train
    assert training.steps == 1  # publish ran again
    assert training.trials == 0  # the study ran in the cached search step, not again
    # What the cache saved is what the original runs used, their tuning trials included.
    with _open(project) as ws:
        saved = sum(_billed(_tree_rows(ws, str(r["cached_from"]))) for r in cached)
    assert {str(r["cached_from"]) for r in cached} <= {r.run_id for r in original.runs}
    assert training.cached_saved_cpu_s == pytest.approx(saved, rel=1e-12)
    assert training.cached_saved_cpu_s > 0
    assert training.cached_saving is not None
    assert training.cached_saving > 0


@pytest.mark.slow
def test_a_version_never_served_says_so_without_a_cost_per_thousand(project: Project) -> None:
    with _open(project) as ws:
        cost = model_cost(ws, f"progression@{project.unserved}")
    assert cost.serving == ()
    assert cost.training is None
    assert any("Never served" in note for note in cost.notes)
    assert cost.to_dict()["total"] == 0.0


@pytest.mark.slow
def test_the_report_of_an_environment_covers_the_versions_it_serves_there(
    project: Project,
) -> None:
    with _open(project) as ws:
        report = cost_report(ws, env="staging", since="30d")
        everything = cost_report(ws, since="30d")
    assert [c.ref for c in report] == [f"progression@{project.version}"]
    assert [s.environment for s in report[0].serving] == ["staging"]
    assert report[0].serving[0].predictions == SENT["staging"]
    assert [c.version for c in everything] == [
        project.version,
        project.rerun_version,
        project.unserved,
    ]


@pytest.mark.slow
def test_conveyor_cost_prints_json_and_tables(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = in_process(monkeypatch, capsys)
    ref = f"progression@{project.version}"
    done = run(project.root, "cost", "--model", ref, "--json")
    assert done.returncode == 0, done.stderr
    (data,) = json.loads(done.stdout)
    assert data["ref"] == ref
    assert data["currency"] == "EUR"
    assert {s["environment"]: s["predictions"] for s in data["serving"]} == SENT
    assert data["training"]["trials"] == 5
    table = run(project.root, "cost", "--env", "production", "--since", "30d")
    assert table.returncode == 0, table.stderr
    assert "Training and tuning" in table.stdout
    assert "Serving" in table.stdout
    assert ref in table.stdout
    assert "production" in table.stdout
    assert "EUR" in table.stdout
    bad = run(project.root, "cost", "--since", "banana")
    assert bad.returncode != 0
    assert "banana" in bad.stderr
    assert "30d" in bad.stderr


@pytest.mark.slow
def test_the_model_card_shows_the_cost_section(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = in_process(monkeypatch, capsys)
    done = run(project.root, "models", "card", f"progression@{project.version}")
    assert done.returncode == 0, done.stderr
    section = done.stdout[done.stdout.index("## Cost") :]
    assert "5 trial(s)" in section
    assert "| staging | 7 |" in section
    assert "| production | 12 |" in section
    assert "EUR" in section


@pytest.mark.slow
def test_the_version_page_of_the_web_ui_shows_the_cost(project: Project) -> None:
    from ui_support import local_ui

    with _open(project) as ws, local_ui(ws) as client:
        page = client.get(f"/models/progression/versions/{project.version}").text
        unserved = client.get(f"/models/progression/versions/{project.unserved}").text
    section = page[page.index('id="cost"') : page.index("</section>", page.index('id="cost"'))]
    assert "5 trial(s)" in section
    assert "EUR" in section
    assert '<td>staging</td><td class="num">7</td>' in section
    assert '<td>production</td><td class="num">12</td>' in section
    assert "Never served" in unserved
