"""Test support: a project with a profiled training dataset, a registered model whose
lineage points at it, a deployment, logged traffic, and a notifier that records events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from conveyor.deployments import DeploymentStore, Variant
from conveyor.notify import MemoryNotifier
from conveyor.predictions import PredictionRecord
from conveyor.workspace import Workspace

FEATURES = ("x0", "x1", "x2", "x3")
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class Recorder(MemoryNotifier):
    """Collects the events a monitoring run announces."""


def table(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in FEATURES})
    frame["target"] = (frame["x0"] + frame["x1"] > 0).astype(int)
    return frame


def open_project(
    root: Path,
    metadata_url: str | None = None,
    *,
    extra: str = "",
    environ: dict[str, str] | None = None,
) -> Workspace:
    """A project whose model `churn@1` is deployed to `production` (revision 1).

    ``extra`` is appended to its ``conveyor.yaml`` (e.g. a ``webhooks:`` section);
    ``environ`` is the environment the workspace is opened with.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "conveyor.yaml").write_text(
        "project: {name: monitor-test}\nmonitoring: {min_labels: 50, drift_share: 0.25}\n" + extra,
        encoding="utf-8",
    )
    env = dict(environ or {})
    if metadata_url is not None:
        env["CONVEYOR_METADATA_URL"] = metadata_url
    ws = Workspace.open(root, actor="alice", env=env, search_parents=False)
    train = table(5_000, seed=0)
    dataset = ws.datasets.add("train", train)
    features = train[list(FEATURES)]
    model = LogisticRegression().fit(features, train["target"])
    version = ws.models.register(
        "churn",
        model,
        input_example=features.head(3),
        metrics={"accuracy": 0.95},
        lineage={"datasets": [{"name": "train", "version": dataset.version}]},
        explain=False,
        onnx=False,
    )
    DeploymentStore(ws.store, actor=ws.actor).transition(
        "production",
        expected_revision=None,
        action="deploy",
        reason="test",
        strategy="replace",
        state="stable",
        variants=(Variant("churn", version.version, "champion", 100.0),),
    )
    return ws


def log_traffic(
    ws: Workspace,
    frame: pd.DataFrame,
    *,
    prefix: str,
    end: datetime = NOW,
    environment: str | None = "production",
) -> list[str]:
    """Log one prediction per row, spread over the 30 minutes before ``end``."""
    rows = len(frame)
    step = timedelta(minutes=30) / max(rows, 1)
    ids = [f"{prefix}-{i}" for i in range(rows)]
    records = [
        PredictionRecord(
            request_id=ids[i],
            at=end - timedelta(minutes=30) + step * i,
            model="churn",
            version=1,
            inputs={name: float(frame[name].iloc[i]) for name in FEATURES},
            prediction=int(frame["x0"].iloc[i] + frame["x1"].iloc[i] > 0),
            latency_ms=1.0,
            environment=environment,
            variant=None if environment is None else "champion",
            revision=None if environment is None else 1,
        )
        for i in range(rows)
    ]
    ws.predictions.write(records)
    return ids
