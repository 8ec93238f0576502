"""A version is ready only when every artifact it will serve verified: the native files and
the ONNX twin, at serve time and before a deployment; integrity failures are audited, and
``conveyor serve`` exits 3 on tampering and 6 on a busy port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from conveyor.rollout import check_ready
from conveyor.rollout._errors import VersionNotReadyError
from conveyor.serving import ServingSettings
from conveyor.serving._launch import build_app
from conveyor.serving._tempdirs import MARKER, reap_stale_folders
from conveyor.workspace import Workspace
from server_support import CANCER_ROW, cli_env, free_port, register_cancer, serve_app

pytestmark = pytest.mark.slow

ROW = CANCER_ROW


def _cli(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
    )


@contextmanager
def _running(ws: Workspace) -> Iterator[httpx.Client]:
    """The workspace's server for cancer@1 on 127.0.0.1 (not waited for: readiness is tested)."""
    app = build_app(ws, "cancer@1", settings=ServingSettings())
    with serve_app(app) as (url, _), httpx.Client(base_url=url, timeout=20) as client:
        yield client


def _settled_readiness(client: httpx.Client) -> httpx.Response:
    deadline = time.monotonic() + 120
    while True:
        answer = client.get("/v2/health/ready")
        if answer.status_code == 200 or "error" in answer.json() or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project holding cancer@1 (real data) with an ONNX twin that passed parity."""
    return register_cancer(tmp_path)


def _flip_byte(ws: Workspace, digest: str) -> None:
    stored = ws.root / ".conveyor" / "artifacts" / "objects" / digest[:2] / digest[2:]
    stored.chmod(0o644)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))


def _native_digest(ws: Workspace) -> str:
    files = ws.models.manifest("cancer@1")["files"]
    return str(max(files.values(), key=lambda entry: entry.get("size", 0))["hash"])


def _onnx_digest(ws: Workspace) -> str:
    (entry,) = ws.models.manifest("cancer@1")["onnx"]["files"].values()
    return str(entry["hash"])


def _integrity_events(ws: Workspace) -> list[str]:
    return [event.target for event in ws.audit_log(action="model.integrity_failed")]


@pytest.mark.parametrize("tampered", ["native", "onnx"])
def test_a_flipped_byte_in_any_served_file_keeps_the_server_unready_and_is_audited(
    project: Path, tampered: str
) -> None:
    with Workspace.open(project) as ws:
        _flip_byte(ws, _native_digest(ws) if tampered == "native" else _onnx_digest(ws))
        with _running(ws) as client:
            ready = _settled_readiness(client)
            predict = client.post("/v1/predict", json={"rows": [ROW]})
        assert ready.status_code == 503
        assert "does not match its recorded hash" in ready.json()["error"]
        assert predict.status_code == 503  # never answered from the intact twin
        assert _integrity_events(ws) == ["model:cancer@1"]


def test_an_intact_version_turns_ready_and_audits_nothing(project: Path) -> None:
    with Workspace.open(project) as ws:
        with _running(ws) as client:
            assert _settled_readiness(client).status_code == 200
            answer = client.post("/v1/predict", json={"rows": [ROW]})
        assert answer.status_code == 200
        assert answer.headers["x-conveyor-model-version"] == "cancer@1"
        check_ready(ws, "cancer@1")  # the pre-deploy check passes too
        assert _integrity_events(ws) == []
    leftovers = list(Path(tempfile.gettempdir()).glob(f"conveyor-cancer-1-*/{MARKER}"))
    mine = [p for p in leftovers if p.read_text().strip() == str(os.getpid())]
    assert mine == []  # the server removed its model folders when it stopped


def test_the_pre_deploy_check_loads_the_onnx_twin_the_server_will_serve(project: Path) -> None:
    with Workspace.open(project) as ws:
        _flip_byte(ws, _onnx_digest(ws))
        with pytest.raises(VersionNotReadyError, match="does not match its recorded hash") as err:
            check_ready(ws, "cancer@1")
        assert err.value.exit_code == 3
        assert _integrity_events(ws) == ["model:cancer@1"]


def test_conveyor_serve_exits_3_on_a_tampered_version_before_serving(project: Path) -> None:
    with Workspace.open(project) as ws:
        _flip_byte(ws, _native_digest(ws))
    proc = _cli(project, "serve", "--model", "cancer@1", "--port", str(free_port()))
    assert proc.returncode == 3, proc.stderr
    assert "does not match its recorded hash" in proc.stderr
    assert "Serving" not in proc.stdout
    with Workspace.open(project) as ws:
        assert _integrity_events(ws) == ["model:cancer@1"]


def test_conveyor_serve_on_a_busy_port_says_so_in_one_line_and_exits_6(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _cli(project, "serve", "--model", "cancer@1", "--port", str(port))
    assert proc.returncode == 6, proc.stderr
    assert f"Port {port} on 127.0.0.1 is already in use" in proc.stderr
    assert "Errno" not in proc.stderr
    assert "Serving" not in proc.stdout


def test_stale_model_folders_are_reaped_and_live_ones_kept(tmp_path: Path) -> None:
    code = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    stale = tmp_path / "conveyor-churn-3-abcd1234"
    live = tmp_path / "conveyor-churn-4-efgh5678"
    fresh = tmp_path / "conveyor-churn-5-ijkl9012"  # unmarked and new: another command's
    other = tmp_path / "conveyor-notes"  # not a model folder
    for folder in (stale, live, fresh, other):
        folder.mkdir()
    (stale / MARKER).write_text(dead.stdout.strip())
    (live / MARKER).write_text(str(os.getpid()))
    assert reap_stale_folders(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, fresh.name, other.name])
    assert reap_stale_folders(tmp_path, now=time.time() + 2 * 86400) == 1  # fresh is a day old
    assert not fresh.exists()
    assert live.exists()
    assert other.exists()


def test_conveyor_deploy_of_a_tampered_onnx_twin_exits_3_and_records_nothing(
    project: Path,
) -> None:
    with Workspace.open(project) as ws:
        _flip_byte(ws, _onnx_digest(ws))
    proc = _cli(project, "deploy", "cancer@1", "--env", "staging")
    assert proc.returncode == 3, proc.stderr
    assert "does not match its recorded hash" in proc.stderr
    with Workspace.open(project) as ws:
        assert ws.deployments.current("staging") is None  # never recorded as serving
        assert _integrity_events(ws) == ["model:cancer@1"]
