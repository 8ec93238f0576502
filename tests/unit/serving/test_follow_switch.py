"""Workers switch deployment revisions together: a staged revision takes over at one
agreed instant, the switchboard agrees on it when all workers are ready (or lets a ready
one go alone after the timeout), and nothing is staged when the revision did not change."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conveyor.deployments import Deployment, Variant
from conveyor.serving import InputColumn, ModelHost, RouteRequest, ServedModel
from conveyor.serving._follow import DeploymentFollower, SwitchBoard


class Constant:
    """Predicts its version number for every row."""

    def __init__(self, value: int) -> None:
        self.value = value

    def predict(self, frame: Any) -> Any:
        return [self.value] * len(frame)


def _load(name: str, version: int) -> ServedModel:
    return ServedModel(name, version, Constant(version), (InputColumn("a", "double"),))


def _deployment(revision: int, version: int) -> Deployment:
    variant = Variant("churn", version, "champion", 100)
    return Deployment("production", revision, "replace", "stable", (variant,))


def _served(host: ModelHost) -> int:
    return host.route(RouteRequest(None, None, "rid")).version


def test_a_staged_revision_serves_from_its_instant_and_not_before() -> None:
    host = ModelHost()
    host.serve_deployment(_deployment(1, 1), {"champion": _load("churn", 1)})
    host.stage_deployment(_deployment(2, 2), {"champion": _load("churn", 2)}, time.time() + 3600)
    assert _served(host) == 1
    assert host.state.deployment is not None
    assert host.state.deployment.revision == 1
    host.stage_deployment(_deployment(2, 2), {"champion": _load("churn", 2)}, time.time() - 1)
    assert _served(host) == 2
    assert host.staged_at is None


def test_all_workers_get_the_same_instant_once_all_are_ready(tmp_path: Path) -> None:
    boards = [SwitchBoard(tmp_path, 3, lead_s=0.2, timeout_s=60) for _ in range(3)]
    agreed: list[float] = []

    def worker(board: SwitchBoard, delay: float) -> None:
        time.sleep(delay)
        agreed.append(board.agree("production", 7))

    threads = [
        threading.Thread(target=worker, args=(board, 0.05 * i)) for i, board in enumerate(boards)
    ]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(agreed) == 3
    assert len(set(agreed)) == 1  # one instant for everyone
    assert agreed[0] > started  # set after the last worker was ready, ahead of it
    assert len(list(tmp_path.glob("production-r7.ready.*"))) == 3


def test_a_ready_worker_switches_alone_after_the_timeout_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alone = SwitchBoard(tmp_path, 2, timeout_s=0.05)
    with caplog.at_level(logging.WARNING, logger="conveyor.serving"):
        at = alone.agree("production", 3)
    assert "only 1 of 2 workers" in caplog.text
    late = SwitchBoard(tmp_path, 2, timeout_s=60).agree("production", 3)
    assert late == at  # the late worker takes the instant already agreed: at once


def test_the_follower_stages_a_new_revision_for_the_agreed_instant(tmp_path: Path) -> None:
    current = [_deployment(1, 1)]
    host = ModelHost()
    board = SwitchBoard(tmp_path, 1, lead_s=3600)
    follower = DeploymentFollower(host, "production", lambda: current[0], _load, switch=board)
    assert follower.poll()  # the first revision is served at once
    assert _served(host) == 1
    current[0] = _deployment(2, 2)
    assert follower.poll()
    assert _served(host) == 1  # staged an hour ahead: the old revision still answers
    staged = host.staged_at
    assert staged is not None
    assert staged == float((tmp_path / "production-r2.switch").read_text(encoding="ascii"))


def test_nothing_is_staged_or_written_when_the_revision_did_not_change(tmp_path: Path) -> None:
    current = [_deployment(1, 1)]
    host = ModelHost()
    follower = DeploymentFollower(
        host, "production", lambda: current[0], _load, switch=SwitchBoard(tmp_path, 2)
    )
    assert follower.poll()
    assert not follower.poll()
    assert not follower.poll()
    assert host.staged_at is None
    assert _served(host) == 1
    assert list(tmp_path.iterdir()) == []
