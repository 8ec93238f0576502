"""Validating a table against a stored schema document, naming every failing column.

pandera runs with ``lazy=True`` so every failure is collected, not just the first. Its
failure cases are grouped per column with a few offending values each. A column whose type
is wrong (numbers stored as text) is also checked after converting what parses as a number,
so a negative price is still reported next to the unparsable ones rather than hidden behind
the type error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from conveyor.checks.data._outcome import json_value
from conveyor.checks.data._schema_infer import build_pandera

TABLE = "<table>"


@dataclass
class ColumnFailure:
    """What failed in one column.

    Attributes:
        checks: The failed checks, in a readable form (``"not null"``, ``"in_range(0, 9)"``).
        examples: Up to ``max_examples`` distinct offending values (``None`` for a null).
        count: How many failure cases pandera reported for the column.
    """

    checks: list[str] = field(default_factory=list)
    examples: list[Any] = field(default_factory=list)
    count: int = 0

    def add(self, check: str, value: Any, max_examples: int, *, example: bool = True) -> None:
        """Record one failure case (``example=False`` keeps the value out of the examples)."""
        if check not in self.checks:
            self.checks.append(check)
        self.count += 1
        value = json_value(value)
        if example and value not in self.examples and len(self.examples) < max_examples:
            self.examples.append(value)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {"checks": self.checks, "examples": self.examples, "count": self.count}


def readable_check(check: str) -> str:
    """pandera's check name in the words an explanation uses."""
    if check == "not_nullable":
        return "not null"
    if check == "field_uniqueness":
        return "unique"
    if check == "column_in_dataframe":
        return "column present"
    if check.startswith("isin("):
        return "allowed categories"
    if check.startswith("dtype("):
        return "type " + check[len("dtype(") : -1].strip("'\"")
    return check


def _is_error_text(value: Any) -> bool:
    # A check that could not run on a wrongly typed column reports the exception text.
    return isinstance(value, str) and value.endswith(")") and "Error(" in value


def _collect(cases: pd.DataFrame, failures: dict[str, ColumnFailure], max_examples: int) -> None:
    for row in cases.itertuples(index=False):
        check = str(row.check)
        value = row.failure_case
        column = row.column
        if check == "column_in_dataframe":
            column, value = value, None
        if column is None or (isinstance(column, float) and pd.isna(column)):
            column = TABLE
        if _is_error_text(value):
            continue
        failures.setdefault(str(column), ColumnFailure()).add(
            readable_check(check),
            None if _missing(value) else value,
            max_examples,
            example=check != "column_in_dataframe",
        )


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _recheck_as_numbers(
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    failures: dict[str, ColumnFailure],
    max_examples: int,
) -> None:
    """Run the value checks of numeric columns stored with a wrong type on their numbers."""
    for name, column in schema.columns.items():
        failure = failures.get(name)
        if failure is None or name not in frame.columns or not column.checks:
            continue
        if not any(c.startswith("type ") for c in failure.checks):
            continue
        if column.dtype is None or not pd.api.types.is_numeric_dtype(str(column.dtype)):
            continue
        numbers = pd.to_numeric(frame[name], errors="coerce").dropna()
        probe = pa.DataFrameSchema({name: pa.Column(checks=column.checks, nullable=True)})
        try:
            probe.validate(numbers.to_frame(name), lazy=True)
        except SchemaErrors as exc:
            _collect(exc.failure_cases, failures, max_examples)


def validate_frame(
    frame: pd.DataFrame, document: dict[str, Any], *, max_examples: int = 5
) -> tuple[dict[str, ColumnFailure], dict[str, Any]]:
    """Validate ``frame`` against a schema document.

    Args:
        frame: The table to validate.
        document: A document from :func:`infer_frame_schema`.
        max_examples: Offending values kept per column.

    Returns:
        The failures per column (``"<table>"`` for table-level ones, in schema order) and
        the row-count verdict ``{"rows", "min", "max", "passed"}``.
    """
    schema = build_pandera(document)
    failures: dict[str, ColumnFailure] = {}
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        _collect(exc.failure_cases, failures, max_examples)
        _recheck_as_numbers(frame, schema, failures, max_examples)
    order = {name: i for i, name in enumerate([*schema.columns, *frame.columns])}
    ordered = dict(sorted(failures.items(), key=lambda kv: order.get(kv[0], len(order))))
    bounds = document.get("row_count") or {}
    rows = len(frame)
    lo, hi = bounds.get("min"), bounds.get("max")
    row_ok = (lo is None or rows >= lo) and (hi is None or rows <= hi)
    return ordered, {"rows": rows, "min": lo, "max": hi, "passed": row_ok}
