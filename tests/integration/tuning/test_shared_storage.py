"""Optuna's tables share the workspace's database (SQLite and PostgreSQL) without harm."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, text

from conveyor.store import head_revision
from conveyor.tuning import Float, tune
from conveyor.workspace import Workspace


def _env(metadata_url: str) -> dict[str, str]:
    return {"CONVEYOR_METADATA_URL": metadata_url, "CONVEYOR_ACTOR": "tester"}


def _version_tables(url: str) -> tuple[set[str], str, str]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            ours = conn.execute(text("SELECT version_num FROM conveyor_schema_version")).scalar()
            optunas = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    return tables, str(ours), str(optunas)


def _audit_verify_cli(cwd: Path, metadata_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(_env(metadata_url))
    return subprocess.run(
        [sys.executable, "-m", "conveyor", "audit", "verify"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_workspace_store_and_optuna_study_coexist(tmp_path: Path, metadata_url: str) -> None:
    env = _env(metadata_url)
    with Workspace.open(tmp_path, env=env) as ws:
        ws.datasets.add("numbers", pd.DataFrame({"x": [1, 2, 3]}))
        result = tune(
            lambda p: float(p["x"]),
            {"x": Float(0, 1)},
            n_trials=3,
            study_name="shared",
            workspace=ws,
        )
        url = ws.store.engine.url.render_as_string(hide_password=False)
    tables, ours, optunas = _version_tables(url)
    assert {"studies", "trials", "runs", "audit_events", "dataset_versions"} <= tables
    assert ours == head_revision()
    assert optunas != ours  # Optuna's own revision, in its own table
    # Reopening runs conveyor's migration check against a database that also holds Optuna's.
    with Workspace.open(tmp_path, env=env) as ws:
        assert ws.verify_audit().ok
        assert ws.datasets.load("numbers@latest")["x"].tolist() == [1, 2, 3]
        assert ws.runs.get(result.run_id).status == "completed"
    storage = optuna.storages.RDBStorage(url)
    try:
        assert len(optuna.load_study(study_name="shared", storage=storage).trials) == 3
    finally:
        storage.engine.dispose()
    (tmp_path / "conveyor.yaml").write_text("project: {name: shared}\n", encoding="utf-8")
    proc = _audit_verify_cli(tmp_path, metadata_url)
    assert proc.returncode == 0, proc.stderr
    assert "hash chain verified" in proc.stdout


def test_an_existing_optuna_database_takes_the_workspace_schema(
    tmp_path: Path, metadata_url: str
) -> None:
    url = metadata_url
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True)
    storage = optuna.storages.RDBStorage(url)
    try:
        study = optuna.create_study(storage=storage, study_name="before")
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    finally:
        storage.engine.dispose()
    with Workspace.open(tmp_path, env=_env(metadata_url)) as ws:
        result = tune(
            lambda p: float(p["x"]),
            {"x": Float(0, 1)},
            n_trials=2,
            study_name="before",
            workspace=ws,
        )
        assert len(result.trials) == 4
        assert ws.verify_audit().ok


_WORKER = textwrap.dedent(
    """
    import sys
    from conveyor.tuning import Float, tune
    result = tune(lambda p: (p["x"] - 1.0) ** 2, {"x": Float(-5, 5)}, n_trials=8,
                  study_name="parallel", workspace=sys.argv[1])
    print(result.run_id)
    """
)


@pytest.mark.slow
def test_two_processes_tuning_one_study_add_up_their_trials(
    tmp_path: Path, metadata_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(_env(metadata_url))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=180) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    run_ids = {out.strip() for out, _ in outputs}
    assert len(run_ids) == 2
    with Workspace.open(tmp_path, env=_env(metadata_url)) as ws:
        trial_runs = [c for run_id in run_ids for c in ws.runs.children(run_id)]
        assert len(trial_runs) == 16
        assert all(run.status == "completed" for run in trial_runs)
        final = tune(
            lambda p: (p["x"] - 1.0) ** 2,
            {"x": Float(-5, 5)},
            n_trials=1,
            study_name="parallel",
            workspace=ws,
        )
        assert ws.verify_audit().ok
    assert len(final.trials) == 17
    assert sorted(t.number for t in final.trials) == list(range(17))
