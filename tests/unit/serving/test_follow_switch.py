"""Workers switch deployment revisions together: a staged revision takes over once its
gate opens, the switchboard opens it when all workers are ready (or lets a ready one go
alone after the timeout), a worker whose follower never wakes up still switches on its
next request, and nothing is staged when the revision did not change."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conveyor.deployments import Deployment, Variant
from conveyor.serving import (
    InputColumn,
    ModelHost,
    NotReadyError,
    RouteRequest,
    ServedModel,
)
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


def _polling(follower: DeploymentFollower, folder: Path, revision: int) -> threading.Thread:
    """``follower.poll()`` in a thread, once it has said it is ready for ``revision``."""
    thread = threading.Thread(target=follower.poll)
    thread.start()
    while not list(folder.glob(f"production-r{revision}.ready.*")):
        time.sleep(0.005)
    return thread


def test_a_staged_revision_serves_once_its_gate_opens_and_not_before() -> None:
    host = ModelHost()
    host.serve_deployment(_deployment(1, 1), {"champion": _load("churn", 1)})
    gate = threading.Event()
    host.stage_deployment(_deployment(2, 2), {"champion": _load("churn", 2)}, gate.is_set)
    assert _served(host) == 1
    assert host.state.deployment is not None
    assert host.state.deployment.revision == 1
    assert host.staged is not None
    assert host.staged.revision == 2
    assert not host.adopt_staged()
    gate.set()
    assert _served(host) == 2
    assert host.staged is None


def test_all_workers_switch_once_all_are_ready(tmp_path: Path) -> None:
    boards = [SwitchBoard(tmp_path, 3, timeout_s=60) for _ in range(3)]
    switched_early: list[bool] = []
    agreed: list[bool] = []

    def worker(board: SwitchBoard, delay: float) -> None:
        time.sleep(delay)
        switched_early.append(board.switched("production", 7))
        agreed.append(board.agree("production", 7))

    threads = [
        threading.Thread(target=worker, args=(board, 0.05 * i)) for i, board in enumerate(boards)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert agreed == [True, True, True]
    assert switched_early == [False, False, False]  # nobody switched before the last was ready
    assert all(board.switched("production", 7) for board in boards)
    assert len(list(tmp_path.glob("production-r7.ready.*"))) == 3
    assert len(list(tmp_path.glob("production-r7.switch*"))) == 1  # one file, no drafts left


def test_a_ready_worker_switches_alone_after_the_timeout_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alone = SwitchBoard(tmp_path, 2, timeout_s=0.05)
    with caplog.at_level(logging.WARNING, logger="conveyor.serving"):
        assert alone.agree("production", 3)
    assert "only 1 of 2 workers" in caplog.text
    late = SwitchBoard(tmp_path, 2, timeout_s=60)
    assert late.switched("production", 3)  # the late worker switches at once when ready
    assert late.agree("production", 3)


def test_a_worker_stopping_while_it_waits_publishes_nothing(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    assert not SwitchBoard(tmp_path, 2, timeout_s=60).agree("production", 4, stop)
    assert not SwitchBoard(tmp_path, 2).switched("production", 4)


def test_a_worker_whose_follower_lags_switches_on_its_next_request(tmp_path: Path) -> None:
    """The defect this design fixes: the other worker switched, this one's follower thread
    had not yet woken up, and its requests kept getting the old revision. Now the request
    itself finds the switch file."""
    lagging = ModelHost()
    lagging.serve_deployment(_deployment(1, 1), {"champion": _load("churn", 1)})
    board = SwitchBoard(tmp_path, 2, timeout_s=60)
    gate = board.gate("production", 2)
    lagging.stage_deployment(_deployment(2, 2), {"champion": _load("churn", 2)}, gate)
    (tmp_path / f"production-r2.ready.{'lagging'}").touch()  # this worker said it is ready
    assert _served(lagging) == 1
    assert SwitchBoard(tmp_path, 2, timeout_s=60).agree("production", 2)  # the other one
    assert _served(lagging) == 2  # no follower call in between


def test_the_follower_stages_a_new_revision_until_every_worker_is_ready(tmp_path: Path) -> None:
    current = [_deployment(1, 1)]
    host = ModelHost()
    board = SwitchBoard(tmp_path, 2, timeout_s=0.2)
    follower = DeploymentFollower(host, "production", lambda: current[0], _load, switch=board)
    assert follower.poll()  # the first revision too: alone after the timeout
    assert _served(host) == 1
    current[0] = _deployment(2, 2)
    seen: list[int] = []
    waiting = _polling(follower, tmp_path, 2)
    seen.append(_served(host))  # ready, the other worker is not: the old revision answers
    waiting.join(30)
    assert seen == [1]
    assert _served(host) == 2  # the other never came: after the timeout it went alone
    assert follower.applied is not None
    assert follower.applied.revision == 2


def test_nothing_is_staged_or_written_when_the_revision_did_not_change(tmp_path: Path) -> None:
    current = [_deployment(1, 1)]
    host = ModelHost()
    follower = DeploymentFollower(
        host, "production", lambda: current[0], _load, switch=SwitchBoard(tmp_path, 2)
    )
    agreed = _polling(follower, tmp_path, 1)
    (tmp_path / "production-r1.ready.other").touch()  # the other worker loaded it too
    agreed.join(30)
    files = sorted(tmp_path.iterdir())
    assert not follower.poll()
    assert not follower.poll()
    assert host.staged is None
    assert _served(host) == 1
    assert sorted(tmp_path.iterdir()) == files


def test_a_worker_starting_after_a_new_deploy_waits_for_the_others(tmp_path: Path) -> None:
    """The defect seen under load: one worker was still starting when revision 2 was
    deployed; its first poll found revision 2 and served it at once, while the other
    worker kept answering with revision 1 until it had loaded revision 2 as well."""
    current = [_deployment(1, 1)]
    early_host, late_host = ModelHost(), ModelHost()
    early = DeploymentFollower(
        early_host,
        "production",
        lambda: current[0],
        _load,
        switch=SwitchBoard(tmp_path, 2, timeout_s=0.05),  # the first revision goes alone
    )
    assert early.poll()
    assert _served(early_host) == 1
    current[0] = _deployment(2, 2)
    early.switch = SwitchBoard(tmp_path, 2, timeout_s=60)
    late = DeploymentFollower(
        late_host, "production", lambda: current[0], _load, switch=SwitchBoard(tmp_path, 2)
    )
    starting = _polling(late, tmp_path, 2)
    with pytest.raises(NotReadyError):  # loaded, but the other worker is not ready
        _served(late_host)
    assert not late_host.ready
    assert _served(early_host) == 1
    assert early.poll()  # the early worker loads revision 2: both switch
    starting.join(30)
    assert (_served(early_host), _served(late_host)) == (2, 2)
    assert late_host.ready


def test_workers_starting_together_serve_the_first_revision_once_all_loaded(
    tmp_path: Path,
) -> None:
    hosts = [ModelHost(), ModelHost()]
    current = _deployment(1, 1)
    followers = [
        DeploymentFollower(
            host, "production", lambda: current, _load, switch=SwitchBoard(tmp_path, 2)
        )
        for host in hosts
    ]
    first = _polling(followers[0], tmp_path, 1)
    assert not hosts[0].ready  # staged, waiting for the other worker
    assert followers[1].poll()
    first.join(30)
    assert [_served(host) for host in hosts] == [1, 1]


def test_a_worker_that_exited_after_saying_it_was_ready_is_not_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn replaces a worker that dies: the dead one's ready marker stays in the folder
    and must not stand in for a live worker that has not loaded the revision yet."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    (tmp_path / f"production-r5.ready.{dead.stdout.strip()}-deadbeef").touch()
    (tmp_path / f"production-r5.ready.{'9' * 40}-toolarge").touch()  # no process has it
    board = SwitchBoard(tmp_path, 2, timeout_s=0.3)
    with caplog.at_level(logging.WARNING, logger="conveyor.serving"):
        assert board.agree("production", 5)
    assert "only 1 of 2 workers" in caplog.text  # waited for a live one, then went alone
    (tmp_path / f"production-r6.ready.{os.getpid()}-alive000").touch()  # a live process
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="conveyor.serving"):
        assert SwitchBoard(tmp_path, 2, timeout_s=30).agree("production", 6)
    assert caplog.text == ""  # both ready: switched together at once
