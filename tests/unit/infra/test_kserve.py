"""`conveyor export kserve`: an InferenceService running the conveyor image as a custom
predictor, its canary percent from the environment, scale to zero, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.infra._errors import NoDeploymentError, OutputNotOwnedError, SecretInConfigError
from conveyor.infra._kserve import export_kserve
from conveyor.rollout import EnvironmentNotFoundError
from k8s_project import CONFIG, IMAGE, build_project, copy_project, open_ws


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("kserve") / "shop")


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    return copy_project(built, tmp_path / "shop")


def isvc(project: Path, env: str, *, scale_to_zero: bool = False) -> dict[str, Any]:
    with open_ws(project) as ws:
        path = export_kserve(ws, env, project / f"{env}.yaml", image=IMAGE,
                             scale_to_zero=scale_to_zero)  # fmt: skip
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_a_running_canary_becomes_canary_traffic_percent_on_its_challenger(project: Path) -> None:
    doc = isvc(project, "staging")  # churn@1 90 %, churn@2 10 %
    assert (doc["apiVersion"], doc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    predictor = doc["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    (container,) = predictor["containers"]
    assert container["image"] == IMAGE
    assert container["args"][:3] == ["serve", "--model", "churn@2"]
    assert container["ports"] == [{"containerPort": 8080, "name": "http1", "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert doc["metadata"]["annotations"]["conveyor.dev/protocol"] == "v2"
    assert doc["metadata"]["name"] == "shop-staging"
    assert doc["metadata"]["namespace"] == "ml"
    assert predictor["minReplicas"] == 2
    # The image's own project and store: no ConfigMap, the store copied to a writable volume.
    assert {m["name"] for m in container["volumeMounts"]} == {"state", "tmp"}
    (seed,) = predictor["initContainers"]
    assert seed["volumeMounts"] == [{"mountPath": "/seed", "name": "state"}]
    assert "/app/project/.conveyor" in seed["command"]
    env = {e["name"]: e for e in container["env"]}
    assert all(e["valueFrom"]["secretKeyRef"]["optional"] for e in env.values() if "valueFrom" in e)
    hosts = json.loads(env["CONVEYOR_SERVING__ALLOWED_HOSTS"]["value"])
    assert {"localhost", "shop-staging-predictor.ml.svc.cluster.local"} <= set(hosts)


def test_a_replace_environment_has_no_canary_and_serves_its_version(project: Path) -> None:
    predictor = isvc(project, "production")["spec"]["predictor"]
    assert "canaryTrafficPercent" not in predictor
    assert predictor["containers"][0]["args"][:3] == ["serve", "--model", "churn@1"]


def test_a_stable_canary_environment_gets_its_first_step(built: Path, tmp_path: Path) -> None:
    config = CONFIG.replace("production: {strategy: replace}",
                            "production: {strategy: canary, steps: [5, 50, 100]}")  # fmt: skip
    project = copy_project(built, tmp_path / "p", config)
    assert isvc(project, "production")["spec"]["predictor"]["canaryTrafficPercent"] == 5


def test_scale_to_zero_from_the_flag_or_the_configuration(built: Path, tmp_path: Path) -> None:
    project = copy_project(built, tmp_path / "flag")
    assert isvc(project, "production", scale_to_zero=True)["spec"]["predictor"]["minReplicas"] == 0
    config = CONFIG.replace("spot: true}", "spot: true, scale_to_zero: true}")
    configured = copy_project(built, tmp_path / "conf", config)
    assert isvc(configured, "production")["spec"]["predictor"]["minReplicas"] == 0


def test_reexport_is_identical_and_a_foreign_file_is_not_overwritten(project: Path) -> None:
    first = isvc(project, "staging")
    text = (project / "staging.yaml").read_bytes()
    assert isvc(project, "staging") == first
    assert (project / "staging.yaml").read_bytes() == text
    (project / "production.yaml").write_text("kind: Mine\n")
    with pytest.raises(OutputNotOwnedError, match=r"production\.yaml"):
        isvc(project, "production")
    assert (project / "production.yaml").read_text() == "kind: Mine\n"


def test_bad_environments_and_secrets_are_refused(built: Path, tmp_path: Path) -> None:
    project = copy_project(built, tmp_path / "p")
    with pytest.raises(EnvironmentNotFoundError, match="'qa'"):
        isvc(project, "qa")
    with pytest.raises(NoDeploymentError) as caught:
        isvc(project, "empty")
    assert "conveyor deploy" in (caught.value.hint or "")
    leaky = copy_project(built, tmp_path / "leaky", CONFIG + "serving: {allowed_hosts: [a]}\n"
                         "webhooks:\n  allowed_hosts: [h.example]\n  endpoints:\n"
                         "    - {url: 'https://h.example/x?token=abc'}\n")  # fmt: skip
    with pytest.raises(SecretInConfigError, match=r"webhooks\.endpoints\[0\]\.url"):
        isvc(leaky, "production")
