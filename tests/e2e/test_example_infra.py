"""End to end: from the tabular example project, one command each gives an image build
context, Kubernetes manifests that validate, an InferenceService, an Airflow DAG and the
cost of the version (the image itself is built and queried in
tests/integration/infra/test_build_image.py, the DAG run in Airflow in test_airflow_dag.py)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from cli_in_process import CliInProcess
from test_example_tabular import EXAMPLE, conveyor

pytestmark = pytest.mark.slow

MODEL = "cancer-classifier"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example after `conveyor ci` (a promoted version) and a deploy to production."""
    root = tmp_path_factory.mktemp("tabular-infra")
    for name in ("conveyor.yaml", "pipelines.py", "prepare_data.py"):
        shutil.copy(EXAMPLE / name, root / name)
    subprocess.run([sys.executable, "prepare_data.py"], cwd=root, check=True, timeout=120)
    conveyor(root, "data", "add", "cancer", "data/cancer.csv")
    conveyor(root, "ci", "--report-dir", "reports", timeout=600)
    conveyor(root, "deploy", f"{MODEL}@1", "--env", "production")
    return root


def test_one_command_each_from_the_example(
    deployed: Path, conveyor_in_process: CliInProcess
) -> None:
    def run(*args: str) -> str:
        ran = conveyor_in_process(deployed, *args)
        assert ran.returncode == 0, f"conveyor {' '.join(args)}:\n{ran.stdout}\n{ran.stderr}"
        return ran.stdout

    run("build", f"{MODEL}@production", "-o", "build")
    dockerfile = (deployed / "build" / "Dockerfile").read_text()
    assert f'ml.conveyor.model.name="{MODEL}"' in dockerfile
    assert 'ml.conveyor.model.gate-decision="PROMOTE"' in dockerfile
    assert "scikit-learn==" in (deployed / "build" / "requirements.txt").read_text()

    run("export", "k8s", "--env", "production", "-o", "k8s", "--image", "tabular:1")
    version = kubernetes_validate.latest_version()
    documents = [
        doc
        for path in sorted((deployed / "k8s").glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    assert {d["kind"] for d in documents} >= {"Deployment", "Service", "CronJob", "ConfigMap"}
    for doc in documents:
        kubernetes_validate.validate(doc, version, strict=True)

    run("export", "kserve", "--env", "production", "-o", "isvc.yaml", "--image", "tabular:1")
    service = yaml.safe_load((deployed / "isvc.yaml").read_text())
    assert service["kind"] == "InferenceService"
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 10  # first canary step

    run("export", "airflow", "pipelines:training", "-o", "dag.py")
    tree = ast.parse((deployed / "dag.py").read_text())
    assert "pipelines:training" in ast.unparse(tree)

    cost = json.loads(run("cost", "--model", f"{MODEL}@1", "--json"))[0]
    assert cost["training"]["trials"] == 4
    assert cost["training"]["cpu_s"] > 0
