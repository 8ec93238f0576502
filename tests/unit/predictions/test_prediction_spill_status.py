"""A failed prediction keeps its status and error through the spill file."""

from __future__ import annotations

from datetime import UTC, datetime

from conveyor.predictions import PredictionRecord
from conveyor.predictions._spill import _decode, _encode


def test_status_and_error_survive_spill_encoding() -> None:
    record = PredictionRecord(
        request_id="r1",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        model="churn",
        version=2,
        inputs={"x": 1.0},
        prediction=None,
        latency_ms=1.5,
        variant="challenger",
        revision=3,
        status="error",
        error="ValueError: boom",
    )
    back = _decode(_encode(record))
    assert (back.status, back.error, back.variant, back.revision) == (
        "error",
        "ValueError: boom",
        "challenger",
        3,
    )
