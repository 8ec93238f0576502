"""A new sample of heavy-tailed real data passes the schema: a few values beyond a widened
range are outliers, not a shift. Many such values still fail."""

from __future__ import annotations

from datetime import UTC, datetime

from sklearn.datasets import load_breast_cancer

from conveyor.checks.data import infer_frame_schema, schema_outcome
from conveyor.checks.data._schema_store import StoredSchema


def _cancer() -> tuple[object, object]:
    frame = load_breast_cancer(as_frame=True).frame
    return frame.sample(frac=0.6, random_state=0).reset_index(drop=True), frame


def _stored(frame: object) -> StoredSchema:
    document = infer_frame_schema(frame)  # type: ignore[arg-type]
    return StoredSchema("cancer", 1, 1, document, datetime.now(UTC), "tester")


def test_a_larger_sample_with_a_few_outliers_passes_and_names_them() -> None:
    reference, everything = _cancer()
    outcome = schema_outcome(everything, _stored(reference), "Dataset cancer@2")  # type: ignore[arg-type]
    assert outcome.passed, outcome.explanation
    assert outcome.details["tolerated"], "the sample has values beyond the widened ranges"
    strict = schema_outcome(
        everything,  # type: ignore[arg-type]
        _stored(reference),
        "Dataset cancer@2",
        range_outlier_share=0.0,
    )
    assert not strict.passed


def test_a_shift_of_many_rows_still_fails_naming_the_column() -> None:
    reference, everything = _cancer()
    shifted = everything.copy()  # type: ignore[attr-defined]
    rows = shifted.index[: len(shifted) // 10]
    shifted.loc[rows, "mean radius"] = shifted.loc[rows, "mean radius"] * 3
    outcome = schema_outcome(shifted, _stored(reference), "Dataset cancer@2")
    assert not outcome.passed
    assert outcome.details["failing_columns"] == ["mean radius"]
