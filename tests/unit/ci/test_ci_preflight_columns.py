"""Columns named in ``evaluation:`` are checked against real data (penguins) before training:
a typo is refused with the closest column; a column the pipeline derives is not."""

from __future__ import annotations

import pytest
from palmerpenguins import load_penguins

from conveyor.ci._preflight import check_columns
from conveyor.config._model import EvaluationConfig
from conveyor.errors import ConfigError


@pytest.fixture(scope="module")
def tables() -> dict[str, list[str]]:
    return {"penguins@1": [str(c) for c in load_penguins().columns]}


@pytest.mark.parametrize(
    ("fields", "setting", "closest"),
    [
        ({"target": "spcies"}, "target", "species"),
        ({"target": "species", "slices": ("islands",)}, "slices", "island"),
        ({"target": "species", "sensitive": ("sexe",)}, "sensitive", "sex"),
    ],
)
def test_a_typo_is_refused_before_training_with_the_closest_column(
    tables: dict[str, list[str]], fields: dict[str, object], setting: str, closest: str
) -> None:
    evaluation = EvaluationConfig.model_validate(fields)
    with pytest.raises(ConfigError, match=f"evaluation.{setting} names column") as info:
        check_columns(evaluation, tables, "the pinned data", typos_only=True)
    assert info.value.fields["closest"] == closest
    assert f"Did you mean {closest!r}?" in info.value.message
    assert "penguins@1" in info.value.message


def test_a_derived_column_is_not_refused_before_training(tables: dict[str, list[str]]) -> None:
    evaluation = EvaluationConfig.model_validate(
        {"target": "species", "slices": ("body_mass_band",), "irrelevant": ("row_id",)}
    )
    check_columns(evaluation, tables, "the pinned data", typos_only=True)


def test_the_holdout_is_checked_strictly(tables: dict[str, list[str]]) -> None:
    evaluation = EvaluationConfig.model_validate({"target": "species", "slices": ("band",)})
    with pytest.raises(ConfigError, match="'band', which the holdout"):
        check_columns(evaluation, {"the holdout": tables["penguins@1"]}, "the holdout")


def test_correct_columns_and_no_tables_pass(tables: dict[str, list[str]]) -> None:
    good = EvaluationConfig.model_validate(
        {"target": "species", "slices": ("island",), "sensitive": ("sex",)}
    )
    check_columns(good, tables, "the pinned data")
    check_columns(EvaluationConfig.model_validate({"target": "nope"}), {}, "the pinned data")
