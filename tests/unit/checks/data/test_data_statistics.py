"""Anomalies, drift, leakage, duplicates, class balance and feature importance: known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from orders_data import labelled, orders

from conveyor.checks.data import (
    DataCheckInputError,
    check_importance,
    count_duplicates,
    detect_leakage,
    find_anomalies,
    measure_class_balance,
    measure_drift,
)
from conveyor.data import compute_profile


def _profile(frame: pd.DataFrame) -> dict:
    return compute_profile(pa.Table.from_pandas(frame, preserve_index=False))


# -- anomalies --------------------------------------------------------------------------


def test_no_anomalies_against_its_own_profile() -> None:
    frame = orders()
    outcome = find_anomalies(frame, _profile(frame))
    assert outcome.passed
    assert outcome.value == 0


def test_anomalies_find_new_categories_out_of_range_and_missingness() -> None:
    reference = orders()
    current = orders(seed=1)
    current.loc[:9, "region"] = "east"  # a category the reference never had
    current.loc[:19, "price"] = 500.0  # 10% far above the reference maximum
    current.loc[:49, "quantity"] = None  # 25% missing where none were
    outcome = find_anomalies(current, _profile(reference))
    columns = outcome.details["columns"]
    assert not outcome.passed
    assert set(columns) == {"region", "price", "quantity"}
    assert columns["region"]["new_categories"] == ["east"]
    assert columns["price"]["out_of_range_share"] == pytest.approx(0.1, abs=0.01)
    assert columns["quantity"]["missing_share"] == pytest.approx(0.25)
    assert "'region' (new categories 'east')" in outcome.explanation
    assert "outside the reference range" in outcome.explanation


def test_anomalies_name_a_vanished_column() -> None:
    reference = orders()
    outcome = find_anomalies(reference.drop(columns=["coupon"]), _profile(reference))
    assert outcome.details["columns"] == {"coupon": {"missing_column": True}}


# -- drift ------------------------------------------------------------------------------


def test_identical_data_does_not_drift() -> None:
    frame = orders()
    outcome = measure_drift(frame, frame.copy())
    assert outcome.passed
    assert outcome.value == 0.0
    assert all(m["p_value"] == pytest.approx(1.0) for m in outcome.details["columns"].values())


def test_a_shifted_mean_flags_exactly_that_column() -> None:
    reference = orders(400)
    current = reference.assign(price=reference["price"] + 25.0)
    outcome = measure_drift(current, reference)
    assert outcome.details["drifted"] == ["price"]
    assert outcome.details["columns"]["price"]["test"] == "ks"
    assert outcome.value == pytest.approx(1 / 5)
    assert outcome.passed  # 20% drifted is within the default 25%
    strict = measure_drift(current, reference, max_drift_share=0.0)
    assert not strict.passed
    assert "'price' (ks p=" in strict.explanation


def test_a_changed_category_mix_drifts_by_chi_square() -> None:
    reference = orders(600)
    current = reference.copy()
    current.loc[:299, "region"] = "north"
    outcome = measure_drift(current, reference)
    assert outcome.details["drifted"] == ["region"]
    assert outcome.details["columns"]["region"]["test"] == "chi2"


# -- leakage ----------------------------------------------------------------------------


def test_a_noisy_copy_of_the_target_is_flagged_as_leakage() -> None:
    frame = labelled()
    rng = np.random.default_rng(1)
    leaky = frame.assign(leak=frame["target"] + rng.normal(scale=0.01, size=len(frame)))
    outcome = detect_leakage(leaky, "target")
    assert not outcome.passed
    assert outcome.details["leaking"] == ["leak"]
    assert outcome.value == pytest.approx(1.0)
    assert "'leak' (roc_auc 1)" in outcome.explanation


def test_honest_features_are_not_leakage() -> None:
    outcome = detect_leakage(labelled(), "target")
    assert outcome.passed
    assert 0.6 < outcome.value < 0.95
    assert "the best is 'a'" in outcome.explanation


def test_leakage_on_a_numeric_target_uses_r2() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    y = 2 * x + rng.normal(size=300)
    frame = pd.DataFrame({"x": x, "copy": y * 1.5 + 3 + rng.normal(scale=0.01, size=300), "y": y})
    outcome = detect_leakage(frame, "y")
    assert outcome.details["metric"] == "r2"
    assert outcome.details["leaking"] == ["copy"]


# -- duplicates and class balance -------------------------------------------------------


def test_duplicates_are_counted() -> None:
    frame = orders(100)
    doubled = pd.concat([frame, frame.iloc[:7]], ignore_index=True)
    outcome = count_duplicates(doubled)
    assert outcome.details["duplicates"] == 7
    assert outcome.value == pytest.approx(7 / 107)
    assert not outcome.passed
    assert "7 of 107 rows" in outcome.explanation
    assert count_duplicates(frame).passed
    by_region = count_duplicates(frame, subset=["region"], max_share=1.0)
    assert by_region.details["duplicates"] == 97


def test_duplicates_subset_must_exist() -> None:
    with pytest.raises(DataCheckInputError, match="'nope' is not in the dataset"):
        count_duplicates(orders(), subset=["nope"])


def test_class_imbalance_is_measured() -> None:
    frame = pd.DataFrame({"label": ["ok"] * 95 + ["fraud"] * 5})
    outcome = measure_class_balance(frame, "label", min_ratio=0.1)
    assert outcome.value == pytest.approx(5 / 95)
    assert not outcome.passed
    assert outcome.details["classes"] == {"ok": 95, "fraud": 5}
    assert "'fraud', 5 rows, 5%" in outcome.explanation
    balanced = measure_class_balance(pd.DataFrame({"label": [0, 1] * 50}), "label")
    assert balanced.passed
    assert balanced.value == 1.0


def test_a_single_class_fails_balance() -> None:
    outcome = measure_class_balance(pd.DataFrame({"label": [1] * 10}), "label")
    assert not outcome.passed
    assert "a single class (1)" in outcome.explanation


# -- feature importance -----------------------------------------------------------------


def test_a_random_noise_feature_is_flagged_by_permutation_importance() -> None:
    outcome = check_importance(labelled(), "target")
    assert outcome.details["flagged"] == ["noise"]
    assert not outcome.passed
    assert outcome.value == 1
    importances = outcome.details["importances"]
    assert importances["a"]["mean"] > importances["b"]["mean"] > 0.05
    assert "'noise'" in outcome.explanation


def test_feature_importance_needs_enough_rows() -> None:
    with pytest.raises(DataCheckInputError, match="at least 20 labelled rows"):
        check_importance(labelled(10), "target")
