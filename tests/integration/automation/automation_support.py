"""Test support: a small real project with triggers, a deployer writing real deployment
records, a report source and a notifier kept in memory, and a virtual clock."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from conveyor.automation import Agent
from conveyor.ci import run_ci
from conveyor.deployments import Deployment, DeploymentStore, Variant
from conveyor.notify import BaseNotifier
from conveyor.workspace import Workspace, init_project
from small_project import PIPELINES, points

CONFIG = """
project: {{name: agent-test}}
pipelines:
  training: pipelines:training
  params: {{min_rows: {min_rows}}}
evaluation:
  model: clf
  model_step: train
  holdout_step: split
  holdout_output: 1
  target: y
gates:
  - {{check: min_metric, params: {{metric: accuracy, min: 0.8}}}}
triggers:
{triggers}
"""

NEW_DATA = "  - {name: fresh, kind: new_data, model: clf, dataset: points, cooldown_s: 600}"


def make_project(
    root: Path, *, triggers: str = NEW_DATA, min_rows: int = 0, metadata_url: str | None = None
) -> Path:
    """Create the project with ``points@1`` added; the config's triggers are ``triggers``."""
    init_project(root, name="agent-test")
    (root / "pipelines.py").write_text(PIPELINES, encoding="utf-8")
    config = CONFIG.format(triggers=triggers, min_rows=min_rows)
    if metadata_url is not None:
        config += f"store:\n  metadata_url: {metadata_url}\n"
    (root / "conveyor.yaml").write_text(config, encoding="utf-8")
    with Workspace.open(root) as ws:
        ws.datasets.add("points", points())
    return root


def records_deployer(ws: Workspace) -> Any:
    """Deploy by writing a stable 100 % revision through the real deployment records."""
    records = DeploymentStore(ws.store, actor=ws.actor)

    def deploy(ref: str, env: str) -> Deployment:
        name, _, number = ref.partition("@")
        current = records.current(env)
        return records.transition(
            env,
            expected_revision=None if current is None else current.revision,
            action="deploy",
            reason=f"deploy {ref}",
            strategy="replace",
            state="stable",
            variants=(Variant(name, int(number), "champion", 100.0),),
        )

    return deploy


@dataclass
class Clock:
    """A virtual clock, advanced by tests."""

    t: float = field(default_factory=lambda: datetime.now(UTC).timestamp())

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Reports:
    """The latest monitoring report per environment, set by tests."""

    latest: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def __call__(self, ws: Workspace, env: str) -> Mapping[str, Any] | None:
        return self.latest.get(env)


class Inbox(BaseNotifier):
    """A notifier keeping what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, event: str, payload: Mapping[str, Any]) -> int:
        self.sent.append((event, dict(payload)))
        return 1


def make_agent(ws: Workspace, **kwargs: Any) -> Agent:
    """An agent with the fast trainer (no integration checks) and the records deployer."""
    kwargs.setdefault("deployer", records_deployer(ws))
    kwargs.setdefault("trainer", partial(run_ci, integration=False))
    kwargs.setdefault("notifier", Inbox())
    kwargs.setdefault("reports", Reports())
    return Agent(ws, **kwargs)


def counts(ws: Workspace) -> dict[str, int]:
    """Pipeline runs, model versions and deployment revisions recorded so far."""
    records = DeploymentStore(ws.store, actor=ws.actor)
    runs = list(ws.runs.list(kind="pipeline", limit=None))
    return {
        "runs": len(runs),
        "versions": len(ws.models.versions("clf")) if ws.models.list() else 0,
        "deployments": len(records.history("production")),
    }


def exit_at(step: str) -> Any:
    """An ``on_step`` hook that stops the process at ``step`` as ``kill -9`` would.

    ``os._exit`` runs no ``finally`` block, no cleanup and commits nothing in flight.
    """

    def hook(reached: str) -> None:
        if reached == step:
            os._exit(9)

    return hook


def main(root: str, ttl_s: float, tries: int, crash_at: str | None = None) -> None:
    """One agent process: ``run_once`` until it acts (at most ``tries`` times).

    With ``crash_at``, the process exits with status 9 when the agent reaches that step.
    """
    with Workspace.open(root) as workspace:
        on_step = None if crash_at is None else exit_at(crash_at)
        agent = make_agent(workspace, lease_ttl_s=ttl_s, on_step=on_step)
        for _ in range(tries):
            tick = agent.run_once()
            if tick.acted:
                break
            time.sleep(0.3)
        results = [e.details.get("result") for e in tick.outcomes]
        print("acted" if tick.acted else "standby", ",".join(map(str, results)), flush=True)


if __name__ == "__main__":
    # Agent process for the crash and lease tests:
    # ``python automation_support.py ROOT TTL N [CRASH_AT_STEP]``.
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:5])
