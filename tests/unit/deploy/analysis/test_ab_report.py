"""The A/B report: intervals, difference, significance and the traffic split."""

from __future__ import annotations

import numpy as np
import pytest

from conveyor.rollout.analysis import AnalysisError, VariantStats, ab_report
from conveyor.rollout.analysis._ab import wilson


def _arm(n: int, accuracy: float, seed: int) -> VariantStats:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    predictions = np.where(rng.random(n) < accuracy, truth, 1 - truth)
    return VariantStats(n, 0, np.full(n, 10.0), predictions, truth)


def test_a_real_difference_is_significant_and_its_interval_excludes_zero() -> None:
    report = ab_report({"a": _arm(4_000, 0.80, 1), "b": _arm(4_000, 0.85, 2)})
    assert report.difference is not None
    assert report.difference.baseline == "a"
    assert report.difference.significant
    assert report.difference.p_value < 0.001
    assert 0 < report.difference.ci[0] < report.difference.estimate < report.difference.ci[1]


def test_no_difference_is_not_significant() -> None:
    report = ab_report({"a": _arm(2_000, 0.8, 3), "b": _arm(2_000, 0.8, 4)})
    assert report.difference is not None
    assert not report.difference.significant
    lo, hi = report.variants["b"].metric_ci or (0, 0)
    assert lo < 0.8 < hi


def test_split_shares_fall_inside_their_binomial_interval() -> None:
    rng = np.random.default_rng(5)
    to_b = int((rng.random(10_000) < 0.3).sum())
    report = ab_report(
        {"a": _arm(10_000 - to_b, 0.8, 6), "b": _arm(to_b, 0.8, 7)},
        weights={"a": 70.0, "b": 30.0},
    )
    assert report.variants["b"].expected_share == pytest.approx(0.3)
    assert report.variants["b"].share_ok
    assert report.variants["a"].share_ok
    assert report.to_dict()["variants"]["b"]["share_ok"] is True


def test_wilson_interval_matches_the_textbook_value() -> None:
    assert wilson(50, 100, 1.959964) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson(0, 0, 1.96) == (0.0, 1.0)


def test_without_labels_there_is_no_difference_to_report() -> None:
    plain = VariantStats(10, 0, np.ones(10), np.ones(10))
    report = ab_report({"a": plain, "b": plain})
    assert report.difference is None
    assert report.variants["a"].metric is None


def test_a_single_variant_is_refused() -> None:
    with pytest.raises(AnalysisError, match="needs two variants"):
        ab_report({"a": _arm(10, 0.8, 1)})
