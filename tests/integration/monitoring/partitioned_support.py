"""Test support: a partitioned prediction log, and the two engines' reports compared.

The single-pass engine (:func:`assess_window` over the whole window frame) is the oracle;
the partitioned engine must give the same report: the same structure, verdicts, names,
counts and messages, and numbers equal within :data:`EXACT` (statistics from exact
counts), except those read from the quantile sketch (Wasserstein results, and the
predictions' profile when they have many distinct values), equal within :data:`SKETCHED`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from monitor_support import NOW, log_traffic, table

from conveyor.config import MonitoringConfig
from conveyor.monitoring._assess import assess_window
from conveyor.monitoring._scaled import (
    RecordLabels,
    assess_partitioned,
    plan_window,
    summarise_window,
)
from conveyor.predictions._window import Window
from conveyor.workspace import Workspace

#: Relative tolerance of numbers computed from exact counts (floating-point order only).
EXACT = 1e-9
#: Tolerance (absolute, in reference standard deviations for Wasserstein, and relative)
#: of numbers read from the 0.1 %-accurate quantile sketch.
SKETCHED = 2e-3
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


def differences(expected: Any, actual: Any, path: str = "", tolerance: float = EXACT) -> list[str]:
    """Where ``actual`` differs from ``expected`` beyond the tolerance of each number."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(expected) != set(actual):
            return [f"{path}: keys {sorted(set(expected) ^ set(actual))}"]
        if expected.get("test") == "wasserstein" or path.endswith("prediction.profile"):
            tolerance = max(tolerance, SKETCHED)
        out: list[str] = []
        for key in expected:
            out += differences(expected[key], actual[key], f"{path}.{key}", tolerance)
        return out
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items against {len(actual)}"]
        out = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            out += differences(left, right, f"{path}[{index}]", tolerance)
        return out
    numbers = (int, float)
    if (
        isinstance(expected, numbers)
        and isinstance(actual, numbers)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
    ):
        if math.isclose(expected, actual, rel_tol=tolerance, abs_tol=tolerance):
            return []
        return [f"{path}: {expected!r} against {actual!r}"]
    return [] if expected == actual else [f"{path}: {expected!r} against {actual!r}"]
