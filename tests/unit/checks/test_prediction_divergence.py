"""The prediction divergence a gate records and a canary compares with: bins, counts, records."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.checks import CheckResult, Subject
from conveyor.checks._gates import expected_divergence
from conveyor.checks.model import (
    DivergenceProfile,
    ModelCheckInputError,
    divergence_profile,
    jensen_shannon,
)


def _cancer_predictions() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    x, y = load_breast_cancer(return_X_y=True)
    small = make_pipeline(StandardScaler(), LogisticRegression(C=0.01)).fit(x[:300, :3], y[:300])
    full = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x[:300], y[:300])
    return small.predict(x[300:, :3]), full.predict(x[300:])


def test_classifier_predictions_are_binned_by_class_with_an_unseen_bin() -> None:
    champion, challenger = _cancer_predictions()
    profile = divergence_profile(champion, challenger, champion_ref="cancer@1")
    assert profile.kind == "categorical"
    assert profile.bins == (0.0, 1.0)
    assert sum(profile.champion) == sum(profile.challenger) == len(champion) == profile.rows
    assert profile.champion[-1] == profile.challenger[-1] == 0  # the unseen-class bin
    assert 0 <= profile.value < 0.2


def test_a_class_logged_as_a_float_or_string_falls_in_its_bin() -> None:
    profile = divergence_profile(np.array([0, 1, 1]), np.array([1, 1, 0]))
    counts = profile.histogram(np.array([1.0, 0.0, 1.0, 7.0], dtype=object))
    assert counts.tolist() == [1.0, 2.0, 1.0]  # 7 was never predicted on the holdout
    labels = divergence_profile(np.array(["Adelie", "Gentoo"]), np.array(["Gentoo", "Gentoo"]))
    assert labels.histogram(["Gentoo", "Chinstrap"]).tolist() == [0.0, 1.0, 1.0]


def test_regression_predictions_are_cut_at_the_champions_deciles() -> None:
    x, y = load_diabetes(return_X_y=True)
    old = Ridge().fit(x[:200], y[:200])
    new = Ridge().fit(x[200:320], y[200:320] * 1.5 + 60)
    profile = divergence_profile(old.predict(x[320:]), new.predict(x[320:]))
    assert profile.kind == "numeric"
    assert len(profile.bins) == 9
    assert len(profile.champion) == 10
    assert profile.value > 0.3  # a model retrained on a shifted target answers differently


def test_the_record_round_trips_through_json() -> None:
    champion, challenger = _cancer_predictions()
    profile = divergence_profile(champion, challenger, champion_ref="cancer@1")
    stored = json.loads(json.dumps(profile.to_dict()))
    assert DivergenceProfile.from_dict(stored) == profile


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"champion": [1.0]}, "needs 3 counts per model"),
        ({"challenger": [1.0, -2.0, 0.0]}, "negative counts"),
        ({"value": "NaN"}, "non-finite"),
        ({"rows": "many"}, "malformed"),
        ({"kind": "histogram"}, "of kind 'histogram'"),
        ({"bins": list(range(5_000)), "champion": [1.0] * 5_001, "challenger": [1.0] * 5_001},
         "5001 bins"),
    ],
)  # fmt: skip
def test_crafted_records_are_refused(change: dict[str, Any], match: str) -> None:
    stored = {**divergence_profile(np.array([0, 1]), np.array([1, 1])).to_dict(), **change}
    with pytest.raises(ModelCheckInputError, match=match):
        DivergenceProfile.from_dict(stored)


def test_hostile_prediction_values_are_binned_not_crashed_on() -> None:
    values = np.array([10**400, float("nan"), "\udcff", None, 1], dtype=object)
    profile = divergence_profile(values, values)
    assert profile.value == 0.0
    assert sum(profile.histogram(values)) == len(values)


def test_empty_predictions_are_refused() -> None:
    with pytest.raises(ModelCheckInputError, match="got 0 and 2"):
        divergence_profile(np.array([]), np.array([1, 2]))


def test_jensen_shannon_of_identical_and_disjoint_histograms() -> None:
    assert jensen_shannon(np.array([3.0, 1.0]), np.array([6.0, 2.0])) == 0.0
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 1.0
    assert jensen_shannon(np.array([0.0, 0.0]), np.array([0.0, 1.0])) == 0.0


def test_the_gate_finds_the_profile_a_check_recorded() -> None:
    profile = divergence_profile(np.array([0, 1]), np.array([1, 1])).to_dict()
    result = CheckResult(
        name="champion_comparison",
        subject=Subject("model", "cancer@2"),
        passed=True,
        status="passed",
        severity="error",
        details={"expected_divergence": profile},
    )
    assert expected_divergence([result]) == profile
