"""Window specifications and the drift-test registry (built-ins, user tests, errors)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest
from monitoring_support import reference_table

from conveyor.monitoring import (
    DriftTest,
    DriftTestError,
    FeatureWindow,
    InvalidWindowError,
    Kind,
    Reference,
    Statistic,
    assess_drift,
    available_drift_tests,
    get_drift_test,
    parse_feature_settings,
    parse_window,
    register_drift_test,
    unregister_drift_test,
)


@pytest.mark.parametrize(
    ("text", "duration", "rows"),
    [
        ("1h", timedelta(hours=1), None),
        ("1d", timedelta(days=1), None),
        ("30m", timedelta(minutes=30), None),
        ("2w", timedelta(weeks=2), None),
        ("5000", None, 5000),
        (250, None, 250),
    ],
)
def test_window_parses_durations_and_row_counts(
    text: str | int, duration: timedelta | None, rows: int | None
) -> None:
    spec = parse_window(text)
    assert (spec.duration, spec.rows) == (duration, rows)


@pytest.mark.parametrize("text", ["", "0", "-5", "1y", "h", "1.5h", "soon"])
def test_bad_window_is_a_config_error_naming_it(text: str) -> None:
    with pytest.raises(InvalidWindowError, match="is not a duration or a row count"):
        parse_window(text)


def test_builtin_tests_are_listed_and_unknown_names_list_them() -> None:
    assert {"ks", "wasserstein", "chi_square", "jensen_shannon", "psi"} <= set(
        available_drift_tests()
    )
    with pytest.raises(DriftTestError, match="No drift test named 'energy'") as info:
        get_drift_test("energy")
    assert "jensen_shannon" in str(info.value.hint)


def test_feature_settings_reject_unknown_keys_and_bad_thresholds() -> None:
    with pytest.raises(DriftTestError, match=r"monitoring.features.age has unknown keys: tset"):
        parse_feature_settings({"age": {"tset": "ks"}})
    with pytest.raises(DriftTestError, match="threshold must be a number"):
        parse_feature_settings({"age": {"threshold": "high"}})
    with pytest.raises(DriftTestError, match="No drift test named"):
        parse_feature_settings({"age": {"test": "nope"}})


def test_categorical_only_test_on_a_numeric_feature_is_refused(profile: dict[str, Any]) -> None:
    class CategoryOnly(DriftTest):
        name: ClassVar[str] = "category_only"
        kinds: ClassVar[frozenset[Kind]] = frozenset({"categorical"})
        statistic: ClassVar[Statistic] = "distance"
        default_threshold: ClassVar[float] = 0.5

        def score(
            self, reference: Reference, window: FeatureWindow
        ) -> tuple[float, dict[str, Any]]:
            return 0.0, {}

    register_drift_test(CategoryOnly)
    try:
        settings = parse_feature_settings({"x0": {"test": "category_only"}})
        with pytest.raises(DriftTestError, match="does not apply to the numeric feature 'x0'"):
            assess_drift(reference_table(100), profile, settings=settings)
    finally:
        unregister_drift_test("category_only")


def test_user_registered_test_is_used_with_its_threshold(profile: dict[str, Any]) -> None:
    class AlwaysHalf(DriftTest):
        name: ClassVar[str] = "always_half"
        kinds: ClassVar[frozenset[Kind]] = frozenset({"numeric", "categorical"})
        statistic: ClassVar[Statistic] = "distance"
        default_threshold: ClassVar[float] = 0.4

        def score(
            self, reference: Reference, window: FeatureWindow
        ) -> tuple[float, dict[str, Any]]:
            return 0.5, {"size": window.size}

    register_drift_test(AlwaysHalf)
    try:
        settings = parse_feature_settings(
            {"x0": {"test": "always_half"}, "x1": {"test": "always_half", "threshold": 0.6}}
        )
        drift, _ = assess_drift(reference_table(200), profile, settings=settings)
        assert drift["features"]["x0"]["drifted"] is True
        assert drift["features"]["x1"]["drifted"] is False
        assert drift["features"]["x0"]["details"] == {"size": 200}
    finally:
        unregister_drift_test("always_half")


def test_skipped_feature_is_not_tested_but_quality_is_still_measured(
    profile: dict[str, Any],
) -> None:
    settings = parse_feature_settings({"colour": {"skip": True}})
    drift, quality = assess_drift(reference_table(200), profile, settings=settings)
    assert "colour" not in drift["features"]
    assert quality["columns"]["colour"]["status"] == "ok"


def test_register_refuses_a_class_that_is_not_a_drift_test() -> None:
    with pytest.raises(DriftTestError, match="is not a DriftTest subclass"):
        register_drift_test(dict)  # type: ignore[arg-type]
