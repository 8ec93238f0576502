"""Data checks on palmerpenguins with string, boolean, datetime and missing columns: a new
season of the same source passes, real violations and shifts are still caught."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import palmerpenguins
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.checks.data import (
    InferOptions,
    StoredSchema,
    check_importance,
    find_anomalies,
    infer_frame_schema,
    measure_drift,
    schema_outcome,
)
from conveyor.checks.data._schema_infer import DEFAULT_TOLERANCE, widen_range
from conveyor.data import compute_profile


def _penguins() -> pd.DataFrame:
    frame = palmerpenguins.load_penguins()
    frame["tagged"] = frame.index % 3 == 0  # bool
    frame["banded"] = pd.Series(  # booleans with gaps (object dtype)
        np.where(frame.index % 4 == 0, None, frame.index % 2 == 0), dtype=object
    )
    frame["measured"] = pd.to_datetime(frame["year"].astype(str) + "-06-01") + pd.to_timedelta(
        frame.index % 60, unit="D"
    )
    return frame


def _seasons() -> tuple[pd.DataFrame, pd.DataFrame]:
    """2007-2008 as the reference, 2009 as the new version (a natural shift)."""
    frame = _penguins()
    return frame[frame["year"] < 2009], frame[frame["year"] == 2009].reset_index(drop=True)


def _stored(frame: pd.DataFrame, options: InferOptions | None = None) -> StoredSchema:
    document = infer_frame_schema(frame, options=options)
    return StoredSchema("penguins", 1, 1, document, datetime.now(UTC), "tester")


def _profile(frame: pd.DataFrame) -> dict:  # type: ignore[type-arg]
    return compute_profile(pa.Table.from_pandas(frame, preserve_index=False))


def test_a_new_season_passes_the_schema_by_default_but_not_without_tolerance() -> None:
    reference, current = _seasons()
    assert InferOptions().tolerance == DEFAULT_TOLERANCE == 0.25
    outcome = schema_outcome(current, _stored(reference), "Dataset penguins@2")
    assert outcome.passed, outcome.explanation
    strict = schema_outcome(
        current, _stored(reference, InferOptions(tolerance=0.0)), "Dataset penguins@2"
    )
    assert not strict.passed
    assert any(c.startswith("in_range") for c in strict.details["columns"]["year"]["checks"])


@pytest.mark.parametrize("column", ["body_mass_g", "bill_length_mm"])
def test_values_ten_times_outside_still_fail_naming_the_column(column: str) -> None:
    reference, current = _seasons()
    broken = current.assign(**{column: current[column] * 10})
    outcome = schema_outcome(broken, _stored(reference), "Dataset penguins@2")
    assert not outcome.passed
    assert outcome.details["failing_columns"] == [column]
    assert any(c.startswith("in_range") for c in outcome.details["columns"][column]["checks"])
    assert column in outcome.explanation


def test_a_column_observed_non_negative_stays_non_negative() -> None:
    reference, current = _seasons()
    broken = current.assign(body_mass_g=current["body_mass_g"].where(current.index != 0, -1.0))
    outcome = schema_outcome(broken, _stored(reference), "Dataset penguins@2")
    assert outcome.details["columns"]["body_mass_g"]["examples"] == [-1.0]


def test_booleans_with_gaps_get_boolean_categories_and_an_unseen_island_fails() -> None:
    reference, current = _seasons()
    columns = infer_frame_schema(reference)["pandera"]["columns"]
    assert columns["banded"]["isin"] == [False, True]
    assert columns["island"]["isin"] == ["Biscoe", "Dream", "Torgersen"]
    assert "in_range" not in columns["measured"]  # dates move forward: no range
    odd = current.assign(banded=current["banded"].where(current.index != 1, "yes"))
    odd.loc[2, "island"] = "Atlantis"
    outcome = schema_outcome(odd, _stored(reference), "Dataset penguins@2")
    assert set(outcome.details["failing_columns"]) == {"island", "banded"}
    assert outcome.details["columns"]["island"]["examples"] == ["Atlantis"]


def test_widening_keeps_huge_numbers_finite_and_rounds_outwards() -> None:
    assert widen_range(-1e308, 1e308, 0.25, False) == (-1e308, 1e308)
    assert widen_range(32.1, 59.6, 0.25, False) == (25.22, 66.48)
    assert widen_range(2007, 2008, 0.25, True) == (2006.0, 2009.0)


def test_anomalies_accept_a_new_season_and_flag_a_far_out_column() -> None:
    reference, current = _seasons()
    profile = _profile(reference)
    assert find_anomalies(current, profile).passed
    broken = current.assign(flipper_length_mm=current["flipper_length_mm"] * 10)
    outcome = find_anomalies(broken, profile)
    assert list(outcome.details["columns"]) == ["flipper_length_mm"]
    assert "widened to" in outcome.explanation


def test_drift_passes_a_random_half_flags_a_shift_and_names_untested_datetimes() -> None:
    frame = _penguins()
    reference = frame.sample(frac=0.5, random_state=0)
    same = frame.drop(reference.index)
    calm = measure_drift(same, reference)
    assert calm.passed
    assert calm.details["drifted"] == []
    assert "measured" in calm.details["skipped"]
    assert "datetime" in calm.details["skipped"]["measured"]
    assert "Not tested: 'measured'" in calm.explanation
    shifted = same.assign(
        body_mass_g=same["body_mass_g"] * 1.15,
        island=same["island"].where(same.index % 2 == 0, "Biscoe"),
        tagged=True,
    )
    moved = measure_drift(shifted, reference)
    assert set(moved.details["drifted"]) == {"body_mass_g", "island", "tagged"}


def test_importance_flags_noise_columns_of_every_type_and_keeps_real_features() -> None:
    frame = palmerpenguins.load_penguins()
    rng = np.random.default_rng(0)
    frame["noise_text"] = rng.choice(["a", "b", "c", None], len(frame))
    frame["noise_flag"] = rng.choice([True, False], len(frame))
    frame["noise_date"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        rng.integers(0, 365, len(frame)), unit="D"
    )
    outcome = check_importance(frame, "species")
    flagged = set(outcome.details["flagged"])
    assert {"noise_text", "noise_flag", "noise_date"} <= flagged
    assert not {"island", "bill_length_mm", "bill_depth_mm"} & flagged
