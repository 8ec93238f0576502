"""A prediction server starts without what only explanations or registration need.

Serving a scikit-learn classifier through its ONNX twin imports neither scikit-learn's
estimator discovery (what loading a skops file runs), nor torch, SHAP or plotly: the
native model's files are checked against their hashes and its class labels read from
the archive, nothing unpickled. The first ``/v1/explain`` then builds the explainer.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from serving_support import running, wait_ready

from conveyor.serving import ServingSettings
from conveyor.serving._launch import build_app
from conveyor.workspace import Workspace
from process_support import fresh_process_report
from server_support import (
    CANCER_COLUMNS,
    CANCER_ROW,
    conveyor_serve,
    free_port,
    register_cancer,
)

pytestmark = pytest.mark.slow

COLUMNS = CANCER_COLUMNS
ROW = CANCER_ROW
HEAVY = ("torch", "shap", "plotly", "sklearn", "sklearn.utils.discovery", "skops.io")

# Serves cancer@1 in this process, predicts once, explains once, and prints what was
# imported after each (a real uvicorn server on 127.0.0.1).
SCRIPT = """
import json, sys, threading, time
import httpx, uvicorn
from conveyor.serving._launch import build_app
from conveyor.workspace import Workspace

port = int(sys.argv[1])
ws = Workspace.open(".")
app = build_app(ws, "cancer@1", close_workspace=True)
server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
thread = threading.Thread(target=server.run, daemon=True)
thread.start()
row = json.loads(sys.argv[2])
with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
    while True:
        try:
            answer = client.post("/v1/predict", json={"rows": [row], "outputs": ["proba"]})
            if answer.status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    predicted = sorted(sys.modules)
    metadata = client.get("/v2/models/cancer/versions/1").json()
    explained = client.post("/v1/explain", json={"rows": [row]})
print(json.dumps({
    "predict": answer.json(),
    "modules_after_predict": predicted,
    "explain_before": metadata["parameters"]["explain"],
    "explain_status": explained.status_code,
    "explain": explained.json(),
    "modules_after_explain": sorted(sys.modules),
}))
server.should_exit = True
thread.join(30)
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding cancer@1 with its ONNX twin (shared: the tests only read it)."""
    return register_cancer(tmp_path_factory.mktemp("cold"))


def test_serving_the_onnx_twin_imports_no_estimator_discovery_torch_shap_or_plotly(
    project: Path,
) -> None:
    report = fresh_process_report(
        SCRIPT, str(free_port()), json.dumps(ROW), cwd=project, timeout=600
    )
    assert report["predict"]["version"] == 1
    assert report["predict"]["classes"] == [0, 1]  # labels read from the skops archive
    assert not set(HEAVY) & set(report["modules_after_predict"])
    # The explainer is built on the first /v1/explain, on the native model.
    assert report["explain_before"] == {"status": "on_request", "reason": None}
    assert report["explain_status"] == 200, report["explain"]
    assert set(report["explain"]["explanations"][0]) == set(COLUMNS)
    assert "shap" in report["modules_after_explain"]


@pytest.mark.parametrize("explainers", ["--lazy-explainers", "--prepare-explainers"])
def test_conveyor_serve_answers_and_reports_its_resident_memory(
    project: Path, explainers: str
) -> None:
    argv = ["-m", "cancer@1", explainers]
    with conveyor_serve(project, *argv) as served:
        status = Path(f"/proc/{served.process.pid}/status").read_text(encoding="ascii")
        metadata = served.client.get("/v2/models/cancer/versions/1").json()
    (line,) = [entry for entry in status.splitlines() if entry.startswith("VmRSS:")]
    rss_kib = int(line.split()[1])
    print(f"conveyor serve {explainers}: resident after the first prediction {rss_kib} KiB")
    assert served.first_answer.json()["predictions"] in ([0], [1])
    assert rss_kib > 0
    built = {"--lazy-explainers": "on_request", "--prepare-explainers": "ready"}[explainers]
    assert metadata["parameters"]["explain"]["status"] == built


def test_native_files_altered_after_start_are_refused_and_audited_on_the_first_explain(
    tmp_path: Path,
) -> None:
    root = register_cancer(tmp_path)
    with Workspace.open(root) as ws:
        app = build_app(ws, "cancer@1", settings=ServingSettings(log_predictions=False))
        with running(app) as url, httpx.Client(base_url=url, timeout=120) as client:
            assert wait_ready(client).status_code == 200
            files = ws.models.manifest("cancer@1")["files"]
            digest = str(max(files.values(), key=lambda entry: entry.get("size", 0))["hash"])
            stored = root / ".conveyor" / "artifacts" / "objects" / digest[:2] / digest[2:]
            stored.chmod(0o644)
            data = bytearray(stored.read_bytes())
            data[len(data) // 2] ^= 0x01  # the native model, checked at start, altered since
            stored.write_bytes(bytes(data))
            explained = client.post("/v1/explain", json={"rows": [ROW]})
            predicted = client.post("/v1/predict", json={"rows": [ROW]})
        events = [event.target for event in ws.audit_log(action="model.integrity_failed")]
    assert explained.status_code == 409, explained.text
    assert explained.json()["code"] == "explainer_unavailable"
    assert "hash" in explained.json()["reason"]
    assert predicted.status_code == 200  # the verified ONNX twin keeps answering
    assert events == ["model:cancer@1"]
