"""Drift tests with known answers: same distribution, shifted features, quality counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from monitoring_support import NUMERIC, reference_table

from conveyor.monitoring import assess_drift


@pytest.mark.parametrize("rows", [400, 5_000])
def test_window_from_the_reference_distribution_has_no_drift(
    profile: dict[str, Any], rows: int
) -> None:
    window = reference_table(rows, seed=7)
    drift, quality = assess_drift(window, profile)
    assert drift["tested"] == 6
    assert drift["drifted"] == []
    assert drift["dataset_drift"] is False
    assert quality["issues"] == []


@pytest.mark.parametrize(
    ("rows", "tests"), [(400, {"ks", "chi_square"}), (5_000, {"wasserstein", "jensen_shannon"})]
)
def test_test_is_chosen_by_type_and_window_size(
    profile: dict[str, Any], rows: int, tests: set[str]
) -> None:
    drift, _ = assess_drift(reference_table(rows, seed=3), profile)
    assert {result["test"] for result in drift["features"].values()} == tests


@pytest.mark.parametrize("rows", [400, 5_000])
def test_window_with_two_shifted_features_flags_exactly_those(
    profile: dict[str, Any], rows: int
) -> None:
    window = reference_table(rows, seed=11)
    window["x1"] = window["x1"] + 0.8
    rng = np.random.default_rng(5)
    window["colour"] = rng.choice(["red", "green", "blue"], size=rows, p=[0.2, 0.3, 0.5])
    drift, _ = assess_drift(window, profile, drift_share=0.3)
    assert drift["drifted"] == ["colour", "x1"]
    assert drift["share"] == pytest.approx(2 / 6)
    assert drift["dataset_drift"] is True


def test_scale_change_is_detected_by_every_numeric_test(profile: dict[str, Any]) -> None:
    window = reference_table(2_000, seed=4)
    window["x2"] = window["x2"] * 2.0
    for test in ("ks", "wasserstein", "chi_square", "jensen_shannon", "psi"):
        drift, _ = assess_drift(window, profile, features=["x2"], settings={"x2": _setting(test)})
        assert drift["drifted"] == ["x2"], test


def test_unseen_categories_and_out_of_range_values_are_counted(
    profile: dict[str, Any],
) -> None:
    window = reference_table(1_000, seed=9)
    window.loc[:99, "colour"] = "purple"
    window.loc[:49, "x0"] = 1e6
    _, quality = assess_drift(window, profile)
    colour = quality["columns"]["colour"]
    assert colour["unseen"] == 100
    assert colour["unseen_share"] == pytest.approx(0.1)
    assert colour["unseen_values"] == ["purple"]
    assert colour["unseen_exact"] is True
    x0 = quality["columns"]["x0"]
    assert x0["out_of_range"] >= 50
    assert x0["out_of_range_share"] == pytest.approx(x0["out_of_range"] / 1_000)


def test_missing_values_are_measured_against_the_reference(profile: dict[str, Any]) -> None:
    window = reference_table(1_000, seed=2)
    window.loc[:249, "x3"] = np.nan
    _, quality = assess_drift(window, profile)
    assert quality["columns"]["x3"]["missing_share"] == pytest.approx(0.25)
    assert quality["columns"]["x3"]["reference_missing_share"] == 0.0


def test_missing_and_retyped_columns_are_reported_per_column_not_raised(
    profile: dict[str, Any],
) -> None:
    window = reference_table(500, seed=6).drop(columns=["x0"])
    window["x1"] = window["x1"].map(lambda v: f"{v:.3f}")
    window["colour"] = 1.5
    window["extra"] = 1
    drift, quality = assess_drift(window, profile, features=[*NUMERIC, "count", "colour"])
    columns = quality["columns"]
    assert columns["x0"]["status"] == "missing"
    assert columns["x1"]["status"] == "type_mismatch"
    assert "differs from the reference (numeric)" in columns["x1"]["message"]
    assert columns["colour"]["status"] == "type_mismatch"
    assert quality["issues"] == ["colour", "x0", "x1"]
    assert quality["unexpected_columns"] == ["extra"]
    assert set(drift["features"]) == {"x2", "x3", "count"}


def test_mixed_type_column_is_a_type_mismatch(profile: dict[str, Any]) -> None:
    window = reference_table(100, seed=6)
    window["x0"] = pd.Series([1.0, "a"] * 50, dtype=object)
    _, quality = assess_drift(window, profile)
    assert quality["columns"]["x0"]["status"] == "type_mismatch"


def test_overlay_shares_cover_the_window(profile: dict[str, Any]) -> None:
    drift, _ = assess_drift(reference_table(300, seed=1), profile)
    for result in drift["features"].values():
        overlay = result["overlay"]
        assert sum(overlay["window"]) == pytest.approx(1.0)
        assert sum(overlay["reference"]) == pytest.approx(1.0)


def _setting(test: str) -> Any:
    from conveyor.monitoring import FeatureSettings

    return FeatureSettings(test=test)
