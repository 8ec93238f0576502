"""The feature skew check: a model's online features say what its training features said."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from conveyor.checks._base import Check, CheckParams, CheckResult

if TYPE_CHECKING:
    from conveyor.checks._context import CheckContext


class FeatureSkewCheck(Check):
    """Online feature values of the candidate's feature service match the offline join.

    The candidate model version names the feature service it was trained with in its
    ``conveyor.feature_service`` tag. Keys are sampled from the online store and their
    online values compared with what the offline point-in-time join gives for the same
    keys at the online values' event time (:func:`conveyor.features.feature_skew`).
    A model without the tag was not trained with the feature store: the check is skipped.
    """

    name: ClassVar[str] = "feature_skew"
    subject_kind = "model"
    description = (
        "Share of sampled entity keys whose online feature value differs from the offline "
        "point-in-time value is at most max_mismatch_rate, per feature."
    )

    class Params(CheckParams):
        max_mismatch_rate: float = Field(default=0.0, ge=0, le=1)
        sample: int | None = Field(default=None, ge=1, le=100_000)
        seed: int = 0

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        from conveyor.features import SERVICE_TAG
        from conveyor.features._skew import feature_skew

        if not ctx.has_candidate:
            return self.skip(ctx, "No registered model version: no feature service to check.")
        ref = ctx.candidate_ref
        service = ctx.workspace.models.get(ref).tags.get(SERVICE_TAG)
        if not isinstance(service, str) or not service:
            return self.skip(
                ctx,
                f"Model version {ref} was not trained with a feature service (no "
                f"{SERVICE_TAG!r} tag): there are no online features to compare.",
            )
        report = feature_skew(
            ctx.workspace.features,
            service,
            sample=params["sample"],
            seed=params["seed"],
            max_mismatch_rate=params["max_mismatch_rate"],
        )
        return self.result(
            ctx,
            passed=report.passed,
            value={"worst_rate": report.worst_rate, "sampled": report.sampled},
            threshold=params["max_mismatch_rate"],
            explanation=f"Feature service {service}: {report.explanation}",
            details=report.to_dict(),
        )
