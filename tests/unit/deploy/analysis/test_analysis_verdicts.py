"""The canary analysis: verdicts, reasons, guard rails and input checks."""

from __future__ import annotations

import numpy as np
import pytest

from conveyor.config import AnalysisConfig
from conveyor.rollout.analysis import AnalysisError, VariantStats, analyse


def _stats(
    n: int,
    *,
    seed: int,
    errors: int = 0,
    accuracy: float | None = None,
    latency: float = 20.0,
    shift: float = 0.0,
) -> VariantStats:
    rng = np.random.default_rng(seed)
    ok = n - errors
    predictions = rng.normal(shift, 1.0, ok)
    labels = None
    if accuracy is not None:
        truth = rng.integers(0, 2, ok)
        correct = rng.random(ok) < accuracy
        predictions = np.where(correct, truth, 1 - truth)
        labels = truth.astype(object)
    return VariantStats(n, errors, latency * rng.lognormal(0, 0.2, n), predictions, labels)


def test_no_challenger_traffic_continues_with_a_reason() -> None:
    result = analyse(_stats(500, seed=1), VariantStats.empty())
    assert result.verdict == "continue"
    assert result.reasons == ["the challenger has served no requests yet"]


def test_equal_variants_with_enough_traffic_pass() -> None:
    result = analyse(_stats(20_000, seed=1, errors=10), _stats(5_000, seed=2, errors=3))
    assert result.verdict == "pass", result.reasons
    assert "within tolerance" in result.reasons[0]
    assert result.measures["error_rate"]["promote_upper"] < 0.01


def test_a_challenger_that_fails_often_is_rolled_back_with_the_rates_in_the_reason() -> None:
    result = analyse(_stats(2_000, seed=1, errors=2), _stats(300, seed=2, errors=30))
    assert result.verdict == "fail"
    assert len(result.reasons) == 1
    assert result.reasons[0].startswith("error rate 10.00% vs champion 0.10%: challenger worse")


def test_small_samples_continue_rather_than_decide() -> None:
    result = analyse(_stats(200, seed=1), _stats(20, seed=2))
    assert result.verdict == "continue"
    assert any("waiting for 100" in reason for reason in result.reasons)


def test_a_much_slower_challenger_trips_the_latency_guard() -> None:
    result = analyse(_stats(2_000, seed=1), _stats(500, seed=2, latency=60.0))
    assert result.verdict == "fail"
    assert "latency p95" in result.reasons[0]
    assert result.measures["latency_p95"]["ratio"] > 2.0


def test_a_shifted_prediction_distribution_without_expectation_holds_for_labels() -> None:
    """Divergence beyond the limit pauses (hold); it is no evidence for a rollback."""
    result = analyse(_stats(2_000, seed=1), _stats(500, seed=2, shift=3.0))
    assert result.verdict == "hold"
    assert "Jensen-Shannon" in result.reasons[0]
    assert "exceeds the limit 0.2" in result.reasons[0]
    assert "waiting for 100 labels" in result.reasons[1]


def test_labels_make_the_metric_test_required_until_min_labels() -> None:
    params = AnalysisConfig(min_labels=1_000)
    result = analyse(
        _stats(20_000, seed=1, accuracy=0.85), _stats(500, seed=2, accuracy=0.85), params
    )
    assert result.verdict == "continue"
    assert any("waiting for 1000 labels" in reason for reason in result.reasons)


def test_a_clearly_less_accurate_challenger_fails_on_the_metric() -> None:
    result = analyse(_stats(20_000, seed=1, accuracy=0.9), _stats(2_000, seed=2, accuracy=0.7))
    assert result.verdict == "fail"
    assert result.reasons[0].startswith("accuracy 0.")
    assert result.measures["metric"]["rollback_lower"] > 0


def test_regression_metric_on_numeric_labels() -> None:
    rng = np.random.default_rng(3)
    truth = rng.normal(size=3_000)
    champion = VariantStats(3_000, 0, np.full(3_000, 5.0), truth + rng.normal(0, 0.1, 3_000), truth)
    worse = VariantStats(3_000, 0, np.full(3_000, 5.0), truth + rng.normal(0, 1.0, 3_000), truth)
    result = analyse(champion, worse, AnalysisConfig(metric="mae", min_metric_delta=-0.05))
    assert result.verdict == "fail"
    assert result.measures["metric"]["challenger"] > result.measures["metric"]["champion"]


def test_unknown_metric_is_refused_with_the_supported_ones() -> None:
    with pytest.raises(ValueError, match="'accuracy', 'error', 'mae' or 'mse'"):
        AnalysisConfig(metric="auc")  # type: ignore[arg-type]
    unchecked = AnalysisConfig.model_construct(metric="auc")  # built around validation
    with pytest.raises(AnalysisError, match="'auc' is not supported; supported: accuracy"):
        analyse(_stats(10, seed=1), _stats(10, seed=2), unchecked)


def test_inconsistent_stats_are_refused() -> None:
    with pytest.raises(AnalysisError, match="5 errors for 3 requests"):
        VariantStats(3, 5, [], [])
    with pytest.raises(AnalysisError, match="2 labels for 1 predictions"):
        VariantStats(1, 0, [1.0], [1], [1, 0])


def test_missing_labels_are_normalised_to_none() -> None:
    stats = VariantStats(3, 0, [1.0, 2.0, 3.0], ["a", "b", "c"], ["a", float("nan"), None])
    assert stats.labelled == 1
    assert list(stats.label_mask()) == [True, False, False]


def test_result_summary_and_dict_are_serialisable() -> None:
    import json

    result = analyse(_stats(2_000, seed=1, errors=2), _stats(300, seed=2, errors=30))
    assert result.summary.startswith("analysis fail: error rate")
    assert json.loads(json.dumps(result.to_dict()))["verdict"] == "fail"
