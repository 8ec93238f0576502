"""Test support: a partitioned prediction log, and the two engines' reports compared.

The single-pass engine (:func:`assess_window` over the whole window frame) is the oracle;
the partitioned engine must give the same report: the same structure, verdicts, names,
counts and messages, and numbers equal within ``report_compare.EXACT`` (statistics from exact
counts), except those read from the quantile sketch (Wasserstein results, and the
predictions' profile when they have many distinct values), equal within ``report_compare.SKETCHED``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from monitor_support import NOW, log_traffic, table

from conveyor.config import MonitoringConfig
from conveyor.monitoring._assess import assess_window
from conveyor.monitoring._scaled import assess_partitioned, plan_window
from conveyor.monitoring._summarise import RecordLabels, summarise_window
from conveyor.predictions._window import Window
from conveyor.workspace import Workspace

SPAN = timedelta(hours=1)


def log_partitions(ws: Workspace, parts: int, rows: int, *, shift: float = 0.0) -> list[str]:
    """Log ``parts`` Parquet partitions of ``rows`` predictions each (x2 shifted by ``shift``
    in the later half), with labels for every fifth prediction; returns the request ids."""
    ids: list[str] = []
    for index in range(parts):
        frame = table(rows, seed=100 + index)
        if index >= parts // 2:
            frame["x2"] += shift
        end = NOW - timedelta(minutes=index)
        ids += log_traffic(ws, frame, prefix=f"p{index}", end=end)
    stored = ws.predictions.read(environment="production")
    truth = dict(zip(stored["request_id"], stored["prediction"].tolist(), strict=True))
    ws.predictions.feedback({rid: truth[rid] for rid in ids[::5]})
    return ids


def both_reports(
    ws: Workspace, *, executor: str, workers: int | None = None, end: datetime = NOW
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(single-pass body, partitioned body)`` of the last hour of ``churn@1`` traffic."""
    profile = ws.datasets.get("train@1").profile
    features = ["x0", "x1", "x2", "x3"]
    since = end - SPAN
    frame = ws.predictions.read(
        model="churn", version=1, environment="production", since=since, until=end
    )
    config = MonitoringConfig(drift_share=0.25, min_labels=50)
    local = assess_window(frame, profile, features=features, config=config, reference_metric=0.95)
    window = Window("churn", 1, "production", since=since, until=end)
    records = ws.predictions.records
    batches = [(b.content_hash, window.contains(b)) for b in window.batches(records)]
    part = summarise_window(
        ws.predictions.artifacts.get_bytes,
        batches,
        window,
        plan_window(profile, features, None),
        RecordLabels(records),
        executor=executor,
        workers=workers,
    )
    scaled = assess_partitioned(
        part, profile, features=features, config=config, reference_metric=0.95
    )
    return local, scaled
