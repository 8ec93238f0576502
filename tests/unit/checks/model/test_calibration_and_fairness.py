"""Calibration (Brier, ECE) and group rates on data with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.checks.model._calibration import calibration as calibration_check
from conveyor.checks.model._errors import ModelCheckInputError
from conveyor.checks.model._inputs import Scored, predict_scored
from conveyor.checks.model._metrics import get_metric
from conveyor.checks.model._segments import fairness, slices
from conveyor.checks.model._stats import calibration, group_rates


def test_ece_and_brier_match_a_hand_computed_example() -> None:
    # Bin [0.2, 0.3): scores 0.2, 0.2 with one positive -> |0.2 - 0.5| = 0.3, weight 0.5.
    # Bin [0.9, 1.0]: scores 0.9, 1.0 with two positives -> |0.95 - 1| = 0.05, weight 0.5.
    result = calibration(np.array([0, 1, 1, 1]), np.array([0.2, 0.2, 0.9, 1.0]), n_bins=10)
    assert result.ece == pytest.approx(0.5 * 0.3 + 0.5 * 0.05)
    assert result.brier == pytest.approx((0.04 + 0.64 + 0.01 + 0.0) / 4)
    assert [(b["low"], b["count"]) for b in result.bins] == [(pytest.approx(0.2), 2), (0.9, 2)]


class Overconfident:
    """Pushes a calibrated model's probabilities to 0 or 1."""

    def __init__(self, model: LogisticRegression) -> None:
        self.model = model
        self.classes_ = model.classes_

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = self.model.predict_proba(frame)[:, 1]
        sharp = np.where(p > 0.5, 0.999, 0.001)
        return np.column_stack([1 - sharp, sharp])


def _logistic_data(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    p = 1 / (1 + np.exp(-(1.2 * x["a"] - 0.8 * x["b"])))
    return x, (rng.random(n) < p).astype(int)


def test_logistic_regression_is_calibrated_and_an_overconfident_wrapper_is_not() -> None:
    x, y = _logistic_data()
    model = LogisticRegression().fit(x[:2000], y[:2000])
    good = calibration_check(predict_scored(model, x[2000:], y[2000:]), max_ece=0.05)
    assert good.passed, good.explanation
    assert good.value["ece"] < 0.05
    bad = calibration_check(predict_scored(Overconfident(model), x[2000:], y[2000:]), max_ece=0.05)
    assert not bad.passed
    assert bad.value["ece"] > 0.15
    assert bad.value["brier"] > good.value["brier"]
    assert len(bad.details["plot"]["mean_score"]) == 2  # all scores in the two end bins


def test_calibration_without_probabilities_is_an_input_error() -> None:
    y = np.array([0, 1])
    with pytest.raises(ModelCheckInputError, match="no predict_proba"):
        calibration_check(Scored(y, y, None))


def test_group_rates_known_answer() -> None:
    groups = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    pred = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    rates = group_rates(groups, y, pred)
    assert rates.positive_rate == {"a": 0.75, "b": 0.25}
    assert rates.tpr == {"a": 1.0, "b": 0.5}
    assert rates.demographic_parity_difference == 0.5
    assert rates.equal_opportunity_difference == 0.5


def test_a_biased_model_fails_fairness_and_an_unbiased_one_passes() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    frame = pd.DataFrame({"sex": rng.choice(["f", "m"], n)})
    y = rng.integers(0, 2, n)
    fair = np.where(rng.random(n) < 0.9, y, 1 - y)
    # Biased: for group "f" the model misses half of the positives.
    biased = np.where((frame["sex"] == "f") & (y == 1) & (rng.random(n) < 0.5), 0, fair)
    ok = fairness(frame, Scored(y, fair, None), ["sex"])
    assert ok.passed, ok.explanation
    unfair = fairness(frame, Scored(y, biased, None), ["sex"])
    assert not unfair.passed
    assert unfair.value["equal_opportunity_difference"] == pytest.approx(0.45, abs=0.06)
    assert "sex: equal opportunity difference" in unfair.explanation


def test_missing_sensitive_or_slice_column_is_named_with_the_columns_listed() -> None:
    frame = pd.DataFrame({"age": [1, 2], "region": ["n", "s"]})
    scored = Scored(np.array([0, 1]), np.array([0, 1]), None)
    with pytest.raises(
        ModelCheckInputError, match=r"'gender' is not in the holdout\. Columns: age, region"
    ):
        fairness(frame, scored, ["gender"])
    with pytest.raises(ModelCheckInputError, match=r"slice column 'segment' is not"):
        slices(frame, scored, ["segment"], get_metric("accuracy"), minimum=0.5)


def test_slices_flag_exactly_the_bad_segment() -> None:
    rng = np.random.default_rng(4)
    n = 600
    frame = pd.DataFrame({"region": rng.choice(["north", "south", "east"], n)})
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.95, y, 1 - y)
    east = (frame["region"] == "east").to_numpy()
    pred[east] = rng.integers(0, 2, east.sum())  # coin flips in the east
    outcome = slices(frame, Scored(y, pred, None), ["region"], get_metric("accuracy"), minimum=0.8)
    assert not outcome.passed
    failing = [s["segment"] for s in outcome.details["segments"] if s["status"] == "failed"]
    assert failing == ["east"]
    assert "region=east" in outcome.explanation
    assert outcome.value < 0.65


def test_small_segments_are_skipped_not_judged() -> None:
    frame = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 3})
    y = np.array([1] * 53)
    pred = np.array([1] * 50 + [0] * 3)
    outcome = slices(frame, Scored(y, pred, None), ["g"], get_metric("accuracy"), minimum=0.9)
    assert outcome.passed
    assert "1 segment(s) under 30 rows" in outcome.explanation
