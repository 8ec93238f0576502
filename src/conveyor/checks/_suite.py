"""Running a suite of checks: params validated up front, every result kept, all recorded.

:func:`run_checks` resolves and validates every spec before running anything (a config
mistake is a :class:`~conveyor.errors.ConfigError`, not a check result), then runs each
check in order. A check that raises becomes an ``"error"`` result carrying the message and
traceback while the others still run; a "passed" result whose measured value is NaN or
infinite becomes a failure saying so. The results are stored against their subjects in one
audited transaction (``checks.record``).
"""

from __future__ import annotations

import dataclasses
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from conveyor.checks._base import (
    SEVERITIES,
    Check,
    CheckResult,
    Severity,
    Subject,
    json_safe,
    non_finite,
)
from conveyor.checks._context import CheckContext
from conveyor.checks._plugins import CheckRegistryError, get_check
from conveyor.checks._records import record_suite
from conveyor.errors import ConfigError, ConveyorError


@dataclass(frozen=True)
class CheckSpec:
    """One check to run: its registry name, raw params and an optional severity override.

    A gate declared in ``conveyor.yaml`` (``{check, params, severity}``) is a spec.
    """

    check: str
    params: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None


#: A gate is a check spec declared under ``gates:`` in ``conveyor.yaml``.
Gate = CheckSpec


@dataclass(frozen=True)
class SuiteResult:
    """The results of one suite run, in the order the specs were given.

    Attributes:
        suite_id: Groups the stored results (and the gate decision) of this evaluation.
        subject: The main subject (the candidate model, else the run, else the dataset).
        results: One result per spec.
        champion_ref: The champion compared against, or ``None``.
        started_at: When the suite started (UTC).
        duration_s: How long the whole suite took.
    """

    suite_id: str
    subject: Subject
    results: tuple[CheckResult, ...]
    champion_ref: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_s: float = 0.0

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The results with status ``"failed"``."""
        return tuple(r for r in self.results if r.status == "failed")

    @property
    def errored(self) -> tuple[CheckResult, ...]:
        """The results with status ``"error"``."""
        return tuple(r for r in self.results if r.status == "error")

    @property
    def counts(self) -> dict[str, int]:
        """How many results have each status."""
        out = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for r in self.results:
            out[r.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON-able dict of the suite."""
        return {
            "suite_id": self.suite_id,
            "subject": {"kind": self.subject.kind, "ref": self.subject.ref},
            "champion_ref": self.champion_ref,
            "started_at": self.started_at.isoformat(),
            "duration_s": self.duration_s,
            "counts": self.counts,
            "results": [r.to_dict() for r in self.results],
        }


class CheckSuite:
    """A reusable list of specs, validated when built.

    Example:
        >>> suite = CheckSuite([CheckSpec("min_metric", {"metric": "roc_auc", "min": 0.9})])
        >>> result = suite.run(ctx)  # doctest: +SKIP
    """

    def __init__(self, specs: Sequence[CheckSpec]) -> None:
        self.specs = tuple(specs)
        resolve_specs(self.specs)

    def run(self, ctx: CheckContext, *, record: bool = True) -> SuiteResult:
        """Run every spec against ``ctx`` (see :func:`run_checks`)."""
        return run_checks(ctx, self.specs, record=record)


@dataclass(frozen=True)
class _Resolved:
    spec: CheckSpec
    cls: type[Check] | None
    params: dict[str, Any]
    load_error: CheckRegistryError | None = None


def resolve_specs(specs: Sequence[CheckSpec]) -> list[_Resolved]:
    """Look up and validate every spec; a built-in failing to import is kept as an error.

    Raises:
        ConfigError: An unknown check name (listing the valid ones), an invalid severity,
            or params of the wrong name or type.
    """
    resolved: list[_Resolved] = []
    for spec in specs:
        if spec.severity is not None and spec.severity not in SEVERITIES:
            raise ConfigError(
                f"Invalid severity {spec.severity!r} for check {spec.check!r}.",
                hint="Use 'error' (blocks promotion) or 'warning' (holds it).",
                check=spec.check,
            )
        try:
            cls = get_check(spec.check)
        except CheckRegistryError as exc:
            resolved.append(_Resolved(spec, None, dict(spec.params), exc))
            continue
        resolved.append(_Resolved(spec, cls, cls.validate_params(spec.params)))
    return resolved


def run_checks(
    ctx: CheckContext,
    specs: Sequence[CheckSpec],
    *,
    record: bool = True,
    suite_id: str | None = None,
) -> SuiteResult:
    """Run ``specs`` against ``ctx``; store every result unless ``record`` is false.

    Raises:
        ConfigError: A spec names an unknown check or has invalid params (nothing ran).
    """
    resolved = resolve_specs(specs)
    started_at = datetime.now(UTC)
    start = time.perf_counter()
    main = main_subject(ctx)
    results = tuple(_run_one(ctx, item, main) for item in resolved)
    suite = SuiteResult(
        suite_id=suite_id or uuid.uuid4().hex,
        subject=main,
        results=results,
        champion_ref=_champion_ref(ctx),
        started_at=started_at,
        duration_s=time.perf_counter() - start,
    )
    if record:
        record_suite(ctx.workspace, suite)
    return suite


def main_subject(ctx: CheckContext) -> Subject:
    """The subject a suite is about: the candidate, else the run, else the dataset."""
    for kind in ("model", "run", "dataset"):
        try:
            return ctx.subject(kind)
        except ConveyorError:
            continue
    return Subject("run", "-")


def _champion_ref(ctx: CheckContext) -> str | None:
    try:
        return ctx.champion_ref
    except Exception:  # noqa: BLE001 - an unloadable champion is reported by its checks
        return None


def _run_one(ctx: CheckContext, item: _Resolved, main: Subject) -> CheckResult:
    start = time.perf_counter()
    cls = item.cls
    severity: Severity = item.spec.severity or (cls.severity if cls else "error")
    if cls is None or item.load_error is not None:
        return _error(item.spec.check, main, severity, item.load_error, start)
    try:
        outcome = cls().run(ctx, **item.params)
        if not isinstance(outcome, CheckResult):
            raise CheckRegistryError(
                f"Check {cls.name!r} returned {type(outcome).__name__}, not a CheckResult.",
                hint="Return self.result(ctx, passed=..., value=...) from run().",
                check=cls.name,
            )
    except Exception as exc:  # noqa: BLE001 - a raising check is a result, not a crash
        try:
            subject = ctx.subject(cls.subject_kind)
        except ConveyorError:
            subject = main
        return _error(cls.name, subject, severity, exc, start)
    outcome = dataclasses.replace(
        outcome,
        severity=severity,
        details=json_safe(dict(outcome.details)),
        duration_s=time.perf_counter() - start,
    )
    return _reject_non_finite(outcome)


def _error(
    name: str, subject: Subject, severity: Severity, exc: BaseException | None, start: float
) -> CheckResult:
    message = str(exc) if exc is not None else "the check could not be loaded"
    hint = getattr(exc, "hint", None)
    details: dict[str, Any] = {"exception": type(exc).__name__ if exc else None}
    if exc is not None:
        details["traceback"] = "".join(traceback.format_exception(exc))
    if hint:
        details["hint"] = hint
    return CheckResult(
        name=name,
        subject=subject,
        passed=False,
        status="error",
        severity=severity,
        explanation=f"The check raised an error: {message}" + (f" ({hint})" if hint else ""),
        details=details,
        duration_s=time.perf_counter() - start,
    )


def _reject_non_finite(result: CheckResult) -> CheckResult:
    if result.status in ("error", "skipped"):
        return result
    bad = non_finite(result.value)
    if result.value is None and result.status == "passed" and result.threshold is not None:
        bad = ["value"]
    if not bad:
        return result
    why = (
        f"The measured {', '.join(bad)} is NaN, infinite or missing, so the requirement "
        f"cannot be shown to hold"
    )
    explanation = f"{why}. {result.explanation}".strip() if result.explanation else why + "."
    return dataclasses.replace(
        result,
        passed=False,
        status="failed",
        explanation=explanation,
        details={**result.details, "non_finite": bad},
    )
