"""The check contract: :class:`Check`, its params model, and the :class:`CheckResult` it returns.

A check measures one property of one subject (a dataset version, a run or a model version)
and says whether it met the requirement. Params are declared as a pydantic model
(:class:`CheckParams` subclass, unknown keys forbidden) so a gate with an unknown or
ill-typed param is a :class:`~conveyor.errors.ConfigError` naming the check, the param and
the expected type before anything runs.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from conveyor.errors import ConfigError, ConveyorError

if TYPE_CHECKING:
    from conveyor.checks._context import CheckContext

Severity = Literal["error", "warning"]
Status = Literal["passed", "failed", "error", "skipped"]
SubjectKind = Literal["dataset", "run", "model"]

SEVERITIES: tuple[Severity, ...] = ("error", "warning")
STATUSES: tuple[Status, ...] = ("passed", "failed", "error", "skipped")
SUBJECT_KINDS: tuple[SubjectKind, ...] = ("dataset", "run", "model")


class CheckError(ConveyorError):
    """A check could not measure its subject (bad input such as a missing column).

    Raised from inside :meth:`Check.run`; :func:`~conveyor.checks.run_checks` records it as
    an ``"error"`` result with this message and hint, and the other checks still run.
    """

    code = "check_error"


class CheckParams(BaseModel):
    """Base of every check's params model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


@dataclass(frozen=True)
class Subject:
    """What a result is about: ``kind`` ("dataset", "run", "model") and ``ref``.

    ``ref`` is ``"name@version"`` for datasets and models and the run id for runs.
    """

    kind: SubjectKind
    ref: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"


@dataclass(frozen=True)
class CheckResult:
    """The structured outcome of one check.

    Attributes:
        name: The check's registry name (e.g. ``"min_metric"``).
        subject: What was checked.
        passed: True when the requirement was met (False for failed, error and skipped).
        status: ``"passed"``, ``"failed"``, ``"error"`` (could not be measured) or
            ``"skipped"`` (not applicable, e.g. no champion to compare with).
        severity: ``"error"`` blocks promotion, ``"warning"`` holds it.
        value: The measured value (a float, or a JSON-able dict for several measures).
        threshold: The requirement (a float or a JSON-able dict).
        explanation: A sentence saying what was measured versus what was required.
        details: JSON-able extras; ``details["plot"]`` holds plot-ready data when present.
        duration_s: How long the check ran.
    """

    name: str
    subject: Subject
    passed: bool
    status: Status
    severity: Severity
    value: Any = None
    threshold: Any = None
    explanation: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field (non-finite floats become ``None``)."""
        return {
            "name": self.name,
            "subject": {"kind": self.subject.kind, "ref": self.subject.ref},
            "passed": self.passed,
            "status": self.status,
            "severity": self.severity,
            "value": json_safe(self.value),
            "threshold": json_safe(self.threshold),
            "explanation": self.explanation,
            "details": json_safe(dict(self.details)),
            "duration_s": self.duration_s,
        }


class Check(ABC):
    """A named, parametrised measurement of one kind of subject.

    Subclasses set ``name``, ``subject_kind``, optionally ``severity`` (the default when a
    gate does not say), ``relative`` (True when the check needs a champion: the first model
    is judged without it), ``description`` and ``Params`` (a :class:`CheckParams` subclass),
    and implement :meth:`run`. Build results with :meth:`result` or :meth:`skip` so name,
    subject and severity are filled consistently.

    Example:
        >>> class RowCount(Check):
        ...     name = "row_count"
        ...     subject_kind = "dataset"
        ...     class Params(CheckParams):
        ...         min_rows: int = 1
        ...     def run(self, ctx, **params):
        ...         n = len(ctx.frame)
        ...         return self.result(ctx, passed=n >= params["min_rows"], value=n,
        ...                            threshold=params["min_rows"],
        ...                            explanation=f"{n} rows; at least {params['min_rows']}")
    """

    name: ClassVar[str]
    subject_kind: ClassVar[SubjectKind]
    severity: ClassVar[Severity] = "error"
    relative: ClassVar[bool] = False
    description: ClassVar[str] = ""
    Params: ClassVar[type[CheckParams]] = CheckParams

    @classmethod
    def validate_params(cls, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate raw params against :attr:`Params`; return them typed, defaults filled.

        Raises:
            ConfigError: A param is unknown, missing or of the wrong type; the message names
                the check, the param and what was expected.
        """
        raw = dict(params or {})
        try:
            model = cls.Params.model_validate(raw)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                param = ".".join(str(part) for part in err["loc"]) or "(params)"
                got = err.get("input")
                problems.append(f"{param}: {err['msg']} (got {got!r})")
            expected = ", ".join(
                f"{key}: {_annotation(info.annotation)}"
                for key, info in cls.Params.model_fields.items()
            )
            raise ConfigError(
                f"Invalid params for check {cls.name!r}: " + "; ".join(problems) + ".",
                hint=f"Params of {cls.name!r}: {expected or '(none)'}.",
                check=cls.name,
                params=sorted(raw),
            ) from exc
        return {key: getattr(model, key) for key in type(model).model_fields}

    @abstractmethod
    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        """Measure the subject in ``ctx`` with validated ``params`` and return the result.

        Raise :class:`CheckError` for inputs that make the check impossible (the runner
        records it as an ``"error"`` result).
        """

    def result(
        self,
        ctx: CheckContext,
        *,
        passed: bool,
        value: Any = None,
        threshold: Any = None,
        explanation: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> CheckResult:
        """A passed or failed result about this check's subject in ``ctx``."""
        return CheckResult(
            name=self.name,
            subject=ctx.subject(self.subject_kind),
            passed=bool(passed),
            status="passed" if passed else "failed",
            severity=self.severity,
            value=value,
            threshold=threshold,
            explanation=explanation,
            details=dict(details or {}),
        )

    def skip(self, ctx: CheckContext, reason: str) -> CheckResult:
        """A skipped result (the check does not apply) saying why."""
        return CheckResult(
            name=self.name,
            subject=ctx.subject(self.subject_kind),
            passed=False,
            status="skipped",
            severity=self.severity,
            explanation=reason,
        )


def non_finite(value: Any) -> list[str]:
    """The paths of NaN/infinite floats (or ``None`` metrics) inside ``value``.

    Used by the runner: a passed result whose measured value is not a finite number is
    turned into a failure saying which measure was NaN.
    """
    found: list[str] = []

    def walk(item: Any, path: str) -> None:
        if isinstance(item, bool):
            return
        if isinstance(item, float | int) and not math.isfinite(float(item)):
            found.append(path or "value")
        elif isinstance(item, Mapping):
            for key, sub in item.items():
                walk(sub, f"{path}.{key}" if path else str(key))

    walk(value, "")
    return found


def json_safe(value: Any) -> Any:
    """``value`` made strict-JSON-able: NaN/inf -> None, numpy -> Python, tuples -> lists."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return json_safe(tolist())
    item = getattr(value, "item", None)
    if callable(item):
        return json_safe(item())
    return str(value)


def _annotation(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
