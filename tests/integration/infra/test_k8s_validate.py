"""The exported manifests are valid Kubernetes, offline: each one against the schemas of a
recent Kubernetes release in strict mode (``kubernetes-validate``: unknown fields fail),
the base builds with ``kubectl kustomize``, and the InferenceService matches the KServe
SDK's models (in a cached virtualenv of its own: the SDK needs pandas < 3)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.infra._k8s import TRAINING_JOB, export_k8s
from conveyor.infra._kserve import export_kserve
from k8s_project import IMAGE, build_project, open_ws

kubernetes_validate = pytest.importorskip("kubernetes_validate")

KSERVE = "kserve==0.21.0"
VENV = Path.home() / ".cache" / "conveyor-tests" / "venvs" / "kserve"
CHECK = Path(__file__).with_name("kserve_schema_check.py")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = build_project(tmp_path_factory.mktemp("validate") / "shop")
    with open_ws(root) as ws:
        out = {env: root / f"k8s-{env}" for env in ("staging", "production")}
        for env, folder in out.items():
            export_k8s(ws, env, folder, image=IMAGE)
        export_kserve(ws, "staging", root / "isvc-staging.yaml", image=IMAGE)
        export_kserve(ws, "production", root / "isvc-production.yaml", image=IMAGE,
                      scale_to_zero=True)  # fmt: skip
    return {**out, "root": root}


def manifests(folder: Path) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    return docs


@pytest.mark.parametrize("env", ["staging", "production"])
def test_every_manifest_validates_strictly_against_recent_kubernetes(
    exported: dict[str, Path], env: str
) -> None:
    version = kubernetes_validate.latest_version()
    docs = manifests(exported[env])
    assert len(docs) == 10  # nine in the base and the training Job
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_rejects_an_unknown_field(exported: dict[str, Path]) -> None:
    """The check above would catch a misspelt field (strict mode is on)."""
    deployment = yaml.safe_load((exported["staging"] / "predictor-deployment.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFilesystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError, match="readOnlyRootFilesystem"):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_base_builds_with_kubectl_kustomize(exported: dict[str, Path]) -> None:
    folder = exported["staging"]
    built = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    assert TRAINING_JOB not in listed
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in manifests(folder) if d["kind"] != "Job"
    )
    for doc in docs:
        assert doc["metadata"]["namespace"] == "ml"
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "shop"


def _kserve_python() -> Path:
    """The cached virtualenv with the KServe SDK, made once (a file lock guards it)."""
    python = VENV / "bin" / "python"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with (VENV.parent / "kserve.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = VENV / ".installed"
        if not marker.exists():
            shutil.rmtree(VENV, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=120)
            pip = subprocess.run(
                [str(python), "-m", "pip", "install", "-q", KSERVE],
                capture_output=True, text=True, timeout=900, check=False,
                env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            )  # fmt: skip
            if pip.returncode != 0:
                pytest.skip(f"cannot install {KSERVE}: {pip.stderr[-500:]}")
            marker.write_text(KSERVE + "\n")
    return python


@pytest.mark.slow
def test_the_inference_services_match_the_kserve_sdk_models(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    python = _kserve_python()
    root = exported["root"]
    files = [root / "isvc-staging.yaml", root / "isvc-production.yaml"]
    broken = yaml.safe_load(files[0].read_text())
    broken["spec"]["predictor"]["canaryTraficPercent"] = broken["spec"]["predictor"].pop(
        "canaryTrafficPercent"
    )
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    ran = subprocess.run(
        [str(python), str(CHECK), *map(str, files)], capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.count(": ok") == 2
    refused = subprocess.run(
        [str(python), str(CHECK), str(tmp_path / "broken.yaml")], capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "unknown field 'canaryTraficPercent'" in refused.stdout
