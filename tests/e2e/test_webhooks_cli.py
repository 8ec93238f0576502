"""Signed webhooks from a real `conveyor deploy` process reach a receiver on 127.0.0.1.

The signing secret lives only in the environment of the command (``secret_env``); the
receiver verifies the HMAC of each body. A receiver that is down makes the command record
``notify.failed`` before it exits, with the endpoint's URL redacted.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.workspace import Workspace
from webhook_receiver import WebhookReceiver

SECRET = "whsec-7Hq2vXpL0"
URL_PASSWORD = "urlpass-Zt81"
URL_TOKEN = "qtoken-Kd55"


@pytest.fixture
def receiver() -> Iterator[tuple[int, WebhookReceiver]]:
    with WebhookReceiver(SECRET) as hook:
        yield hook.port, hook


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _project(root: Path, port: int) -> Path:
    url = f"http://hooks:{URL_PASSWORD}@127.0.0.1:{port}/hook?token={URL_TOKEN}"
    (root / "conveyor.yaml").write_text(
        f"""
project: {{name: hooks-e2e}}
environments:
  staging: {{strategy: replace}}
webhooks:
  allowed_hosts: [127.0.0.1]
  max_attempts: 2
  timeout_s: 2
  endpoints:
    - {{url: "{url}", secret_env: HOOK_SECRET, events: ["deploy.*"]}}
""",
        encoding="utf-8",
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.uniform(18, 80, 60), "spend": rng.uniform(0, 100, 60)})
    model = LogisticRegression().fit(frame, (frame["spend"] > 50).astype(int))
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.models.register("churn", model, input_example=frame.head(3), explain=False, onnx=False)
    return root


def _conveyor(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_ACTOR="release-manager", HOOK_SECRET=SECRET, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_conveyor_deploy_posts_a_signed_webhook_before_it_exits(
    tmp_path: Path, receiver: tuple[int, WebhookReceiver]
) -> None:
    port, handler = receiver
    root = _project(tmp_path, port)
    proc = _conveyor(root, "deploy", "churn@1", "--env", "staging")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = [r for r in handler.received if r["event"].startswith("deploy.")]
    assert events, "the deploy transition was never delivered"
    assert all(r["valid"] for r in events), "a body's signature did not verify"
    assert events[0]["body"]["event"].startswith("deploy.")
    audit = _conveyor(root, "audit", "log", "--json")
    assert "notify.failed" not in audit.stdout


@pytest.mark.slow
def test_an_unreachable_receiver_is_recorded_as_notify_failed_without_the_secrets(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path, _free_port())  # nothing listens there
    proc = _conveyor(root, "deploy", "churn@1", "--env", "staging")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    audit = _conveyor(root, "audit", "log", "--json", "--action", "notify.failed")
    assert audit.returncode == 0, audit.stderr
    failed = json.loads(audit.stdout)
    assert len(failed) == 1
    assert failed[0]["details"]["event"].startswith("deploy.")
    assert failed[0]["details"]["url"].startswith("http://hooks:***@127.0.0.1:")
    for output in (proc.stdout, proc.stderr, audit.stdout, audit.stderr):
        for secret in (SECRET, URL_PASSWORD, URL_TOKEN):
            assert secret not in output
