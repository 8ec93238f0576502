"""Monitoring leaves personal-data columns out: not drift-tested, never in the report."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "monitoring"))

from monitor_support import NOW, Recorder, log_traffic, open_project, table

from conveyor.monitoring import monitor_run
from conveyor.predictions import pii_policy

KEY = "a-long-random-secret-for-tests"


def test_a_hashed_column_is_not_drift_tested_and_the_report_says_so(tmp_path: Path) -> None:
    extra = "predictions: {pii: {columns: [x2]}}\n"
    ws = open_project(tmp_path / "p", extra=extra, environ={"CONVEYOR_PII_KEY": KEY})
    try:
        ws.predictions.privacy = pii_policy(ws.settings)
        log_traffic(ws, table(400, seed=1), prefix="a")
        stored = ws.predictions.read()["in_x2"]
        assert stored.str.fullmatch(r"[0-9a-f]{64}").all()
        report = monitor_run(ws, "production", window="1h", notifier=Recorder(), now=lambda: NOW)
        assert "x2" not in report.drift["features"]
        assert "x2" not in report.quality["columns"]
        assert "x2" not in report.quality["unexpected_columns"]
        assert report.drift["not_tested"] == {"x2": "personal data (predictions.pii)"}
        assert "Not drift-tested (personal data" in report.message
        assert set(report.drift["features"]) == {"x0", "x1", "x3"}
        for path in report.files.values():
            text = Path(path).read_text(encoding="utf-8")
            assert not any(digest in text for digest in stored.head(50))
    finally:
        ws.close()
