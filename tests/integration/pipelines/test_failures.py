"""Faults: a raising step, retries, and a killed run detected by heartbeat then resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipeline_project import Project

from conveyor.pipelines import PipelineFailedError
from conveyor.workspace import Workspace

BRANCHES = """
from __future__ import annotations
from pathlib import Path
from conveyor.pipelines import pipeline, step

CALLS = Path(__file__).parent / "calls.txt"
ATTEMPTS = Path(__file__).parent / "attempts.txt"


def note(name: str) -> None:
    with CALLS.open("a") as f:
        f.write(name + "\\n")


@step
def start() -> int:
    note("start")
    return 1


@step
def broken(x: int) -> int:
    note("broken")
    raise ValueError("bad input row 7")


@step
def after_broken(x: int) -> int:
    note("after_broken")
    return x


@step
def healthy(x: int) -> int:
    note("healthy")
    return x + 1


@step(retries=2)
def flaky(x: int) -> int:
    count = int(ATTEMPTS.read_text()) if ATTEMPTS.exists() else 0
    ATTEMPTS.write_text(str(count + 1))
    if count < 2:
        raise RuntimeError(f"transient failure {count + 1}")
    return x * 10


@pipeline
def branches() -> None:
    x = start()
    after_broken(broken(x))
    healthy(x)


@pipeline
def retrying() -> None:
    flaky(start())
"""


def test_raising_step_fails_the_run_skips_dependents_and_finishes_independent_branch(
    project: Project, ws: Workspace
) -> None:
    project.write("branches.py", BRANCHES)
    with pytest.raises(PipelineFailedError, match=r"failed in step\(s\) broken") as caught:
        project.load("branches.py:branches").run(ws)

    assert project.calls() == ["broken", "healthy", "start"]
    result = caught.value.result
    assert result.steps["broken"].status == "failed"
    assert result.steps["after_broken"].status == "skipped"
    assert result.steps["healthy"].status == "completed"
    run = ws.runs.get(caught.value.run_id)
    assert run.status == "failed"
    step_run = ws.runs.get(result.steps["broken"].run_id)
    assert step_run.status == "failed"
    assert "ValueError: bad input row 7" in (step_run.error or "")
    assert 'in broken\n    raise ValueError("bad input row 7")' in (step_run.error or "")
    # The one-line message names the cause, so an agent's or CI's log says what went wrong.
    assert str(caught.value).endswith("broken: ValueError: bad input row 7")
    assert ws.runs.get(result.steps["after_broken"].run_id).status == "skipped"


def test_a_step_failing_twice_then_succeeding_with_retries_2_completes(
    project: Project, ws: Workspace
) -> None:
    project.write("branches.py", BRANCHES)
    result = project.load("branches.py:retrying").run(ws)
    assert result.steps["flaky"].status == "completed"
    assert result.steps["flaky"].attempts == 3
    assert result.output("flaky") == 10


def test_a_step_failing_more_than_its_retries_reports_the_last_attempt(
    project: Project, ws: Workspace
) -> None:
    project.write("branches.py", BRANCHES.replace("retries=2", "retries=1"))
    with pytest.raises(PipelineFailedError, match="flaky") as caught:
        project.load("branches.py:retrying").run(ws)
    error = caught.value.result.steps["flaky"].error
    assert error.startswith("attempt 2 of 2")
    assert "RuntimeError: transient failure 2" in error


SLOW = """
from __future__ import annotations
import time
from pathlib import Path
from conveyor.pipelines import pipeline, step

HERE = Path(__file__).parent


def note(name: str) -> None:
    with (HERE / "calls.txt").open("a") as f:
        f.write(name + "\\n")


@step
def first() -> int:
    note("first")
    return 1


@step
def slow(x: int) -> int:
    note("slow")
    if not (HERE / "fast.flag").exists():
        (HERE / "slow.started").write_text("yes")
        time.sleep(60)
    return x + 1


@step
def last(x: int) -> int:
    note("last")
    return x * 2


@pipeline
def slowflow() -> None:
    last(slow(first()))
"""


def _conveyor(root: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "conveyor", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_killed_run_is_reaped_as_failed_and_resume_reruns_only_unfinished_steps(
    project: Project,
) -> None:
    project.write("slowflow.py", SLOW)
    env = {**os.environ, "CONVEYOR_HEARTBEAT_TIMEOUT_S": "1"}
    proc = _conveyor(project.root, "run", "slowflow.py:slowflow", env=env)
    deadline = time.monotonic() + 60
    while not (project.root / "slow.started").exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert project.calls() == ["first", "slow"]
    time.sleep(1.5)  # past the heartbeat timeout

    with project.open() as ws:
        run_id = ws.runs.list(kind="pipeline")[0].id
        assert ws.runs.reap_stale(1.0) or ws.runs.get(run_id).status == "failed"
        killed = ws.runs.get(run_id)
    assert killed.status == "failed"
    assert "process died: no heartbeat" in (killed.error or "")

    (project.root / "fast.flag").write_text("yes")
    resumed = _conveyor(project.root, "run", "slowflow.py:slowflow", "--resume", run_id, env=env)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    assert run_id in out.decode()
    assert project.calls() == ["last", "slow"]
    with project.open() as ws:
        run = ws.runs.get(run_id)
        assert run.status == "completed"
        done = [c for c in ws.runs.children(run_id) if c.status == "completed"]
        assert sorted(c.name for c in done) == ["first", "last", "slow"]
        assert any(e.action == "run.resume" for e in ws.audit_log(target=f"run:{run_id}"))
