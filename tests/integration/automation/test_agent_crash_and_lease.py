"""Crash safety and the lease, with real agent processes.

An agent killed (``os._exit(9)`` from its ``on_step`` hook, as ``kill -9``) at each step,
then restarted, finishes the job once; two agents started together on SQLite and
PostgreSQL: only one acts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from automation_support import Clock, counts, make_agent, make_project, points

from conveyor.workspace import Workspace

SUPPORT = str(Path(__file__).with_name("automation_support.py"))
TESTS = str(Path(__file__).resolve().parents[2])


def _armed_project(root: Path, metadata_url: str | None = None) -> Path:
    """A project whose trigger has seen points@1 and now has points@2 to act on."""
    make_project(root, metadata_url=metadata_url)
    with Workspace.open(root) as ws:
        agent = make_agent(ws, clock=Clock())
        assert agent.run_once().fired == ()
        agent.lease.release()
        ws.datasets.add("points", points(seed=1))
    return root


def _agent(root: Path, *, crash_at: str | None = None, ttl_s: float = 1.0) -> subprocess.Popen[str]:
    env = dict(os.environ)
    # The support script imports the shared test project module from tests/.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")]))
    crash = [] if crash_at is None else [crash_at]
    return subprocess.Popen(
        [sys.executable, SUPPORT, str(root), str(ttl_s), "20", *crash],
        env=env,
        cwd=str(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("step", ["fired", "run_started", "trained", "registered", "deployed"])
def test_agent_killed_at_a_step_and_restarted_finishes_the_job_once(
    tmp_path: Path, step: str
) -> None:
    root = _armed_project(tmp_path / "proj")
    killed = _agent(root, crash_at=step)
    _, err = killed.communicate(timeout=120)
    assert killed.returncode == 9, err
    restarted = _agent(root)
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err
    assert out.split() == ["acted", "deployed"]
    with Workspace.open(root) as ws:
        assert counts(ws) == {"runs": 1, "versions": 1, "deployments": 1}
        agent = make_agent(ws)
        kinds = [e.kind for e in agent.events()]
        assert kinds == ["trigger", "run", "register", "gate", "deploy", "outcome"]
        assert not agent.status().triggers[0].running


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_agents_started_together_only_the_lease_holder_acts(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    root = _armed_project(tmp_path / "proj", metadata_url=url)
    agents = [_agent(root, ttl_s=30.0) for _ in range(2)]
    outputs = []
    for agent in agents:
        out, err = agent.communicate(timeout=120)
        assert agent.returncode == 0, err
        outputs.append(out.split())
    assert sorted(outputs) == [["acted", "deployed"], ["standby"]]
    with Workspace.open(root) as ws:
        assert counts(ws) == {"runs": 1, "versions": 1, "deployments": 1}
