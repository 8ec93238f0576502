"""Labelled live traffic is added to the training data before retraining."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from conveyor.automation._traffic import include_traffic
from conveyor.config import TrafficConfig, TriggerConfig
from conveyor.predictions import PredictionRecord
from conveyor.workspace import Workspace


def _record(i: int, *, status: str = "ok", variant: str | None = None) -> PredictionRecord:
    return PredictionRecord(
        request_id=f"req-{i}",
        at=datetime(2026, 1, 1, 12, 0, i, tzinfo=UTC),
        model="churn",
        version=1,
        inputs={"tenure": float(i), "plan": "pro" if i % 2 else "basic"},
        prediction=1,
        latency_ms=1.0,
        environment="production",
        variant=variant,
        status=status,
        error=None if status == "ok" else "boom",
    )


def test_labelled_traffic_becomes_a_new_dataset_version(tmp_path: Path) -> None:
    with Workspace.open(tmp_path, env={}) as ws:
        base = pd.DataFrame(
            {
                "customer_id": [1, 2],
                "tenure": [3.0, 4.0],
                "plan": ["basic", "pro"],
                "churned": [0, 1],
            }
        )
        ws.datasets.add("customers", base)
        records = [_record(i) for i in range(5)] + [_record(5, status="error")]
        records.append(_record(0, variant="shadow"))  # a shadow copy of request 0
        ws.predictions.write(records)
        ws.predictions.feedback({"req-0": 1, "req-1": 0, "req-3": 1, "req-5": 0})

        version = include_traffic(
            ws, "production", TrafficConfig(dataset="customers", label="churned")
        )
        assert version is not None
        assert (version.version, version.parent_version) == (2, 1)
        frame = ws.datasets.load("customers@2")
        assert len(frame) == 2 + 3  # req-0, req-1, req-3; not the error, not the shadow copy
        added = frame.iloc[2:]
        assert list(added["tenure"]) == [0.0, 1.0, 3.0]
        assert list(added["churned"]) == [1, 0, 1]
        assert added["customer_id"].isna().all()  # the traffic does not carry it

        again = include_traffic(
            ws, "production", TrafficConfig(dataset="customers", label="churned")
        )
        assert again is not None
        assert again.version == 2  # the same traffic adds nothing new

        ws.predictions.write([_record(7)])
        ws.predictions.feedback({"req-7": 0})
        later = include_traffic(
            ws, "production", TrafficConfig(dataset="customers", label="churned")
        )
        assert later is not None
        assert later.version == 3
        assert len(ws.datasets.load("customers@3")) == 2 + 4  # built on v1: nothing counted twice


def test_no_labelled_traffic_adds_nothing(tmp_path: Path) -> None:
    with Workspace.open(tmp_path, env={}) as ws:
        ws.datasets.add("customers", pd.DataFrame({"tenure": [1.0], "churned": [0]}))
        ws.predictions.write([_record(1)])
        assert (
            include_traffic(ws, "production", TrafficConfig(dataset="customers", label="churned"))
            is None
        )
        assert [v.version for v in ws.datasets.log("customers")] == [1]


def test_trigger_configuration_accepts_include_traffic() -> None:
    trigger = TriggerConfig.model_validate(
        {
            "name": "weekly",
            "kind": "schedule",
            "model": "churn",
            "cron": "0 3 * * 1",
            "include_traffic": {"dataset": "customers", "label": "churned"},
        }
    )
    assert trigger.include_traffic == TrafficConfig(dataset="customers", label="churned")
    with pytest.raises(ValueError, match="dataset"):
        TrafficConfig.model_validate({"dataset": "../x", "label": "y"})
