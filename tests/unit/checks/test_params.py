"""Params validation: unknown or ill-typed params and gates are configuration errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pytest

from conveyor.checks import (
    Check,
    CheckContext,
    CheckParams,
    CheckResult,
    CheckSpec,
    CheckSuite,
    register_check,
    unregister_check,
    validate_config,
)
from conveyor.config import ConveyorConfig
from conveyor.errors import ConfigError


class ThresholdCheck(Check):
    name = "threshold_test"
    subject_kind = "model"

    class Params(CheckParams):
        metric: str
        min: float
        mode: Literal["superiority", "non_inferiority"] = "superiority"

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        return self.result(ctx, passed=True)


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    register_check(ThresholdCheck)
    yield
    unregister_check(ThresholdCheck.name)


def test_valid_params_come_back_typed_with_defaults() -> None:
    params = ThresholdCheck.validate_params({"metric": "auc", "min": "0.5"})
    assert params == {"metric": "auc", "min": 0.5, "mode": "superiority"}


def test_threshold_of_the_wrong_type_names_check_param_and_type() -> None:
    with pytest.raises(ConfigError, match=r"check 'threshold_test'.*min.*'high'") as info:
        ThresholdCheck.validate_params({"metric": "auc", "min": "high"})
    assert info.value.hint is not None
    assert "min: float" in info.value.hint


def test_unknown_param_is_refused() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        ThresholdCheck.validate_params({"metric": "auc", "min": 1, "bogus": 2})


def test_missing_required_param_is_refused() -> None:
    with pytest.raises(ConfigError, match="min: Field required"):
        ThresholdCheck.validate_params({"metric": "auc"})


def test_suite_validates_every_spec_before_running() -> None:
    with pytest.raises(ConfigError, match="Invalid params"):
        CheckSuite([CheckSpec("threshold_test", {"metric": "auc", "min": [1]})])
    with pytest.raises(ConfigError, match="Invalid severity 'fatal'"):
        CheckSuite([CheckSpec("threshold_test", {"metric": "a", "min": 1}, "fatal")])  # type: ignore[arg-type]


def test_validate_config_accepts_good_gates() -> None:
    config = ConveyorConfig.model_validate(
        {"gates": [{"check": "threshold_test", "params": {"metric": "auc", "min": 0.9}}]}
    )
    specs = validate_config(config)
    assert specs == [CheckSpec("threshold_test", {"metric": "auc", "min": 0.9}, None)]


def test_validate_config_unknown_check_lists_valid_choices() -> None:
    config = ConveyorConfig.model_validate({"gates": [{"check": "min_metrc"}]})
    with pytest.raises(ConfigError, match=r"gates\[0\]: unknown check 'min_metrc'") as info:
        validate_config(config)
    assert info.value.hint is not None
    assert "min_metric" in info.value.hint
    assert "threshold_test" in info.value.hint


def test_validate_config_bad_threshold_names_the_gate() -> None:
    config = ConveyorConfig.model_validate(
        {
            "gates": [
                {"check": "threshold_test", "params": {"metric": "a", "min": 1}},
                {"check": "threshold_test", "params": {"metric": "a", "min": "high"}},
            ]
        }
    )
    with pytest.raises(ConfigError, match=r"gates\[1\]: Invalid params.*min"):
        validate_config(config)


def test_config_sections_are_declarative_and_strict() -> None:
    config = ConveyorConfig.model_validate(
        {
            "pipelines": {"training": "pipelines:training", "params": {"n_trials": 4}},
            "evaluation": {"model": "cancer-classifier", "target": "target", "slices": ["a"]},
            "gates": [{"check": "calibration", "severity": "warning"}],
        }
    )
    assert config.pipelines.training == "pipelines:training"
    assert config.evaluation.slices == ("a",)
    assert config.gates[0].severity == "warning"
    with pytest.raises(ValueError, match="MODULE:PIPELINE"):
        ConveyorConfig.model_validate({"pipelines": {"training": "no-colon"}})
    with pytest.raises(ValueError, match="severity"):
        ConveyorConfig.model_validate({"gates": [{"check": "x", "severity": "fatal"}]})
    with pytest.raises(ValueError, match="thresold"):
        ConveyorConfig.model_validate({"gates": [{"check": "x", "thresold": 1}]})
