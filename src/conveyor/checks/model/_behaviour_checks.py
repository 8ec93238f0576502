"""Checks on how the model behaves as software: robustness, invariance, latency, size, parity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from conveyor.checks._base import Check, CheckParams, CheckResult
from conveyor.checks.model import _operational, _stability
from conveyor.checks.model._adapt import to_result

if TYPE_CHECKING:
    from conveyor.checks._context import CheckContext


class RobustnessCheck(Check):
    """Predictions stay the same under small Gaussian noise and under missing values."""

    name: ClassVar[str] = "robustness"
    subject_kind = "model"
    severity = "warning"
    description = "Share of unchanged predictions under noise and missing values is at least min."

    class Params(CheckParams):
        noise_scale: float = Field(default=0.01, ge=0)
        min_unchanged: float = Field(default=0.95, ge=0, le=1)
        missing: bool = True
        missing_share: float = Field(default=0.05, gt=0, le=1)
        tolerance: float = Field(default=0.01, ge=0)
        seed: int = 0

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        outcome = _stability.robustness(
            ctx.candidate.predictor,
            ctx.features,
            base=ctx.predictions("candidate"),
            **params,
        )
        return to_result(self, ctx, outcome)


class InvarianceCheck(Check):
    """Shuffling a declared irrelevant feature changes no prediction."""

    name: ClassVar[str] = "invariance"
    subject_kind = "model"
    description = "Permuting each declared irrelevant feature leaves predictions unchanged."

    class Params(CheckParams):
        columns: list[str] | None = None
        max_changed: float = Field(default=0.0, ge=0, le=1)
        seed: int = 0

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        outcome = _stability.invariance(
            ctx.candidate.predictor,
            ctx.features,
            list(params["columns"] or ctx.irrelevant),
            max_changed=params["max_changed"],
            seed=params["seed"],
            base=ctx.predictions("candidate"),
        )
        return to_result(self, ctx, outcome)


class LatencyCheck(Check):
    """The p95 of measured single-row predictions is within the budget."""

    name: ClassVar[str] = "latency"
    subject_kind = "model"
    severity = "warning"
    description = "p95 single-row predict latency (ms) is at most budget_ms."

    class Params(CheckParams):
        budget_ms: float = Field(default=100.0, ge=0)
        n: int = Field(default=100, ge=1)
        warmup: int = Field(default=5, ge=0)

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        outcome = _operational.latency(ctx.candidate.predictor, ctx.features, **params)
        return to_result(self, ctx, outcome)


class ArtifactSizeCheck(Check):
    """The stored model files fit in a byte budget."""

    name: ClassVar[str] = "artifact_size"
    subject_kind = "model"
    severity = "warning"
    description = "Total bytes of the stored model files are at most max_bytes."

    class Params(CheckParams):
        max_bytes: int = Field(default=100 * 1024 * 1024, ge=0)

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        manifest = ctx.workspace.models.manifest(ctx.candidate_version)
        return to_result(self, ctx, _operational.artifact_size(manifest, **params))


class SaveLoadParityCheck(Check):
    """The stored artifact, loaded back, predicts exactly what the in-memory model did.

    Skipped when the evaluation has no in-memory model (e.g. ``conveyor check --model``).
    """

    name: ClassVar[str] = "save_load_parity"
    subject_kind = "model"
    description = "The loaded artifact reproduces the in-memory model's predictions."

    class Params(CheckParams):
        atol: float = Field(default=0.0, ge=0)

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        if ctx.candidate_object is None:
            return self.skip(
                ctx,
                "No in-memory model to compare with: save/load parity is checked when the "
                "model comes straight from training (conveyor ci).",
            )
        outcome = _operational.parity(
            ctx.candidate_object, ctx.candidate, ctx.features, atol=params["atol"]
        )
        return to_result(self, ctx, outcome)
