"""Hand-made check results and suites for the gate and report tests."""

from __future__ import annotations

from typing import Any

from conveyor.checks import (
    Check,
    CheckContext,
    CheckResult,
    Subject,
    SuiteResult,
)

CANDIDATE = Subject("model", "churn@2")


class VersusChampionCheck(Check):
    """A relative check: it compares with a champion."""

    name = "versus_champion_test"
    subject_kind = "model"
    relative = True

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        return self.result(ctx, passed=True)


def make_result(
    name: str,
    status: str = "passed",
    severity: str = "error",
    value: Any = 0.9,
    threshold: Any = 0.8,
    details: dict[str, Any] | None = None,
) -> CheckResult:
    return CheckResult(
        name=name,
        subject=CANDIDATE,
        passed=status == "passed",
        status=status,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        value=value,
        threshold=threshold,
        explanation=f"{name} measured {value} against {threshold}",
        details=details or {},
    )


def make_suite(*results: CheckResult, champion: str | None = "churn@1") -> SuiteResult:
    return SuiteResult(
        suite_id="s1", subject=CANDIDATE, results=tuple(results), champion_ref=champion
    )
