"""Checks measured on the holdout: champion comparison, slices, fairness, calibration."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from conveyor.checks._base import Check, CheckParams, CheckResult
from conveyor.checks.model import _comparison, _segments
from conveyor.checks.model._adapt import scored, to_result
from conveyor.checks.model._calibration import calibration
from conveyor.checks.model._divergence import divergence_profile
from conveyor.checks.model._inputs import require_columns
from conveyor.checks.model._metrics import get_metric
from conveyor.errors import IntegrityError

if TYPE_CHECKING:
    from conveyor.checks._context import CheckContext


class ChampionComparisonCheck(Check):
    """Candidate minus champion on the same holdout, with a paired bootstrap interval.

    Skipped when there is no champion (the first model); failed, naming the reason, when the
    champion's stored artifact fails its integrity check. Also measures how far apart the
    two models' prediction distributions are on the holdout and records it in
    ``details["expected_divergence"]`` (a
    :class:`~conveyor.checks.model.DivergenceProfile`): the divergence a canary of the
    candidate against this champion should expect to see live.
    """

    name: ClassVar[str] = "champion_comparison"
    subject_kind = "model"
    relative = True
    description = "Paired bootstrap CI of candidate minus champion (superiority/non-inferiority)."

    class Params(CheckParams):
        metric: str = "roc_auc"
        mode: Literal["superiority", "non_inferiority"] = "superiority"
        margin: float = 0.0
        level: float = Field(default=0.95, gt=0, lt=1)
        n_boot: int = Field(default=1000, ge=10)
        seed: int = 0

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        metric = get_metric(params["metric"])
        if not ctx.has_champion:
            return to_result(self, ctx, _comparison.no_champion())
        candidate = scored(ctx, "candidate")
        try:
            champion_ref = ctx.champion_ref or "champion"
            champion = scored(ctx, "champion")
        except IntegrityError as exc:
            # A damaged champion must block promotion with its reason, not crash the suite.
            fields = exc.fields
            ref = f"{fields.get('name', 'champion')}@{fields.get('version', '?')}"
            return to_result(self, ctx, _comparison.champion_unloadable(ref, str(exc)))
        outcome = _comparison.compare(
            metric,
            candidate,
            champion,
            mode=params["mode"],
            margin=params["margin"],
            level=params["level"],
            n_boot=params["n_boot"],
            seed=params["seed"],
            champion_ref=champion_ref,
        )
        profile = divergence_profile(
            ctx.predictions("champion"), ctx.predictions("candidate"), champion_ref=champion_ref
        )
        outcome = dataclasses.replace(
            outcome,
            explanation=f"{outcome.explanation} Prediction divergence from {champion_ref} on "
            f"this holdout: Jensen-Shannon {profile.value:.3f} over {profile.rows} rows (what a "
            "canary should expect).",
            details={**outcome.details, "expected_divergence": profile.to_dict()},
        )
        return to_result(self, ctx, outcome)


class SlicesCheck(Check):
    """The metric reaches ``min`` in every segment of the declared slice columns."""

    name: ClassVar[str] = "slices"
    subject_kind = "model"
    description = "Metric per segment of each slice column is at least min."

    class Params(CheckParams):
        metric: str = "accuracy"
        min: float = 0.0
        min_rows: int = Field(default=30, ge=1)
        columns: list[str] | None = None

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        metric = get_metric(params["metric"])
        columns = list(params["columns"] or ctx.slices)
        outcome = _segments.slices(
            ctx.holdout,
            scored(ctx),
            columns,
            metric,
            minimum=params["min"],
            min_rows=params["min_rows"],
        )
        return to_result(self, ctx, outcome)


class FairnessCheck(Check):
    """Demographic parity and equal opportunity differences over sensitive attributes."""

    name: ClassVar[str] = "fairness"
    subject_kind = "model"
    description = "Demographic parity / equal opportunity differences are at most their max."

    class Params(CheckParams):
        max_demographic_parity: float = Field(default=0.1, ge=0)
        max_equal_opportunity: float = Field(default=0.1, ge=0)
        attributes: list[str] | None = None

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        attributes = list(params["attributes"] or ctx.sensitive)
        # Checked before predicting so a misspelt attribute costs no model call.
        require_columns(ctx.holdout, attributes, "sensitive attribute")
        outcome = _segments.fairness(
            ctx.holdout,
            scored(ctx),
            attributes,
            max_demographic_parity=params["max_demographic_parity"],
            max_equal_opportunity=params["max_equal_opportunity"],
        )
        return to_result(self, ctx, outcome)


class CalibrationCheck(Check):
    """Brier score and expected calibration error of the positive-class probabilities."""

    name: ClassVar[str] = "calibration"
    subject_kind = "model"
    severity = "warning"
    description = "Expected calibration error (equal-width bins) and Brier score are bounded."

    class Params(CheckParams):
        max_ece: float = Field(default=0.1, ge=0)
        max_brier: float | None = Field(default=0.25, ge=0)
        n_bins: int = Field(default=10, ge=2)

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        outcome = calibration(
            scored(ctx),
            n_bins=params["n_bins"],
            max_ece=params["max_ece"],
            max_brier=params["max_brier"],
        )
        return to_result(self, ctx, outcome)
