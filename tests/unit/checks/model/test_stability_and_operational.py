"""Robustness, invariance, latency, artifact size and parity on real scikit-learn models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

from conveyor.checks.model._errors import ModelCheckInputError
from conveyor.checks.model._operational import artifact_size, latency, parity
from conveyor.checks.model._stability import invariance, robustness


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(
        {"a": rng.normal(size=400), "b": rng.normal(size=400), "noise": rng.normal(size=400)}
    )
    return x, (x["a"] + x["b"] > 0).to_numpy().astype(int)


def test_a_feature_the_model_ignores_is_invariant_and_one_it_uses_is_not(data) -> None:
    x, y = data
    ignores_noise = make_pipeline(
        ColumnTransformer([("keep", "passthrough", ["a", "b"])], remainder="drop"),
        LogisticRegression(),
    ).fit(x, y)
    assert invariance(ignores_noise, x, ["noise"]).passed
    used = invariance(ignores_noise, x, ["a"])
    assert not used.passed
    assert used.value > 0.2
    assert "a (" in used.explanation


def test_invariance_with_a_missing_column_names_it() -> None:
    frame = pd.DataFrame({"a": [1.0]})
    with pytest.raises(ModelCheckInputError, match=r"'zip' is not in the holdout\. Columns: a"):
        invariance(LogisticRegression(), frame, ["zip"])


def test_robustness_noise_passes_and_a_model_refusing_nan_fails_saying_why(data) -> None:
    x, y = data
    model = LogisticRegression().fit(x, y)
    noise_only = robustness(model, x, missing=False)
    assert noise_only.passed
    assert noise_only.value["noise_unchanged"] >= 0.95
    refuses = robustness(model, x)
    assert not refuses.passed
    assert "cannot take missing values" in refuses.explanation
    assert "NaN" in refuses.explanation  # scikit-learn's own reason is quoted


def test_robustness_with_a_model_that_takes_nan(data) -> None:
    x, y = data
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(x, y)
    outcome = robustness(model, x, missing_share=0.02, min_unchanged=0.9)
    assert outcome.passed, outcome.explanation
    assert 0.9 <= outcome.value["missing_unchanged"] <= 1.0
    harsh = robustness(model, x, noise_scale=3.0)
    assert not harsh.passed


def test_latency_generous_budget_passes_and_zero_budget_fails(data) -> None:
    x, y = data
    model = LogisticRegression().fit(x, y)
    assert latency(model, x, budget_ms=10_000, n=20).passed
    zero = latency(model, x, budget_ms=0, n=20)
    assert not zero.passed
    assert "p95 single-row predict latency" in zero.explanation


def test_artifact_size_sums_file_sizes() -> None:
    manifest = {"files": {"model.skops": {"hash": "h1", "size": 700}, "x": {"size": 300}}}
    assert artifact_size(manifest, max_bytes=1000).passed
    over = artifact_size(manifest, max_bytes=999)
    assert not over.passed
    assert over.value == 1000


def test_parity_detects_a_different_model(data) -> None:
    x, y = data
    model = LogisticRegression().fit(x, y)
    assert parity(model, model, x).passed
    other = LogisticRegression().fit(x, 1 - y)
    outcome = parity(model, other, x)
    assert not outcome.passed
    assert f"{len(x)} differ" in outcome.explanation


def test_empty_holdout_is_a_clear_error(data) -> None:
    x, y = data
    model = LogisticRegression().fit(x, y)
    with pytest.raises(ModelCheckInputError, match=r"holdout is empty \(0 rows\)"):
        robustness(model, x.iloc[:0])
