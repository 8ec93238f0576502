"""The ``schema`` check: a dataset version against the stored schema of its dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from conveyor.checks._base import Check, CheckParams, CheckResult, Severity, SubjectKind
from conveyor.checks.data._errors import DataCheckInputError, SchemaNotFoundError
from conveyor.checks.data._outcome import Outcome
from conveyor.checks.data._schema_store import StoredSchema, get_schema, infer_schema
from conveyor.checks.data._schema_validate import ColumnFailure, validate_frame

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.checks._context import CheckContext


def _example(value: Any) -> str:
    return "null" if value is None else repr(value)


def _column_text(name: str, failure: ColumnFailure) -> str:
    examples = ", ".join(_example(v) for v in failure.examples)
    checks = ", ".join(failure.checks)
    return f"{name!r} ({checks}" + (f": {examples})" if examples else ")")


#: Share of a table's rows that may fall outside a column's (widened) range before the
#: column fails: a few outliers in a new sample of heavy-tailed data are not a shift (the
#: `anomalies` check reports them); more than this is.
DEFAULT_RANGE_OUTLIER_SHARE = 0.01


def _near_range(frame: pd.DataFrame, name: str, column: dict[str, Any]) -> bool:
    """Whether every value of ``name`` outside its range is an outlier near it: within one
    span of the range, and on the same side of zero as a range that has no negatives."""
    bounds = column.get("in_range") or {}
    low, high = bounds.get("min_value"), bounds.get("max_value")
    if low is None or high is None or name not in frame.columns:
        return False
    import pandas as pd  # the checks package loads pandas only when a check runs

    values = pd.to_numeric(frame[name], errors="coerce").dropna()
    span = float(high) - float(low)
    floor = max(float(low) - span, 0.0) if float(low) >= 0 else float(low) - span
    return bool(values.between(floor, float(high) + span).all())


def schema_outcome(
    frame: pd.DataFrame,
    stored: StoredSchema,
    subject: str,
    *,
    max_examples: int = 5,
    range_outlier_share: float = DEFAULT_RANGE_OUTLIER_SHARE,
) -> Outcome:
    """Validate ``frame`` against ``stored`` and say which columns fail and with what.

    A column whose only failures are values outside its range, in at most
    ``range_outlier_share`` of the rows and each within one span of the range (never
    negative where the range has no negatives), does not fail: those are outliers of a new
    sample, not a shift. It is listed under ``details["tolerated"]``.

    Returns:
        ``value`` is the number of failing columns (plus one when the row count is out of
        bounds); ``details["columns"]`` has the failed checks, up to ``max_examples``
        offending values and the failure count per column.
    """
    found, rows = validate_frame(frame, stored.document, max_examples=max_examples)
    allowed = range_outlier_share * len(frame)
    columns = (stored.document.get("pandera") or {}).get("columns") or {}
    tolerated = {
        name: failure
        for name, failure in found.items()
        if failure.checks
        and all(c.startswith("in_range") for c in failure.checks)
        and failure.count <= allowed
        and _near_range(frame, name, columns.get(name) or {})
    }
    failures = {name: f for name, f in found.items() if name not in tolerated}
    failing = len(failures) + (0 if rows["passed"] else 1)
    details = {
        "schema": {"dataset": stored.dataset, "version": stored.version},
        "from_dataset_version": stored.from_dataset_version,
        "columns": {name: failure.to_dict() for name, failure in failures.items()},
        "failing_columns": list(failures),
        "tolerated": {name: failure.to_dict() for name, failure in tolerated.items()},
        "row_count": rows,
    }
    threshold = {"failing_columns": 0, "rows": [rows["min"], rows["max"]]}
    if failing == 0:
        return Outcome(
            True,
            0,
            threshold,
            f"{subject} matches {stored.ref} (inferred from {stored.dataset}@"
            f"{stored.from_dataset_version}): every column has the expected type, nulls, "
            f"range and categories, and its {rows['rows']} rows are within "
            f"{rows['min']}-{rows['max']}.",
            details,
        )
    parts = [_column_text(name, failure) for name, failure in failures.items()]
    if not rows["passed"]:
        parts.append(f"row count {rows['rows']} outside {rows['min']}-{rows['max']}")
    count = len(failures)
    lead = f"{count} column{' fails' if count == 1 else 's fail'} validation: " if count else ""
    return Outcome(
        False,
        failing,
        threshold,
        f"{subject} does not match {stored.ref}: {lead}{'; '.join(parts)}.",
        details,
    )


class SchemaCheck(Check):
    """Validate a dataset version against the stored (inferred) schema of its dataset.

    Every failing column is named with up to ``max_examples`` offending values: wrong types,
    nulls in non-null columns, values outside the inferred range, unseen categories, repeated
    values in unique columns, missing columns; and a row count outside its bounds.
    """

    name: ClassVar[str] = "schema"
    subject_kind: ClassVar[SubjectKind] = "dataset"
    severity: ClassVar[Severity] = "error"
    description: ClassVar[str] = (
        "types, nullability, ranges, categories, uniqueness and row count match the stored schema"
    )

    class Params(CheckParams):
        """Params of ``schema``.

        Attributes:
            schema_version: The stored schema version to validate against (default newest).
            max_examples: Offending values listed per column.
            range_outlier_share: Share of rows that may lie outside a column's range
                before the column fails (default 0.01; 0 = none).
            infer_if_missing: With no stored schema, infer one from the reference version
                (and store it) instead of failing.
        """

        schema_version: int | None = Field(default=None, ge=1)
        max_examples: int = Field(default=5, ge=0)
        range_outlier_share: float = Field(default=DEFAULT_RANGE_OUTLIER_SHARE, ge=0, le=1)
        infer_if_missing: bool = False

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Validate ``ctx.frame`` against the stored schema."""
        version = ctx.dataset_version
        if version.kind != "table":
            raise DataCheckInputError(
                f"Dataset {version.ref} is a {version.kind}, not a table: the schema check "
                "applies to tables only.",
                hint="Run the schema check on a table version.",
                dataset=version.name,
            )
        stored = self._stored(ctx, params)
        outcome = schema_outcome(
            ctx.frame,
            stored,
            f"Dataset {version.ref}",
            max_examples=params["max_examples"],
            range_outlier_share=params["range_outlier_share"],
        )
        return self.result(
            ctx,
            passed=outcome.passed,
            value=outcome.value,
            threshold=outcome.threshold,
            explanation=outcome.explanation,
            details=outcome.details,
        )

    @staticmethod
    def _stored(ctx: CheckContext, params: dict[str, Any]) -> StoredSchema:
        dataset = ctx.dataset_version.name
        try:
            return get_schema(ctx.workspace, dataset, params["schema_version"])
        except SchemaNotFoundError:
            reference = ctx.reference_version
            if not params["infer_if_missing"] or params["schema_version"] is not None:
                raise
            if reference is None:
                raise SchemaNotFoundError(
                    f"No schema is stored for dataset {dataset!r} and there is no reference "
                    "version to infer one from.",
                    hint=f"Infer one from a good version: infer_schema(ws, '{dataset}@1').",
                    dataset=dataset,
                ) from None
            return infer_schema(ctx.workspace, reference.ref)
