"""Holdout metrics agree with scikit-learn; the paired bootstrap has known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from conveyor.checks.model._comparison import compare
from conveyor.checks.model._errors import ModelCheckInputError
from conveyor.checks.model._inputs import Scored
from conveyor.checks.model._metrics import METRICS, get_metric
from conveyor.checks.model._stats import paired_bootstrap


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])),
        min_size=2,
        max_size=40,
    )
)
def test_roc_auc_equals_sklearn_including_ties(rows: list[tuple[int, float]]) -> None:
    y = np.array([r[0] for r in rows])
    score = np.array([r[1] for r in rows])
    ours = METRICS["roc_auc"].fn(y, (score > 0.5).astype(int), score)
    if len(set(y.tolist())) < 2:
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(skm.roc_auc_score(y, score))


def test_label_and_regression_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    pred = np.where(rng.random(200) < 0.8, y, 1 - y)
    score = np.clip(pred * 0.7 + rng.random(200) * 0.3, 0, 1)
    assert METRICS["accuracy"].fn(y, pred, None) == pytest.approx(skm.accuracy_score(y, pred))
    assert METRICS["f1"].fn(y, pred, None) == pytest.approx(skm.f1_score(y, pred))
    assert METRICS["precision"].fn(y, pred, None) == pytest.approx(skm.precision_score(y, pred))
    assert METRICS["recall"].fn(y, pred, None) == pytest.approx(skm.recall_score(y, pred))
    assert METRICS["brier"].fn(y, pred, score) == pytest.approx(skm.brier_score_loss(y, score))
    assert METRICS["log_loss"].fn(y, pred, score) == pytest.approx(skm.log_loss(y, score))
    yr = rng.normal(size=50)
    pr = yr + rng.normal(scale=0.3, size=50)
    assert METRICS["r2"].fn(yr, pr, None) == pytest.approx(skm.r2_score(yr, pr))
    assert METRICS["mae"].fn(yr, pr, None) == pytest.approx(skm.mean_absolute_error(yr, pr))
    assert METRICS["rmse"].fn(yr, pr, None) == pytest.approx(
        math.sqrt(skm.mean_squared_error(yr, pr))
    )


def test_unknown_metric_lists_the_valid_names() -> None:
    with pytest.raises(ModelCheckInputError, match="Unknown metric 'auc'") as info:
        get_metric("auc")
    assert "roc_auc" in (info.value.hint or "")


def _labels(n: int = 200, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, n)


def test_perfect_model_is_superior_to_a_shuffled_label_model() -> None:
    y = _labels()
    perfect = Scored(y, y.copy(), y.astype(float))
    shuffled = np.random.default_rng(5).permutation(y)
    random = Scored(y, shuffled, shuffled.astype(float))
    outcome = compare(get_metric("accuracy"), perfect, random, n_boot=300, seed=3)
    assert outcome.passed
    assert outcome.value["ci_low"] > 0.3
    assert "95% paired-bootstrap CI" in outcome.explanation
    assert "superiority requires the lower bound above 0: met" in outcome.explanation
    reverse = compare(get_metric("accuracy"), random, perfect, n_boot=300, seed=3)
    assert not reverse.passed
    assert reverse.value["ci_high"] < 0
    assert "not met" in reverse.explanation


def test_equal_models_pass_non_inferiority_with_a_margin_but_not_superiority() -> None:
    y = _labels()
    rng = np.random.default_rng(2)
    score = np.clip(y * 0.6 + rng.random(len(y)) * 0.4, 0, 1)
    model = Scored(y, (score > 0.5).astype(int), score)
    same = Scored(y, model.pred.copy(), score.copy())
    roc = get_metric("roc_auc")
    superiority = compare(roc, model, same, n_boot=200)
    assert superiority.value["delta"] == 0.0
    assert (superiority.value["ci_low"], superiority.value["ci_high"]) == (0.0, 0.0)
    assert not superiority.passed  # 0 is not above a margin of 0
    non_inferior = compare(roc, model, same, mode="non_inferiority", margin=0.01, n_boot=200)
    assert non_inferior.passed
    assert non_inferior.threshold == -0.01
    # The sign of the margin does not matter for non-inferiority.
    assert compare(roc, model, same, mode="non_inferiority", margin=-0.01, n_boot=50).passed


def test_bootstrap_is_paired_and_reproducible_with_a_seed() -> None:
    y = _labels(120)
    rng = np.random.default_rng(9)
    a = np.where(rng.random(120) < 0.85, y, 1 - y)
    b = np.where(rng.random(120) < 0.80, y, 1 - y)
    acc = get_metric("accuracy")
    first = paired_bootstrap(acc, y, (a, None), (b, None), n_boot=200, seed=7)
    again = paired_bootstrap(acc, y, (a, None), (b, None), n_boot=200, seed=7)
    assert first == again
    assert first.delta == pytest.approx(np.mean(a == y) - np.mean(b == y))
    assert first.low <= first.delta <= first.high
    narrow = paired_bootstrap(acc, y, (a, None), (b, None), n_boot=200, seed=7, level=0.5)
    assert narrow.high - narrow.low < first.high - first.low


def test_lower_is_better_metrics_count_a_lower_loss_as_improvement() -> None:
    y = _labels()
    good = Scored(y, y.copy(), np.where(y == 1, 0.9, 0.1))
    poor = Scored(y, y.copy(), np.where(y == 1, 0.6, 0.4))
    outcome = compare(get_metric("brier"), good, poor, n_boot=100)
    assert outcome.value["delta"] == pytest.approx(0.16 - 0.01)
    assert outcome.passed


def test_a_metric_undefined_on_the_holdout_fails_saying_nan() -> None:
    y = np.ones(20, dtype=int)  # one class: ROC AUC is undefined
    model = Scored(y, y.copy(), np.full(20, 0.8))
    outcome = compare(get_metric("roc_auc"), model, model, n_boot=20)
    assert not outcome.passed
    assert "NaN" in outcome.explanation
