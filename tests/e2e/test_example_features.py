"""End to end: the feature store example through the real ``conveyor`` command.

From a copy of ``examples/features``: version gapminder and the labelled observations,
apply the feature definitions, materialize them (the skew check passes), train through
``conveyor ci`` on the point-in-time training set (PROMOTE, the version tagged with its
feature service), deploy it, serve it and predict from a country's name alone: the
answer equals the model's prediction on the row the offline join builds at the
materialization time. A request sending a looked-up feature, or naming an unknown
country, is refused with 422 naming it, and the server keeps answering. Editing the
feature transformation and applying it is skew until the view is materialized again.

Training, materializing and serving run the real ``conveyor`` process; the quick reads
and the skew round call the CLI in this process (``cli_in_process.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from cli_in_process import CliInProcess, Ran

from conveyor.workspace import Workspace
from server_support import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "features"
FILES = ("conveyor.yaml", "features.py", "pipelines.py", "prepare_data.py")
MODEL = "life-outlook"
SERVICE = "life_outlook"
#: The growth line of the transformation, and the same growth in percent: an edit that
#: changes the feature's values but not its name or type.
GROWTH = 'ordered["gdpPercap"] / earlier["gdpPercap"] - 1.0'
GROWTH_PERCENT = f"100.0 * ({GROWTH})"
COUNTRIES = ["Norway", "Chad", "Japan", "Brazil", "Afghanistan", "Iceland"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_ACTOR="e2e", COLUMNS="200")
    return env


def conveyor(cwd: Path, *args: str, code: int = 0, timeout: float = 300) -> str:
    """``python -m conveyor ARGS`` in ``cwd``; its exit code asserted; stdout + stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == code, f"conveyor {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def ok(ran: Ran, code: int = 0) -> Ran:
    assert ran.returncode == code, f"exit {ran.returncode}\n{ran.stdout}\n{ran.stderr}"
    return ran


def copy_example(root: Path) -> Path:
    """A copy of the example with its data written (``prepare_data.py``)."""
    root.mkdir(parents=True)
    for name in FILES:
        shutil.copy(EXAMPLE / name, root / name)
    subprocess.run([sys.executable, "prepare_data.py"], cwd=root, check=True, timeout=120)
    return root


@contextmanager
def serving(root: Path, env: str) -> Iterator[httpx.Client]:
    """``conveyor serve --env ENV`` on a free 127.0.0.1 port, stopped on exit."""
    port = free_port()
    log_path = root / f"serve-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "conveyor", "serve", "--env", env,
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=root, env=_env(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0)
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if client.get("/v2/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server was not ready in 120 s"
                time.sleep(0.2)
            yield client
        finally:
            client.close()
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def offline_rows(root: Path, countries: list[str], at: str) -> pd.DataFrame:
    """The rows the offline point-in-time join builds for ``countries`` at time ``at``."""
    entities = pd.DataFrame(
        {"country": countries, "event_timestamp": pd.Timestamp(at).tz_convert("UTC")}
    )
    with Workspace.open(root) as ws:
        return ws.features.historical(entities, SERVICE)


def model_probabilities(root: Path, ref: str, rows: pd.DataFrame, *, onnx: bool) -> list[Any]:
    """``predict_proba`` of the registered version on ``rows`` (its signature's columns)."""
    with Workspace.open(root) as ws:
        loaded = ws.models.load(ref, prefer_onnx=onnx)
        try:
            columns = [c["name"] for c in loaded.version.signature["inputs"]]
            return [list(map(float, p)) for p in loaded.predictor.predict_proba(rows[columns])]
        finally:
            loaded.close()


@pytest.mark.slow
def test_trained_point_in_time_and_served_by_country_alone(
    tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    root = copy_example(tmp_path / "features")
    conveyor(root, "data", "add", "gapminder", "data/gapminder.parquet")
    ok(conveyor_in_process(root, "data", "add", "observations", "data/observations.parquet"))
    applied = json.loads(ok(conveyor_in_process(root, "features", "apply", "--json")).stdout)
    assert {(a["kind"], a["name"], a["version"]) for a in applied} == {
        ("entity", "country", 1),
        ("view", "country_stats", 1),
        ("view", "country_trends", 1),
        ("service", SERVICE, 1),
    }

    materialized = conveyor(root, "features", "materialize")
    assert "country_stats: 142 key(s) written (in full)" in materialized
    assert "country_trends: 142 key(s) written (in full)" in materialized
    assert "PASS Online and offline features agree" in materialized

    ci = conveyor(root, "ci", "--report-dir", "reports/ci", timeout=600)
    report = json.loads((root / "reports" / "ci" / "report.json").read_text(encoding="utf-8"))
    assert report["decision"]["decision"] == "PROMOTE", ci
    statuses = {r["name"]: r["status"] for r in report["suite"]["results"]}
    assert statuses["feature_skew"] == "passed", ci

    shown = json.loads(
        ok(conveyor_in_process(root, "models", "show", f"{MODEL}@1", "--json")).stdout
    )
    assert shown["tags"]["conveyor.feature_service"] == f"{SERVICE}@1"
    inputs = [c["name"] for c in shown["signature"]["inputs"]]
    assert "country" not in inputs  # the key finds the features; it is not one
    assert {"continent", "lifeExp", "gdp_growth", "life_gain"} <= set(inputs)

    conveyor(root, "deploy", f"{MODEL}@1", "--env", "production")
    views = json.loads(
        ok(conveyor_in_process(root, "features", "show", "country_stats", "--json")).stdout
    )
    materialized_at = views["materializations"][0]["end_ts"]
    expected = offline_rows(root, COUNTRIES, materialized_at)
    assert expected["lifeExp"].notna().all()
    served_by = model_probabilities(root, f"{MODEL}@1", expected, onnx=True)
    native = model_probabilities(root, f"{MODEL}@1", expected, onnx=False)

    with serving(root, "production") as client:
        rows = [{"country": c} for c in COUNTRIES]
        answer = client.post("/v1/predict", json={"rows": rows, "outputs": ["proba"]})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["version"] == 1
        for got, want, direct in zip(body["probabilities"], served_by, native, strict=True):
            assert got == pytest.approx(want, abs=1e-9)
            assert got == pytest.approx(direct, abs=1e-5)
        classes = body["classes"]
        assert body["predictions"] == [classes[max((0, 1), key=p.__getitem__)] for p in served_by]

        sent = client.post("/v1/predict", json={"rows": [{"country": "Norway", "lifeExp": 80.0}]})
        assert sent.status_code == 422, sent.text
        assert sent.json()["code"] == "feature_column_sent"
        assert "lifeExp" in sent.json()["error"]

        unknown = client.post("/v1/predict", json={"rows": [{"country": "Atlantis"}]})
        assert unknown.status_code == 422, unknown.text
        assert unknown.json()["code"] == "unknown_entity"
        assert "Atlantis" in unknown.json()["error"]

        again = client.post("/v1/predict", json={"rows": [{"country": "Norway"}]})
        assert again.status_code == 200, again.text
        assert again.json()["predictions"] == body["predictions"][:1]


@pytest.mark.slow
def test_edited_transformation_is_skew_until_materialized(
    tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    run = conveyor_in_process
    root = copy_example(tmp_path / "features")
    ok(run(root, "data", "add", "gapminder", "data/gapminder.parquet"))
    ok(run(root, "features", "apply"))
    ok(run(root, "features", "materialize"))
    assert ok(run(root, "features", "skew", SERVICE)).returncode == 0

    source = root / "features.py"
    text = source.read_text(encoding="utf-8")
    assert text.count(GROWTH) == 1
    source.write_text(text.replace(GROWTH, GROWTH_PERCENT), encoding="utf-8")
    applied = json.loads(ok(run(root, "features", "apply", "--json")).stdout)
    changed = {a["name"]: a["version"] for a in applied if a["changed"]}
    assert changed == {"country_trends": 2}

    skewed = ok(run(root, "features", "skew", SERVICE), code=1)
    assert "country_trends:gdp_growth" in skewed.stdout
    assert "materialized from version 1 of the view" in " ".join(skewed.stdout.split())
    report = json.loads(ok(run(root, "features", "skew", SERVICE, "--json"), code=1).stdout)
    assert report["passed"] is False
    assert report["worst_rate"] == 1.0

    again = ok(run(root, "features", "materialize"))
    assert "country_trends: 142 key(s) written (in full)" in again.stderr
    assert "country_stats: 0 key(s) written (changed keys)" in again.stderr
    assert ok(run(root, "features", "skew", SERVICE)).returncode == 0
