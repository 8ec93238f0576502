"""Monitoring leaves a column the version's signature flags as personal data out, as it
does a configured one: not drift-tested, and none of its values in the report."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "monitoring"))

from monitor_support import FEATURES, NOW, Recorder, log_traffic, open_project, table
from sklearn.linear_model import LogisticRegression

from conveyor.monitoring import monitor_run
from conveyor.predictions import PredictionRecord, pii_policy
from conveyor.workspace import Workspace

KEY = "a-long-random-secret-for-tests"


def test_a_column_the_signature_flags_is_not_drift_tested(tmp_path: Path) -> None:
    ws = open_project(tmp_path / "p", environ={"CONVEYOR_PII_KEY": KEY})
    try:
        assert not ws.settings.config.predictions.pii.columns
        train = table(500, seed=0)
        features = train[list(FEATURES)]
        first = ws.models.get("churn@1")
        flagged = ws.models.register(
            "churn",
            LogisticRegression().fit(features, train["target"]),
            input_example=features.head(3),
            lineage=first.lineage,
            pii=("x2",),
            explain=False,
            onnx=False,
        )
        assert flagged.version == 2
        log_traffic(ws, table(400, seed=1), prefix="a")  # churn@1 flags nothing: in clear
        ws.predictions.privacy = pii_policy(ws.settings, signature_columns=["x2"])
        # The same traffic, as served by the flagged version.
        logged = [replace(r, request_id="b" + r.request_id, version=2) for r in _records(ws)]
        ws.predictions.write(logged)
        stored = ws.predictions.read(model="churn", version=2)["in_x2"]
        assert stored.str.fullmatch(r"[0-9a-f]{64}").all()
        report = monitor_run(
            ws, "production", model="churn@2", window="1h", notifier=Recorder(), now=lambda: NOW
        )
        assert set(report.drift["features"]) == {"x0", "x1", "x3"}
        assert "x2" not in report.quality["columns"]
        assert report.drift["not_tested"] == {"x2": "personal data (signature)"}
        assert "Not drift-tested (personal data" in report.message
        for path in report.files.values():
            text = Path(path).read_text(encoding="utf-8")
            assert not any(digest in text for digest in stored.head(50))
        # The version without the flag is drift-tested on x2 as before.
        plain = monitor_run(
            ws, "production", model="churn@1", window="1h", notifier=Recorder(), now=lambda: NOW
        )
        assert "x2" in plain.drift["features"]
    finally:
        ws.close()


def _records(ws: Workspace) -> list[PredictionRecord]:
    """What churn@1 logged, as records again."""
    frame = ws.predictions.read(model="churn", version=1)
    return [
        PredictionRecord(
            request_id=str(row["request_id"]),
            at=row["at"].to_pydatetime(),
            model="churn",
            version=1,
            inputs={name: row[f"in_{name}"] for name in FEATURES},
            prediction=row["prediction"],
            latency_ms=1.0,
            environment="production",
            variant="champion",
            revision=1,
        )
        for _, row in frame.iterrows()
    ]
