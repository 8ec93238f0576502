"""Partitions summarised one by one and merged give the single-pass engine's report body.

The log is cut into Parquet-shaped partitions with the awkward cases spread over them:
NaN and infinite numbers, a feature missing from one partition, nulls and an unseen
category, failed predictions, numeric predictions with many distinct values (their
profile and drift come from the sketch) and late labels on a sample of rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from monitoring_support import as_log, reference_table

from conveyor.config import MonitoringConfig
from conveyor.data import compute_profile
from conveyor.monitoring._assess import assess_window
from conveyor.monitoring._parts import WindowPart, summarise_partition
from conveyor.monitoring._scaled import assess_partitioned, plan_window, prediction_profile
from conveyor.predictions._parquet import to_frame
from report_compare import differences

FEATURES = ["x0", "x1", "x2", "x3", "count", "colour"]
CONFIG = MonitoringConfig(drift_share=0.15, min_labels=20)


def _log(rows: int, *, seed: int, numeric_predictions: bool) -> pd.DataFrame:
    frame = reference_table(rows, seed=seed)
    frame["x2"] = frame["x2"] + 0.8
    frame.loc[frame.index[::97], "x0"] = np.nan
    frame.loc[frame.index[::389], "x1"] = np.inf
    frame.loc[frame.index[::50], "colour"] = None
    frame.loc[frame.index[::211], "colour"] = "purple"
    log = as_log(frame, seed=seed)
    if numeric_predictions:
        log["prediction"] = np.random.default_rng(seed).normal(size=rows)
    log["request_id"] = [f"r{i}" for i in range(rows)]
    log["status"] = np.where(np.arange(rows) % 101 == 0, "error", "ok")
    log["label"] = log["label"].where(np.arange(rows) % 7 == 0, None)
    return log


def _partitions(log: pd.DataFrame, parts: int) -> list[pa.Table]:
    tables = []
    bounds = np.linspace(0, len(log), parts + 1).astype(int)
    rows = log.drop(columns=["label"])
    for index in range(parts):
        piece = rows.iloc[bounds[index] : bounds[index + 1]]
        if index == 1:
            piece = piece.drop(columns=["in_x3"])  # a feature one batch did not log
        tables.append(pa.Table.from_pandas(piece, preserve_index=False))
    return tables


def _both(log: pd.DataFrame, parts: int, prediction_reference: Any) -> tuple[dict, dict]:
    profile = compute_profile(pa.Table.from_pandas(reference_table(), preserve_index=False))
    tables = _partitions(log, parts)
    frame = pd.concat([to_frame(t) for t in tables], ignore_index=True, sort=False)
    labels = dict(zip(log["request_id"], log["label"], strict=True))
    # As the log joins them: the labels as given (JSON values), in an object column.
    found = [labels.get(request_id) for request_id in frame["request_id"]]
    frame["label"] = pd.Series(found, index=frame.index, dtype=object)
    local = assess_window(
        frame,
        profile,
        features=FEATURES,
        config=CONFIG,
        reference_metric=0.9,
        prediction_reference=prediction_reference,
    )
    plans = plan_window(profile, FEATURES, prediction_reference)
    merged = WindowPart()
    for table in tables:
        merged = merged.merge(summarise_partition(table, plans, labels=labels))
    scaled = assess_partitioned(
        merged,
        profile,
        features=FEATURES,
        config=CONFIG,
        reference_metric=0.9,
        prediction_reference=prediction_reference,
    )
    return local, scaled


@pytest.mark.parametrize("parts", [1, 4])
def test_class_predictions_give_the_same_report(parts: int) -> None:
    log = _log(3_000, seed=7, numeric_predictions=False)
    local, scaled = _both(log, parts, None)
    assert differences(local, scaled) == []
    assert scaled["verdict"] == local["verdict"] == "drift"
    assert scaled["quality"]["columns"]["colour"]["unseen_values"] == ["purple"]
    assert (scaled["quality"]["columns"]["x3"]["missing_share"] > 0) == (parts > 1)
    baseline = local["drift"]["prediction"]["profile"]
    assert scaled["drift"]["prediction"]["profile"] == baseline  # exact: two classes


def test_numeric_predictions_are_profiled_and_tested_against_a_baseline() -> None:
    baseline_log = _log(3_000, seed=8, numeric_predictions=True)
    baseline = compute_profile(
        pa.Table.from_pandas(baseline_log[["prediction"]], preserve_index=False)
    )["columns"]["prediction"]
    log = _log(3_000, seed=9, numeric_predictions=True)
    log["prediction"] = log["prediction"] * 1.5
    local, scaled = _both(log, 5, baseline)
    assert differences(local, scaled) == []
    assert scaled["drift"]["prediction"]["status"] == local["drift"]["prediction"]["status"]
    assert scaled["drift"]["prediction"]["drifted"] == local["drift"]["prediction"]["drifted"]


def test_a_numeric_profile_beyond_the_kept_distinct_values_says_it_is_not_exact() -> None:
    plans = plan_window({"columns": {}}, [], None)
    rng = np.random.default_rng(11)
    parts = []
    for index in range(3):  # 3 x 4,000 distinct values: more than the sketch keeps
        frame = pd.DataFrame({"prediction": rng.normal(size=4_000), "at": pd.Timestamp(0)})
        frame["request_id"] = [f"{index}-{i}" for i in range(4_000)]
        parts.append(summarise_partition(pa.Table.from_pandas(frame), plans))
    first = prediction_profile(parts[0].columns["prediction"])
    assert (first["distinct"], first["distinct_exact"]) == (4_000, True)
    merged = parts[0].merge(parts[1]).merge(parts[2])
    profile = prediction_profile(merged.columns["prediction"])
    assert (profile["distinct"], profile["distinct_exact"]) == (None, False)
    assert profile["count"] == 12_000
    assert profile["quantiles"]["p50"] == pytest.approx(0.0, abs=0.05)
