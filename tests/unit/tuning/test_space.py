"""Search-space specs: valid ones become Optuna distributions, bad ones name the parameter."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from conveyor.tuning import Categorical, Float, Int, SearchSpaceError, TuneError, tune
from conveyor.tuning._space import to_distributions


def test_specs_map_to_optuna_distributions() -> None:
    dists = to_distributions(
        {
            "lr": Float(1e-4, 1e-1, log=True),
            "depth": Int(2, 10, step=2),
            "crit": Categorical(["gini", "entropy"]),
            "raw": FloatDistribution(0.0, 1.0),
        }
    )
    assert dists["lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert dists["depth"] == IntDistribution(2, 10, step=2)
    assert dists["crit"] == CategoricalDistribution(("gini", "entropy"))
    assert dists["raw"] == FloatDistribution(0.0, 1.0)


@given(
    low=st.floats(-1e6, 1e6, allow_nan=False),
    width=st.floats(0, 1e6, allow_nan=False),
)
def test_any_ordered_finite_float_range_is_accepted(low: float, width: float) -> None:
    dist = to_distributions({"x": Float(low, low + width)})["x"]
    assert isinstance(dist, FloatDistribution)
    assert dist.low == low


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (Float(1.0, 0.1), "low 1.0 is greater than high 0.1"),
        (Float(0.0, 1.0, log=True), "a log scale needs low > 0"),
        (Float(0.1, 1.0, log=True, step=0.1), "log=True and step cannot be combined"),
        (Float(0.0, float("inf")), "finite numbers"),
        (Int(5, 1), "low 5 is greater than high 1"),
        (Int(0, 10, log=True), "a log scale needs low >= 1"),
        (Int(1, 10, step=0), "step must be >= 1"),
        (Int(1.5, 10), "must be integers"),  # type: ignore[arg-type]
        (Categorical([]), "it has no choices"),
        (Categorical([object()]), "is not None, a bool, number or string"),
        ((0, 1), "unsupported spec"),
        ([1, 2, 3], "unsupported spec"),
    ],
)
def test_bad_spec_error_names_the_parameter(spec: Any, reason: str) -> None:
    with pytest.raises(SearchSpaceError, match=reason) as info:
        to_distributions({"learning_rate": spec})
    assert "'learning_rate'" in str(info.value)
    assert info.value.fields["param"] == "learning_rate"
    assert "Float(low, high" in (info.value.hint or "")


def test_space_must_be_a_mapping_with_string_names() -> None:
    with pytest.raises(SearchSpaceError, match="must be a dict"):
        to_distributions([Float(0, 1)])  # type: ignore[arg-type]
    with pytest.raises(SearchSpaceError, match="non-empty strings"):
        to_distributions({3: Float(0, 1)})  # type: ignore[dict-item]


def test_tune_rejects_a_bad_space_before_touching_any_store(tmp_path: Any) -> None:
    with pytest.raises(SearchSpaceError, match="'x'"):
        tune(lambda p: 0.0, {"x": Float(2, 1)}, n_trials=1, workspace=tmp_path)
    assert not (tmp_path / ".conveyor").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trials": 1, "direction": "up"}, "direction must be 'minimize' or 'maximize'"),
        ({}, "needs n_trials or timeout"),
        ({"n_trials": 0}, "n_trials must be a positive integer"),
        ({"timeout": -1.0}, "timeout must be a positive number"),
        ({"n_trials": 1, "n_jobs": 0}, "n_jobs must be >= 1"),
    ],
)
def test_bad_tune_arguments_are_refused(
    tmp_path: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TuneError, match=message):
        tune(lambda p: 0.0, {"x": Float(0, 1)}, workspace=tmp_path, **kwargs)
    assert not (tmp_path / ".conveyor").exists()


def test_an_objective_without_arguments_is_refused(tmp_path: Any) -> None:
    with pytest.raises(TuneError, match="takes no positional argument"):
        tune(lambda: 0.0, {"x": Float(0, 1)}, n_trials=1, workspace=tmp_path)
