"""The statistical data checks as registered :class:`~conveyor.checks.Check` classes.

Each class validates its params, takes what it needs from the context (the version's
rows and profile, the reference version, the target column) and wraps the measurement of
its module in a result. A ``target`` param overrides ``evaluation.target``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from conveyor.checks._base import Check, CheckParams, CheckResult, Severity, SubjectKind
from conveyor.checks.data._anomalies import find_anomalies
from conveyor.checks.data._drift import measure_drift
from conveyor.checks.data._frames import require_table, resolve_target
from conveyor.checks.data._importance import check_importance
from conveyor.checks.data._leakage import detect_leakage
from conveyor.checks.data._outcome import Outcome
from conveyor.checks.data._quality import count_duplicates, measure_class_balance
from conveyor.checks.data._schema_infer import DEFAULT_TOLERANCE

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.checks._context import CheckContext


class _DataCheck(Check):
    """Shared plumbing: the version's rows (non-empty) and the outcome-to-result step."""

    subject_kind: ClassVar[SubjectKind] = "dataset"

    def _frame(self, ctx: CheckContext) -> pd.DataFrame:
        frame = ctx.frame
        require_table(frame, f"dataset version {ctx.dataset_version.ref}")
        return frame

    def _target(self, ctx: CheckContext, frame: pd.DataFrame, params: dict[str, Any]) -> str:
        return resolve_target(frame, params.get("target") or ctx.target, self.name)

    def _wrap(self, ctx: CheckContext, outcome: Outcome) -> CheckResult:
        return self.result(
            ctx,
            passed=outcome.passed,
            value=outcome.value,
            threshold=outcome.threshold,
            explanation=outcome.explanation,
            details=outcome.details,
        )


class AnomaliesCheck(_DataCheck):
    """New categories, out-of-range numbers and more missing values than the reference."""

    name: ClassVar[str] = "anomalies"
    severity: ClassVar[Severity] = "warning"
    description: ClassVar[str] = "no new categories, out-of-range values or missingness jumps"

    class Params(CheckParams):
        """Params of ``anomalies``."""

        max_out_of_range_share: float = Field(0.01, ge=0, le=1)
        max_missing_increase: float = Field(0.05, ge=0, le=1)
        allow_new_categories: bool = False
        max_examples: int = Field(5, ge=0)
        range_tolerance: float = Field(DEFAULT_TOLERANCE, ge=0)

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Compare the version with the reference version's profile."""
        frame = self._frame(ctx)
        return self._wrap(ctx, find_anomalies(frame, ctx.reference_profile, **params))


class DataDriftCheck(_DataCheck):
    """Per-column distribution drift from the reference version (KS / chi-square)."""

    name: ClassVar[str] = "data_drift"
    severity: ClassVar[Severity] = "warning"
    description: ClassVar[str] = "share of columns whose distribution drifted from the reference"

    class Params(CheckParams):
        """Params of ``data_drift``."""

        alpha: float = Field(0.05, gt=0, lt=1)
        max_drift_share: float = Field(0.25, ge=0, le=1)
        columns: list[str] | None = None
        max_rows: int = Field(5000, ge=10)
        seed: int = 0

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Test every shared column of the version and the reference for drift."""
        frame = self._frame(ctx)
        reference = ctx.reference_frame
        return self._wrap(ctx, measure_drift(frame, reference, **params))


class LabelLeakageCheck(_DataCheck):
    """A single feature that predicts the target almost perfectly."""

    name: ClassVar[str] = "label_leakage"
    severity: ClassVar[Severity] = "error"
    description: ClassVar[str] = "no single feature predicts the target almost perfectly"

    class Params(CheckParams):
        """Params of ``label_leakage``."""

        target: str | None = None
        max_score: float = Field(0.99, gt=0, le=1)
        depth: int = Field(4, ge=1, le=16)
        max_rows: int = Field(5000, ge=10)
        seed: int = 0

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Score each feature alone against the target."""
        frame = self._frame(ctx)
        target = self._target(ctx, frame, params)
        options = {k: v for k, v in params.items() if k != "target"}
        return self._wrap(ctx, detect_leakage(frame, target, **options))


class DuplicatesCheck(_DataCheck):
    """Rows that repeat an earlier row."""

    name: ClassVar[str] = "duplicates"
    severity: ClassVar[Severity] = "warning"
    description: ClassVar[str] = "share of duplicate rows"

    class Params(CheckParams):
        """Params of ``duplicates``."""

        subset: list[str] | None = None
        max_share: float = Field(0.0, ge=0, le=1)

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Count duplicate rows."""
        return self._wrap(ctx, count_duplicates(self._frame(ctx), **params))


class ClassBalanceCheck(_DataCheck):
    """The rarest class against the most common one."""

    name: ClassVar[str] = "class_balance"
    severity: ClassVar[Severity] = "warning"
    description: ClassVar[str] = "ratio of the rarest to the most common class"

    class Params(CheckParams):
        """Params of ``class_balance``."""

        target: str | None = None
        min_ratio: float = Field(0.1, ge=0, le=1)

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Measure the class ratio of the target."""
        frame = self._frame(ctx)
        target = self._target(ctx, frame, params)
        return self._wrap(ctx, measure_class_balance(frame, target, min_ratio=params["min_ratio"]))


class FeatureImportanceCheck(_DataCheck):
    """Features with about zero permutation importance."""

    name: ClassVar[str] = "feature_importance"
    severity: ClassVar[Severity] = "warning"
    description: ClassVar[str] = "every feature has a permutation importance above a minimum"

    class Params(CheckParams):
        """Params of ``feature_importance``."""

        target: str | None = None
        min_importance: float = 0.005
        n_repeats: int = Field(10, ge=1, le=100)
        max_rows: int = Field(5000, ge=20)
        seed: int = 0

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Fit a forest and measure each feature's permutation importance."""
        frame = self._frame(ctx)
        target = self._target(ctx, frame, params)
        options = {k: v for k, v in params.items() if k != "target"}
        return self._wrap(ctx, check_importance(frame, target, **options))
