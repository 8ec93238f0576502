"""``conveyor serve`` imports only what serving needs, up to the first logged prediction.

The command line is run in a process of its own (``conveyor serve -m cancer@1``, logging
on, a real uvicorn server on 127.0.0.1); a thread of that process waits until the model is
ready, records ``sys.modules``, predicts once, records them again and stops the server.
Neither pandas, jinja2 nor plotly is imported on that path: they belong to registration,
cards and reports. pyarrow is not imported to start: the prediction logger's writer thread
imports it when it writes its first batch. Serving the native scikit-learn model
(``--no-onnx``) imports scikit-learn (and the pandas scikit-learn imports itself) but
neither skops' walk of every scikit-learn module nor torch, SHAP or plotly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from server_support import CANCER_COLUMNS, CANCER_ROW, cli_env, free_port, register_cancer

pytestmark = pytest.mark.slow

ROW = CANCER_ROW
NEVER = ("jinja2", "pandas", "plotly", "torch", "shap", "sklearn")
# Public scikit-learn modules a logistic regression never imports; skops' walk imports them.
WALKED = ("sklearn.semi_supervised", "sklearn.cross_decomposition", "sklearn.gaussian_process")

# Runs `conveyor serve` in this process (main thread) while a client thread waits for
# readiness, predicts once, prints the imported modules at both points and stops the
# server with SIGTERM, as an operator would (uvicorn then ends the process by that signal).
SCRIPT = """
import json, os, signal, sys, threading, time
import httpx
from conveyor.cli import main

port, row = sys.argv[1], json.loads(sys.argv[2])
report = {}

def client():
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            while True:
                try:
                    if http.get("/v2/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
            report["modules_when_ready"] = sorted(sys.modules)
            answer = http.post("/v1/predict", json={"rows": [row]})
            report["modules_after_predict"] = sorted(sys.modules)
            report["status"] = answer.status_code
            report["predict"] = answer.json()
            print(json.dumps(report), flush=True)
    finally:
        os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=client, daemon=True).start()
main(["serve", "-m", "cancer@1", "--log", "--port", port, *sys.argv[3:]])
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding cancer@1 (real data) with an ONNX twin that passed parity."""
    return register_cancer(tmp_path_factory.mktemp("cold_imports"))


def _serve_once(project: Path, *options: str) -> dict[str, Any]:
    """The report of SCRIPT serving cancer@1 with ``options``."""
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(free_port()), json.dumps(ROW), *options],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        check=False,
        text=True,
        timeout=600,
    )
    assert run.returncode in (0, -signal.SIGTERM), run.stderr
    report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["status"] == 200, report["predict"]
    return report


def test_conveyor_serve_imports_no_pandas_jinja2_or_plotly_up_to_the_first_logged_prediction(
    project: Path,
) -> None:
    report = _serve_once(project)
    assert report["predict"]["version"] == 1
    ready, predicted = set(report["modules_when_ready"]), set(report["modules_after_predict"])
    assert "conveyor.predictions._queue" in ready  # logging is on
    assert not set(NEVER) & predicted, sorted(set(NEVER) & predicted)
    # pyarrow waits for the logger's first write, off the request path.
    assert "pyarrow" not in ready


def test_serving_the_native_model_imports_no_estimator_walk_torch_shap_or_plotly(
    project: Path,
) -> None:
    report = _serve_once(project, "--no-onnx")
    data = load_breast_cancer(as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(data.frame[CANCER_COLUMNS], data.target)
    expected = model.predict(pd.DataFrame([ROW]))
    assert report["predict"]["predictions"] == expected.tolist()
    assert report["predict"]["version"] == 1
    predicted = set(report["modules_after_predict"])
    assert {"sklearn.linear_model", "skops.io"} <= predicted  # the native model served
    heavy = {"jinja2", "plotly", "torch", "shap", *WALKED} & predicted
    assert not heavy, sorted(heavy)


def _imported_after(statement: str, cwd: Path) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))\n"
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return set(json.loads(run.stdout.strip().splitlines()[-1]))


def test_opening_a_workspace_and_predicting_with_the_onnx_twin_import_no_pandas_or_jinja2(
    project: Path,
) -> None:
    statement = (
        "import conveyor.cli, conveyor.cli._serve, conveyor.predictions\n"
        "import conveyor.registry, conveyor.registry.flavors\n"
        "from conveyor.workspace import Workspace\n"
        "with Workspace.open('.') as ws:\n"
        "    loaded = ws.models.load('cancer@1', prefer_onnx=True)\n"
        "    import numpy as np\n"
        "    print(loaded.predictor.predict_array(np.array([[14.1, 19.3, 654.9, 0.096]])))\n"
    )
    heavy = {"jinja2", "markdown_it", "pandas", "plotly", "pyarrow"} & _imported_after(
        statement, project
    )
    assert not heavy, sorted(heavy)


def test_importing_the_serving_package_leaves_pandas_jinja2_and_pyarrow_out(project: Path) -> None:
    statement = "import conveyor.serving, conveyor.serving._launch"
    heavy = {"jinja2", "pandas", "plotly", "pyarrow"} & _imported_after(statement, project)
    assert not heavy, sorted(heavy)


def test_the_registry_exports_are_unchanged_and_its_importance_hint_names_a_dataframe() -> None:
    import typing

    import conveyor.registry as registry

    assert set(registry.__all__) <= set(dir(registry))
    assert callable(registry.add_card_section)
    assert callable(registry.prepare_model)
    arguments, _result = typing.get_args(registry.ImportanceFn)
    assert "pd.DataFrame" in str(arguments[1])  # a forward reference: pandas loads on use
