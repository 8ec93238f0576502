"""End to end: the data-versioning workflow through the ``conveyor`` command.

The project is created by the real process; the commands after it call the CLI in this
process (``cli_in_process.py``), which runs the same code a few seconds faster each.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_in_process import CliInProcess, Ran

from conveyor.core import hash_file


def conveyor(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_ACTOR"] = "e2e"
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, f"conveyor {' '.join(args)} failed:\n{proc.stderr}"
    return proc


def _orders(n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": range(n),
            "amount": [10.0 + shift + (i % 7) for i in range(n)],
            "country": ["DE", "FR", "US"] * (n // 3) + ["DE"] * (n % 3),
        }
    )


def in_process(run: CliInProcess, cwd: Path, *args: str, ok: bool = True) -> Ran:
    ran = run(cwd, *args)
    if ok:
        assert ran.returncode == 0, f"conveyor {' '.join(args)} failed:\n{ran.stderr}"
    return ran


@pytest.mark.slow
def test_version_diff_checkout_push_pull_and_audit(
    tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    project = tmp_path / "shop"
    conveyor(tmp_path, "init", "shop")

    def cli(cwd: Path, *args: str, ok: bool = True) -> Ran:
        return in_process(conveyor_in_process, cwd, *args, ok=ok)

    csv = project / "orders.csv"
    _orders(300).to_csv(csv, index=False)

    added = json.loads(cli(project, "data", "add", "orders", "orders.csv", "--json").stdout)
    assert added["version"] == 1
    again = cli(project, "data", "add", "orders", "orders.csv").stdout
    assert "unchanged" in again

    _orders(330, shift=5.0).to_csv(csv, index=False)
    cli(project, "data", "add", "orders", "orders.csv", "-m", "more orders")
    log = json.loads(cli(project, "data", "log", "orders", "--json").stdout)
    assert [v["version"] for v in log] == [2, 1]
    assert log[0]["parent_version"] == 1

    diff = json.loads(cli(project, "data", "diff", "orders@1", "orders@2", "--json").stdout)
    assert diff["row_counts"] == [300, 330]
    assert "amount" in diff["changed_columns"]
    assert "Profile" in cli(project, "data", "show", "orders@2").stdout

    cli(project, "data", "checkout", "orders@1", "v1.parquet")
    restored = pd.read_parquet(project / "v1.parquet")
    assert len(restored) == 300

    remote = tmp_path / "remote"
    cli(project, "data", "push", "--remote", str(remote))
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("conveyor.yaml", "conveyor.lock"):
        (clone / name).write_bytes((project / name).read_bytes())
    cli(clone, "data", "pull", "--remote", str(remote))
    cli(clone, "data", "checkout", "orders", "latest.parquet")
    cli(project, "data", "checkout", "orders@2", "latest.parquet")
    assert hash_file(clone / "latest.parquet") == hash_file(project / "latest.parquet")

    listed = json.loads(cli(project, "data", "list", "--json").stdout)
    assert [d["name"] for d in listed] == ["orders"]
    events = json.loads(cli(project, "audit", "log", "--json").stdout)
    assert [e["action"] for e in events].count("data.add") == 2
    assert all(e["actor"] == "e2e" for e in events if e["action"] == "data.add")
    assert "intact" in cli(project, "audit", "verify").stdout

    db = project / ".conveyor" / "conveyor.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_events SET actor = 'mallory' WHERE action = 'data.add'")
    broken = conveyor(project, "audit", "verify", ok=False)  # the process's exit code
    assert broken.returncode == 3
    assert "broken at event #" in broken.stdout
    assert "restore the database from" in " ".join(broken.stdout.split())  # what to do


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("data", "add", "../evil", "orders.csv"), "Invalid dataset name '../evil'"),
        (("data", "add", "orders", "missing.csv"), "missing.csv"),
        (("data", "show", "nothing"), "No dataset named 'nothing'"),
        (("data", "checkout", "orders@9", "out"), "has no version 9"),
    ],
)
def test_bad_input_gives_one_clear_line_and_exit_1(
    tmp_path: Path, conveyor_in_process: CliInProcess, args: tuple[str, ...], message: str
) -> None:
    in_process(conveyor_in_process, tmp_path, "init", "p")
    _orders(30).to_csv(tmp_path / "p" / "orders.csv", index=False)
    in_process(conveyor_in_process, tmp_path / "p", "data", "add", "orders", "orders.csv")
    proc = in_process(conveyor_in_process, tmp_path / "p", *args, ok=False)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
