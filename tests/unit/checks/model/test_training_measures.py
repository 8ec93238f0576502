"""Loss decrease, over-fitting gap and metric bounds on known series and values."""

from __future__ import annotations

import math

import pytest

from conveyor.checks.model._training import loss_decreases, metric_bounds, overfitting


def test_a_decreasing_loss_passes_and_an_increasing_one_fails() -> None:
    down = loss_decreases("loss", [1.0, 0.7, 0.5, 0.4])
    assert down.passed
    assert down.value == 0.6
    assert "decreased from 1 to 0.4" in down.explanation
    up = loss_decreases("loss", [0.4, 0.5, 0.7, 1.0])
    assert not up.passed
    assert "did not decrease" in up.explanation


def test_window_averages_the_ends_and_min_decrease_is_enforced() -> None:
    noisy = [1.0, 1.2, 0.9, 0.8, 0.75, 0.7]
    assert loss_decreases("loss", noisy, window=2).value == pytest.approx(1 - 0.725 / 1.1)
    assert not loss_decreases("loss", noisy, min_relative_decrease=0.5).passed


def test_nan_in_the_series_fails_saying_nan() -> None:
    outcome = loss_decreases("loss", [1.0, math.nan, 0.5])
    assert not outcome.passed
    assert "NaN" in outcome.explanation
    assert outcome.details["positions"] == [1]


def test_a_single_point_cannot_show_a_decrease() -> None:
    outcome = loss_decreases("loss", [1.0])
    assert not outcome.passed
    assert "at least 2 values" in outcome.explanation


def test_overfitting_gap_against_max_gap() -> None:
    metrics = {"train_acc": 0.99, "val_acc": 0.80, "train_loss": 0.1, "val_loss": 0.12}
    wide = overfitting(metrics, train_metric="train_acc", validation_metric="val_acc", max_gap=0.05)
    assert not wide.passed
    assert abs(wide.value - 0.19) < 1e-12
    assert "gap 0.19" in wide.explanation
    loss = overfitting(
        metrics,
        train_metric="train_loss",
        validation_metric="val_loss",
        max_gap=0.05,
        higher_is_better=False,
    )
    assert loss.passed
    assert abs(loss.value - 0.02) < 1e-12


def test_missing_or_nan_metrics_fail_and_say_why() -> None:
    missing = overfitting({"a": 1.0}, train_metric="a", validation_metric="b", max_gap=0.1)
    assert not missing.passed
    assert "'b' is missing" in missing.explanation
    assert "recorded metrics: a" in missing.explanation
    nan = overfitting(
        {"a": 1.0, "b": math.nan}, train_metric="a", validation_metric="b", max_gap=0.1
    )
    assert not nan.passed
    assert "NaN" in nan.explanation
    assert (
        "NaN" in metric_bounds("auc", math.nan, minimum=0.9, maximum=None, where="run").explanation
    )


def test_metric_bounds_min_and_max() -> None:
    assert metric_bounds("auc", 0.95, minimum=0.9, maximum=None, where="holdout").passed
    low = metric_bounds("auc", 0.85, minimum=0.9, maximum=None, where="holdout")
    assert not low.passed
    assert low.explanation == "auc on the holdout is 0.85 (required at least 0.9)."
    assert not metric_bounds("rmse", 3.0, minimum=None, maximum=2.0, where="run").passed
