"""Calibration of predicted probabilities: Brier score and expected calibration error."""

from __future__ import annotations

from conveyor.checks.model._errors import ModelCheckInputError
from conveyor.checks.model._inputs import Outcome, Scored, fmt
from conveyor.checks.model._stats import calibration as measure


def calibration(
    scored: Scored, *, n_bins: int = 10, max_ece: float = 0.1, max_brier: float | None = 0.25
) -> Outcome:
    """Whether the positive-class probabilities are calibrated on the holdout.

    ECE uses ``n_bins`` equal-width bins over [0, 1]; the reliability curve (mean score vs
    observed positive rate per bin) goes to ``details["plot"]``.

    Raises:
        ModelCheckInputError: The model gives no probabilities, or the task is not binary.
    """
    if scored.score is None:
        raise ModelCheckInputError(
            "The calibration check needs predicted probabilities, and the model has no "
            "predict_proba.",
            hint="Remove the calibration gate for this model, or wrap it in a calibrated "
            "classifier (sklearn.calibration.CalibratedClassifierCV).",
        )
    result = measure(scored.y, scored.score, n_bins=n_bins)
    ece_ok = result.ece <= max_ece
    brier_ok = max_brier is None or result.brier <= max_brier
    required = f"ECE at most {fmt(max_ece)}" + (
        "" if max_brier is None else f" and Brier at most {fmt(max_brier)}"
    )
    threshold: dict[str, float] = {"ece": max_ece}
    if max_brier is not None:
        threshold["brier"] = max_brier
    return Outcome(
        passed=ece_ok and brier_ok,
        value={"ece": result.ece, "brier": result.brier},
        threshold=threshold,
        explanation=f"Expected calibration error {fmt(result.ece)} over {n_bins} equal-width "
        f"bins and Brier score {fmt(result.brier)} (required {required}).",
        details={
            "n_bins": n_bins,
            "bins": result.bins,
            "plot": {
                "kind": "calibration",
                "mean_score": [b["mean_score"] for b in result.bins],
                "positive_rate": [b["positive_rate"] for b in result.bins],
                "count": [b["count"] for b in result.bins],
            },
        },
    )
