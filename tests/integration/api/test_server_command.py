"""``conveyor server`` as a real process: it answers with a token, SIGTERM stops it with
exit 0 and it starts again on the same port, workers answer, audit checkpoints are signed
while it runs and at shutdown, and exposures it cannot answer for are refused at start."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conveyor.api._launch import check_exposure
from conveyor.errors import ConfigError
from conveyor.security import SqlTokenRecords, Tokens
from conveyor.store import AuditVerification, audit_public_key_text, load_audit_public_key
from conveyor.workspace import Workspace
from server_support import free_port

CONFIG = "project: {name: team-server}\n"


def _conveyor(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=root,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _admin_token(root: Path, name: str = "root") -> str:
    done = _conveyor(root, "tokens", "create", name, "--role", "admin", "--json")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["secret"])


class Running:
    """A ``conveyor server`` process with its output in files (no pipe to fill up)."""

    def __init__(self, root: Path, port: int, *args: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = root / f"server-{port}-{time.monotonic_ns()}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "conveyor", "server", "--port", str(port), *args],
                cwd=root,
                env={**os.environ, "COLUMNS": "200"},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers too can be found (and killed) by group
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + 180  # generous: worker processes import on a busy machine
        while True:
            assert self.process.poll() is None, f"server exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server never became healthy:\n{self.output()}"
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM to the server, then its exit code once it and its workers are gone."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"server did not stop on SIGTERM:\n{self.output()}")
        deadline = time.monotonic() + 30
        while self._group_alive():  # the workers stop with it, none is left behind
            assert time.monotonic() < deadline, "a worker outlived the server"
            time.sleep(0.05)
        return code

    def kill(self) -> None:
        """SIGKILL the server and every process it started."""
        if self._group_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(10)

    def _group_alive(self) -> bool:
        """Whether a process of the server's group still runs (zombies do not count)."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # ended while we looked
            if int(fields[2]) == self.process.pid and fields[0] != "Z":
                return True
        return False


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "conveyor.yaml").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def servers() -> Iterator[list[Running]]:
    """Every server a test starts; any still running at the end is killed."""
    started: list[Running] = []
    yield started
    for server in started:
        server.kill()


def _whoami(url: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{url}/api/v1/whoami", headers={"authorization": f"Bearer {token}"}, timeout=10
    )


@pytest.mark.slow
def test_serves_with_a_token_stops_on_sigterm_and_starts_again_on_the_same_port(
    project: Path, servers: list[Running]
) -> None:
    port = free_port()
    first = Running(project, port)
    servers.append(first)
    first.wait_healthy()
    # No admin token yet: the log says how to make the first one.
    assert first.stop() == 0
    assert "conveyor tokens create NAME --role admin" in first.output()

    token = _admin_token(project)
    second = Running(project, port)
    servers.append(second)
    second.wait_healthy()
    answer = _whoami(second.url, token)
    assert answer.status_code == 200
    assert answer.json() == {"name": "root", "role": "admin", "environments": []}
    assert _whoami(second.url, "not-a-token").status_code == 401
    assert httpx.get(f"{second.url}/api/v1/whoami", timeout=10).status_code == 401
    assert second.stop() == 0
    output = second.output()
    assert f"http://127.0.0.1:{port}" in output
    assert "--role admin" not in output  # an admin token exists now
    assert token not in output

    third = Running(project, port)  # a stopped server leaves the port free
    servers.append(third)
    third.wait_healthy()
    assert _whoami(third.url, token).json()["name"] == "root"
    assert third.stop() == 0


@pytest.mark.slow
def test_two_workers_answer_requests(project: Path, servers: list[Running]) -> None:
    token = _admin_token(project)
    server = Running(project, free_port(), "--workers", "2")
    servers.append(server)
    server.wait_healthy()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answers = [
            client.get(
                "/api/v1/whoami",
                # a new connection each time, so uvicorn may hand it to either worker
                headers={"authorization": f"Bearer {token}", "connection": "close"},
            )
            for _ in range(6)
        ]
    assert [a.status_code for a in answers] == [200] * 6
    assert {a.json()["name"] for a in answers} == {"root"}
    assert server.stop() == 0


def _key_pair(folder: Path) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private = folder / "audit.key"
    public = folder / "audit.pub"
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    private.write_text(base64.b64encode(raw).decode())
    public.write_text(audit_public_key_text(key))
    return private, public


def _checkpoints(project: Path, public: Path) -> AuditVerification:
    with Workspace.open(project, require_project=True) as ws:
        return ws.store.verify_audit([load_audit_public_key(public)])


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_signs_audit_checkpoints_while_running_and_at_shutdown(
    project: Path, servers: list[Running], workers: int
) -> None:
    _, public = _key_pair(project)
    (project / "conveyor.yaml").write_text(
        CONFIG + "server: {checkpoint_key_file: audit.key, checkpoint_interval_s: 0.2}\n"
    )
    with Workspace.open(project, require_project=True) as ws:  # an event to vouch for
        Tokens(SqlTokenRecords(ws.store)).create("first", "admin", actor=ws.actor)
    server = Running(project, free_port(), "--workers", str(workers))
    servers.append(server)
    server.wait_healthy()
    # Checkpoints appear while the server runs, not only when it stops.
    deadline = time.monotonic() + 60
    while (seen := _checkpoints(project, public)).checkpoints_checked == 0:
        assert seen.ok, seen.reason
        assert time.monotonic() < deadline, f"no checkpoint while running:\n{server.output()}"
        time.sleep(0.1)
    _admin_token(project, "second")  # a newer event, which only the last checkpoint covers
    assert server.stop() == 0

    done = _conveyor(project, "audit", "verify", "--public-key", str(public), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] is True
    assert result["signatures_checked"] is True
    assert result["checkpoints_checked"] >= 2
    assert result["checkpoint_seq"] == result["count"]  # the shutdown checkpoint: the head

    # The checkpoints are signed by the configured key and no other.
    (project / "other").mkdir()
    _, other_public = _key_pair(project / "other")
    refused = _checkpoints(project, other_public)
    assert not refused.ok
    assert "not among the given public keys" in str(refused.reason)


def test_a_non_loopback_host_is_refused_without_allowed_hosts(project: Path) -> None:
    port = free_port()
    done = _conveyor(project, "server", "--host", "0.0.0.0", "--port", str(port))
    assert done.returncode == 1
    assert "Refusing to serve the control plane on host '0.0.0.0'" in done.stderr
    assert "allowed_hosts" in done.stderr
    assert "hint:" in done.stderr
    assert "Traceback" not in done.stderr
    with socket.socket() as probe:  # nothing was left listening
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_exposure_needs_a_name_other_than_loopback_in_allowed_hosts() -> None:
    loopback = ("127.0.0.1", "localhost", "::1")
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_exposure(host, loopback)
    for host in ("0.0.0.0", "::", "10.1.2.3", "conveyor.example.com"):
        with pytest.raises(ConfigError, match=f"on host '{host}'"):
            check_exposure(host, loopback)
    check_exposure("0.0.0.0", (*loopback, "conveyor.example.com"))


def test_a_bad_checkpoint_key_file_is_refused_before_serving(project: Path) -> None:
    (project / "audit.key").write_text("not a key")
    (project / "conveyor.yaml").write_text(CONFIG + "server: {checkpoint_key_file: audit.key}\n")
    done = _conveyor(project, "server", "--port", str(free_port()))
    assert done.returncode == 1
    assert "audit.key" in done.stderr
    assert "not a key" not in done.stderr  # the key file's content is never shown


def test_a_taken_port_exits_6(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _conveyor(project, "server", "--port", str(port))
    assert done.returncode == 6
    assert f"Port {port}" in done.stderr


def test_outside_a_project_it_says_so(tmp_path: Path) -> None:
    done = _conveyor(tmp_path, "server", "--port", str(free_port()))
    assert done.returncode == 1
    assert "conveyor init" in done.stderr
