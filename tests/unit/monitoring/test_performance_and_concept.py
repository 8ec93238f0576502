"""Performance with confidence intervals, concept-drift detectors, and whole-window verdicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from monitoring_support import as_log, reference_table

from conveyor.config import MonitoringConfig
from conveyor.monitoring import (
    MonitoringError,
    assess_performance,
    assess_window,
    detect_changes,
    metric_with_ci,
    wilson_interval,
)
from conveyor.monitoring._performance import METRICS


def test_wilson_interval_matches_the_textbook_value() -> None:
    lo, hi = wilson_interval(81, 100)
    assert lo == pytest.approx(0.7222, abs=1e-4)
    assert hi == pytest.approx(0.8749, abs=1e-4)


@given(st.integers(0, 500), st.integers(1, 500))
@settings(max_examples=60, deadline=None)
def test_wilson_interval_is_inside_0_1_and_contains_the_estimate(k: int, n: int) -> None:
    k = min(k, n)
    lo, hi = wilson_interval(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_accuracy_over_labelled_rows_only_with_ci_and_label_count() -> None:
    log = as_log(reference_table(2_000), accuracy=0.8, seed=3)
    log.loc[log.index[:1_000], "label"] = None  # labels have not arrived for half
    result = assess_performance(log, metric="accuracy", reference=None, tolerance=0.0)
    assert result["labels"] == 1_000
    assert result["value"] == pytest.approx(0.8, abs=0.04)
    lo, hi = result["ci"]
    assert lo < result["value"] < hi
    assert result["method"] == "wilson"


def test_mae_gets_a_bootstrap_interval_with_a_fixed_seed() -> None:
    losses = np.abs(np.random.default_rng(0).normal(size=400))
    first = metric_with_ci(losses, METRICS["mae"])
    again = metric_with_ci(losses, METRICS["mae"])
    assert first == again
    assert first["ci"][0] < first["value"] < first["ci"][1]
    assert first["method"].startswith("bootstrap")


def test_significant_drop_below_the_registered_metric_is_degraded() -> None:
    log = as_log(reference_table(1_500), accuracy=0.7, seed=4)
    result = assess_performance(log, metric="accuracy", reference=0.9, tolerance=0.02)
    assert result["degraded"] is True
    same = assess_performance(log, metric="accuracy", reference=0.71, tolerance=0.02)
    assert same["degraded"] is False


def test_unknown_metric_names_the_supported_ones() -> None:
    log = as_log(reference_table(10))
    with pytest.raises(MonitoringError, match="cannot compute the metric 'auc'") as info:
        assess_performance(log, metric="auc", reference=None, tolerance=0.0)
    assert "accuracy" in str(info.value.hint)


def _error_stream(before: float, after: float, change: int, total: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    rates = np.where(np.arange(total) < change, before, after)
    return (rng.random(total) < rates).astype(float).tolist()


@pytest.mark.parametrize("detector", ["adwin", "page_hinkley"])
def test_detectors_find_the_change_point_of_an_error_stream(detector: str) -> None:
    stream = _error_stream(0.1, 0.4, change=3_000, total=6_000, seed=1)
    found = detect_changes(stream)[detector]
    after = [index for index in found if index >= 3_000]
    assert after, f"{detector} missed the change"
    delay = after[0] - 3_000
    assert 0 <= delay < 600
    assert all(index >= 3_000 for index in found), f"{detector} false alarm at {found}"


def test_detectors_stay_quiet_on_a_stationary_stream() -> None:
    found = detect_changes(_error_stream(0.1, 0.1, change=0, total=5_000, seed=2))
    assert found == {"adwin": [], "page_hinkley": []}


def test_empty_window_is_insufficient_with_a_message(profile: dict[str, Any]) -> None:
    empty = as_log(reference_table(10)).iloc[0:0]
    result = assess_window(empty, profile)
    assert result["verdict"] == "insufficient"
    assert result["message"] == "The window holds no predictions."
    assert result["rows"] == 0


def test_window_with_no_testable_feature_is_insufficient_and_names_them(
    profile: dict[str, Any],
) -> None:
    log = pd.DataFrame({"in_other": [1, 2, 3], "prediction": [0, 1, 0], "label": [None] * 3})
    result = assess_window(log, profile, features=["x0", "colour"])
    assert result["verdict"] == "insufficient"
    assert result["message"] == "No feature could be tested: colour (missing), x0 (missing)."


def test_failed_predictions_are_left_out_of_the_window(profile: dict[str, Any]) -> None:
    log = as_log(reference_table(300))
    log["status"] = ["error"] * 100 + ["ok"] * 200
    assert assess_window(log, profile)["rows"] == 200


def test_concept_change_with_enough_labels_makes_the_window_degraded(
    profile: dict[str, Any],
) -> None:
    log = as_log(reference_table(4_000), accuracy=0.95, seed=6)
    wrong = log.index[2_000:]
    flip = np.random.default_rng(0).random(len(wrong)) < 0.5
    log.loc[wrong[flip], "label"] = 1 - log.loc[wrong[flip], "prediction"]
    result = assess_window(log, profile, config=MonitoringConfig(min_labels=100))
    assert result["verdict"] == "degraded"
    assert result["performance"]["concept_drift"] is True
    series = [entry["value"] for entry in result["performance"]["series"]]
    assert min(series[:5]) > max(series[5:])


def test_prediction_drift_is_measured_against_earlier_predictions(
    profile: dict[str, Any],
) -> None:
    first = assess_window(as_log(reference_table(2_000), seed=1), profile)
    baseline = first["drift"]["prediction"]
    assert baseline["status"] == "no_reference"
    shifted = as_log(reference_table(2_000), seed=2)
    shifted["prediction"] = 1
    second = assess_window(shifted, profile, prediction_reference=baseline["profile"])
    assert second["drift"]["prediction"]["status"] == "tested"
    assert second["drift"]["prediction"]["drifted"] is True
