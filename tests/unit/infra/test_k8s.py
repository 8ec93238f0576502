"""`conveyor export k8s`: the kustomize base of a deployed environment, its hardening, its
Secret references, its refusals and its stable output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.cli._app import main
from conveyor.infra._errors import NoDeploymentError, OutputNotOwnedError, SecretInConfigError
from conveyor.infra._k8s import export_k8s
from conveyor.rollout import Controller, EnvironmentNotFoundError
from conveyor.workspace import Workspace
from k8s_project import CONFIG, IMAGE, build_project, copy_project, open_ws

RFC1035 = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("k8s") / "shop")


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    return copy_project(built, tmp_path / "shop")


def export(project: Path, env: str = "staging", out: str = "out") -> Path:
    with open_ws(project) as ws:
        export_k8s(ws, env, project / out, image=IMAGE)
    return project / out


def load(folder: Path, name: str) -> dict[str, Any]:
    return yaml.safe_load((folder / name).read_text(encoding="utf-8"))


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return list(spec["template"]["spec"]["containers"])


def test_the_base_lists_every_manifest_and_the_training_job_stays_outside(project: Path) -> None:
    out = export(project)
    kustomization = load(out, "kustomization.yaml")
    manifests = sorted(p.name for p in out.glob("*.yaml"))
    assert kustomization["resources"] == [
        m for m in manifests if m not in ("kustomization.yaml", "training-job.yaml")
    ]
    assert kustomization["namespace"] == "ml"
    assert kustomization["labels"][0]["pairs"]["app.kubernetes.io/part-of"] == "shop"
    kinds = sorted(load(out, name)["kind"] for name in kustomization["resources"])
    assert kinds == [
        "ConfigMap", "CronJob", "Deployment", "Deployment", "Deployment",
        "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "Service",
    ]  # fmt: skip
    assert load(out, "training-job.yaml")["kind"] == "Job"
    assert (out / "README.md").is_file()


def test_the_prediction_server_is_hardened_probed_and_autoscaled(project: Path) -> None:
    out = export(project)
    deployment = load(out, "predictor-deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    assert server["args"][:3] == ["serve", "--env", "staging"]
    assert server["image"] == IMAGE
    assert server["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert server["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert {"name": "Host", "value": "localhost"} in server["readinessProbe"]["httpGet"][
        "httpHeaders"
    ]
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    assert server["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    mounts = {m["mountPath"]: m["name"] for m in server["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts == {
        "/app/project/conveyor.yaml": "config",
        "/app/project/.conveyor": "state",
        "/tmp": "tmp",
    }
    assert "emptyDir" in volumes["tmp"]
    assert "emptyDir" in volumes["state"]
    assert volumes["config"]["configMap"]["name"] == "shop-config"
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    hpa = load(out, "predictor-hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    pdb, service = load(out, "predictor-pdb.yaml"), load(out, "predictor-service.yaml")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["selector"]["matchLabels"] == selector == service["spec"]["selector"]
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= template_labels.items()


def test_the_agent_is_a_single_recreated_replica_and_monitoring_a_cronjob(project: Path) -> None:
    out = export(project)
    agent = load(out, "agent-deployment.yaml")
    assert agent["spec"]["replicas"] == 1
    assert agent["spec"]["strategy"] == {"type": "Recreate"}
    assert containers(agent)[0]["args"] == ["agent"]
    cron = load(out, "monitor-cronjob.yaml")
    assert containers(cron)[0]["args"] == ["monitor", "run", "--env", "staging"]
    assert cron["spec"]["schedule"] == "0 0 * * *"  # monitoring.window: 1d
    server = load(out, "server-deployment.yaml")
    assert containers(server)[0]["args"][0] == "server"
    assert load(out, "configmap.yaml")["data"]["conveyor.yaml"] == CONFIG


def test_the_monitoring_schedule_follows_the_window(built: Path, tmp_path: Path) -> None:
    project = copy_project(built, tmp_path / "p", CONFIG.replace("window: 1d", "window: 1h"))
    assert load(export(project), "monitor-cronjob.yaml")["spec"]["schedule"] == "0 * * * *"


def test_secrets_are_referenced_by_key_and_never_carried(built: Path, tmp_path: Path) -> None:
    project = copy_project(built, tmp_path / "p")
    secret_env = {"CONVEYOR_MASTER_KEY": "ab" * 32, "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
    with Workspace.open(project, actor="alice", env=secret_env, search_parents=False) as ws:
        export_k8s(ws, "staging", project / "out", image=IMAGE)
    out = project / "out"
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "s3cr3t-value" not in text, path.name
        assert "ab" * 32 not in text, path.name
    env = {e["name"]: e for e in containers(load(out, "predictor-deployment.yaml"))[0]["env"]}
    ref = env["CONVEYOR_METADATA_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"key": "CONVEYOR_METADATA_URL", "name": "shop-secrets", "optional": False}
    # conveyor.yaml keeps artifacts in a local folder, which pods cannot share.
    assert env["CONVEYOR_ARTIFACT_URL"]["valueFrom"]["secretKeyRef"]["optional"] is False
    hosts = json.loads(env["CONVEYOR_SERVING__ALLOWED_HOSTS"]["value"])
    assert {"localhost", "shop-staging", "shop-staging.ml.svc.cluster.local"} <= set(hosts)
    for name in ("CONVEYOR_MASTER_KEY", "AWS_SECRET_ACCESS_KEY", "CONVEYOR_TOKEN"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["optional"] is True
    example = (out / "secrets.example.env").read_text(encoding="utf-8")
    assert "CONVEYOR_METADATA_URL=\n" in example
    assert "kubectl -n ml create secret generic shop-secrets --from-env-file" in example


@pytest.mark.parametrize(
    ("store", "key"),
    [
        ("store: {metadata_url: 'postgresql://ml:hunter2@db:5432/shop'}", "store.metadata_url"),
        ("store: {storage_options: {key: AKIA1, secret: abc}}", "store.storage_options."),
        ("features: {online_url: 'redis://:pw@redis:6379/0'}", "features.online_url"),
    ],
)
def test_a_secret_in_conveyor_yaml_is_refused_naming_the_key(
    built: Path, tmp_path: Path, store: str, key: str
) -> None:
    project = copy_project(built, tmp_path / "p", CONFIG + store + "\n")
    # The exporting shell reaches the database through the environment, as in CI.
    database = {"CONVEYOR_METADATA_URL": f"sqlite:///{project}/.conveyor/conveyor.db"}
    with (
        Workspace.open(project, actor="alice", env=database, search_parents=False) as ws,
        pytest.raises(SecretInConfigError, match=re.escape(key)) as caught,
    ):
        export_k8s(ws, "staging", project / "out", image=IMAGE)
    assert "Secret" in (caught.value.hint or "")
    assert not (project / "out").exists()


def test_training_jobs_go_to_spot_capacity_when_configured(built: Path, tmp_path: Path) -> None:
    job = load(export(copy_project(built, tmp_path / "spot")), "training-job.yaml")
    pod = job["spec"]["template"]["spec"]
    assert containers(job)[0]["args"][0] == "ci"
    assert {"effect": "NoSchedule", "key": "cloud.google.com/gke-spot", "operator": "Equal",
            "value": "true"} in pod["tolerations"]  # fmt: skip
    preferred = pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    keys = {t["preference"]["matchExpressions"][0]["key"] for t in preferred}
    assert {"eks.amazonaws.com/capacityType", "kubernetes.azure.com/scalesetpriority"} <= keys
    on_demand = copy_project(built, tmp_path / "od", CONFIG.replace("spot: true", "spot: false"))
    pod = load(export(on_demand), "training-job.yaml")["spec"]["template"]["spec"]
    assert "tolerations" not in pod
    assert "affinity" not in pod
    untrained = copy_project(
        built, tmp_path / "nt", CONFIG.replace('pipelines: {training: "pipelines:training"}\n', "")
    )
    assert not (export(untrained) / "training-job.yaml").exists()


def test_reexport_is_identical_and_replaces_only_its_own_files(project: Path) -> None:
    out = export(project)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "old-generated.yaml").write_text("# Generated by conveyor export k8s; x\n")
    export(project)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first  # stale file removed
    (out / "overlay-notes.md").write_text("mine\n")
    (out / "configmap.yaml").write_text("edited by hand\n")
    with pytest.raises(OutputNotOwnedError, match=r"configmap\.yaml, overlay-notes\.md"):
        export(project)
    assert (out / "overlay-notes.md").read_text() == "mine\n"
    assert (out / "configmap.yaml").read_text() == "edited by hand\n"


def test_an_unknown_environment_is_refused(project: Path) -> None:
    with pytest.raises(EnvironmentNotFoundError, match=r"'prod'.*empty, production, staging"):
        export(project, "prod")


def test_an_environment_without_a_deployment_points_to_conveyor_deploy(project: Path) -> None:
    with pytest.raises(NoDeploymentError, match="'empty' has no deployment") as caught:
        export(project, "empty")
    assert "conveyor deploy NAME@VERSION --env empty" in (caught.value.hint or "")


def test_names_that_are_not_kubernetes_names_are_mapped(built: Path, tmp_path: Path) -> None:
    config = CONFIG.replace("name: shop", "name: Shop_Main").replace("  empty:", "  EU.Prod_1:")
    project = copy_project(built, tmp_path / "p", config)
    with open_ws(project) as ws:
        Controller(ws).deploy("churn@1", "EU.Prod_1")
    out = export(project, "EU.Prod_1")
    files = [p.name for p in out.glob("*.yaml") if p.name != "kustomization.yaml"]
    metadata = [load(out, name)["metadata"] for name in files]
    names = [m.get("name") or m["generateName"] + "x" for m in metadata]
    assert len(names) == 10
    assert all(RFC1035.fullmatch(n) for n in names), names
    deployment = load(out, "predictor-deployment.yaml")
    assert re.fullmatch(
        r"shop-main-[0-9a-f]{8}-eu-prod-1-[0-9a-f]{8}", deployment["metadata"]["name"]
    )
    assert containers(deployment)[0]["args"][:3] == ["serve", "--env", "EU.Prod_1"]


def test_the_cli_exports_and_reports_files_as_json(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    args = ["export", "k8s", "--env", "production", "-o", "deploy", "--image", IMAGE, "--json"]
    assert main(args) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["environment"] == "production"
    assert sorted(Path(f).name for f in shown["files"]) == sorted(
        p.name for p in (project / "deploy").iterdir()
    )
    deployment = load(project / "deploy", "predictor-deployment.yaml")
    assert deployment["metadata"]["name"] == "shop-production"
    assert main(["export", "kserve", "--env", "staging", "-o", "isvc.yaml", "--image", IMAGE,
                 "--scale-to-zero"]) == 0  # fmt: skip
    assert load(project, "isvc.yaml")["spec"]["predictor"]["minReplicas"] == 0
    capsys.readouterr()
    assert main(["export", "k8s", "--env", "empty", "-o", "x", "--image", IMAGE]) == 1
    err = capsys.readouterr().err
    assert "'empty' has no deployment" in err
    assert "conveyor deploy NAME@VERSION --env empty" in err
    assert not (project / "x").exists()
