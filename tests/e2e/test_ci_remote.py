"""End to end: a fresh clone with only a server URL and a token judges a pull request
against production's real champion.

A team server (``conveyor server``'s app on 127.0.0.1) holds the project's records and
artifacts. A team member's checkout adds the data and trains a model that a deployer
puts in production (a protected environment). Then a *fresh clone* (the project's files,
no ``.conveyor`` folder, no database or bucket credentials: ``CONVEYOR_SERVER_URL`` and a
developer ``CONVEYOR_TOKEN`` only, as the scaffolded CI workflow has) runs ``conveyor ci``
on a worse candidate: the gate compares it with production's champion and REJECTs it
(exit code 4). The same fresh clone cannot deploy to production with its developer token.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conveyor.workspace import Workspace
from server_support import Server, control_plane

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tabular"
FILES = ("conveyor.yaml", "pipelines.py", "prepare_data.py")


def conveyor(cwd: Path, env: dict[str, str], *args: str, expect: int = 0, err: bool = False) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    clean.update(env, COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == expect, (
        f"conveyor {' '.join(args)} exited {proc.returncode}, expected {expect}:\n"
        f"{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout + proc.stderr if err else proc.stdout


def checkout(root: Path) -> Path:
    """The project's committed files, as a clone has them."""
    root.mkdir(parents=True)
    for name in FILES:
        shutil.copy(EXAMPLE / name, root / name)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = checkout(tmp_path_factory.mktemp("team") / "server")
    config = yaml.safe_load((root / "conveyor.yaml").read_text())
    config["environments"]["production"]["protected"] = True
    (root / "conveyor.yaml").write_text(yaml.safe_dump(config))
    with Workspace.open(root, env={}) as ws, control_plane(ws) as running:
        yield running


@pytest.mark.slow
def test_a_fresh_clone_with_a_url_and_a_token_rejects_a_worse_candidate(
    server: Server, tmp_path: Path
) -> None:
    member = {"CONVEYOR_SERVER_URL": server.url, "CONVEYOR_TOKEN": server.token("ana", "deployer")}
    ci = {"CONVEYOR_SERVER_URL": server.url, "CONVEYOR_TOKEN": server.token("ci", "developer")}

    first = checkout(tmp_path / "ana")
    subprocess.run([sys.executable, "prepare_data.py"], cwd=first, check=True, timeout=120)
    conveyor(first, member, "data", "add", "cancer", "data/cancer.csv")
    good = json.loads(conveyor(first, member, "ci", "--report-dir", "good", "--json"))
    assert good["decision"]["decision"] == "PROMOTE"
    conveyor(first, member, "deploy", good["model"], "--env", "production")
    assert not (first / ".conveyor" / "conveyor.db").exists()  # nothing local: all on the server

    clone = checkout(tmp_path / "clone")  # no data, no .conveyor: only URL and token
    out = conveyor(clone, ci, "ci", "--report-dir", "bad", "-p", "shuffle_labels=true", expect=4)
    assert "Gate: REJECT" in out
    markdown = (clone / "bad" / "report.md").read_text()
    assert f"champion `{good['model']}`" in markdown
    assert not (clone / ".conveyor" / "conveyor.db").exists()

    # The champion was judged on the server's records: the decision is there, by `token:ci`.
    decisions = [e for e in server.ws.audit_log() if e.action == "gate.decide"]
    assert decisions[-1].actor == "token:ci"
    assert decisions[-1].details.get("decision") == "REJECT"

    # A developer token cannot move a protected environment, whatever its client does.
    rejected = good["model"].replace("@1", "@2")
    denied = conveyor(
        clone,
        ci,
        "deploy",
        rejected,
        "--env",
        "production",
        "--force-reason",
        "try",
        expect=1,
        err=True,
    )
    assert "protected" in denied.lower() or "denied" in denied.lower()
    assert server.ws.deployments.current("production").revision == 1
