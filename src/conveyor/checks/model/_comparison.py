"""Candidate versus champion on the same holdout, judged with a paired bootstrap interval.

Superiority asks that the lower bound of the improvement exceed ``margin`` (default 0);
non-inferiority asks that it exceed ``-margin`` (the candidate may be worse by at most the
margin). The sign of ``margin`` is ignored for non-inferiority, so both ``0.01`` and
``-0.01`` mean "no worse than 0.01".
"""

from __future__ import annotations

from typing import Literal

from conveyor.checks.model._inputs import Outcome, Scored, finite, fmt
from conveyor.checks.model._metrics import Metric
from conveyor.checks.model._stats import paired_bootstrap

Mode = Literal["superiority", "non_inferiority"]


def compare(
    metric: Metric,
    candidate: Scored,
    champion: Scored,
    *,
    mode: Mode = "superiority",
    margin: float = 0.0,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    champion_ref: str = "champion",
) -> Outcome:
    """Judge the candidate's improvement over the champion.

    Args:
        metric: The metric compared.
        candidate: The candidate's answers on the holdout.
        champion: The champion's answers on the same rows (same ``y``).
        mode: ``superiority`` or ``non_inferiority``.
        margin: The margin (see the module docstring).
        level: Confidence level of the interval.
        n_boot: Bootstrap resamples.
        seed: Resampling seed.
        champion_ref: How to name the champion in the explanation.
    """
    boot = paired_bootstrap(
        metric,
        candidate.y,
        (candidate.pred, candidate.score),
        (champion.pred, champion.score),
        n_boot=n_boot,
        level=level,
        seed=seed,
    )
    bound = margin if mode == "superiority" else -abs(margin)
    pct = f"{level * 100:g}%"
    value = {
        "candidate": boot.candidate,
        "champion": boot.champion,
        "delta": boot.delta,
        "ci_low": boot.low,
        "ci_high": boot.high,
    }
    details = {
        "metric": metric.name,
        "mode": mode,
        "margin": margin,
        "level": level,
        "n_boot": n_boot,
        "n_valid": boot.n_valid,
        "seed": seed,
        "higher_is_better": metric.higher_is_better,
        "champion_ref": champion_ref,
        "plot": {
            "kind": "comparison",
            "metric": metric.name,
            "candidate": boot.candidate,
            "champion": boot.champion,
            "delta": boot.delta,
            "ci": [boot.low, boot.high],
        },
    }
    if not (finite(boot.candidate) and finite(boot.champion) and finite(boot.low)):
        return Outcome(
            passed=False,
            value=value,
            threshold=bound,
            explanation=f"{metric.name} is NaN for the candidate or the champion on this "
            f"holdout ({boot.n_valid} of {n_boot} resamples valid), so the models cannot be "
            "compared.",
            details={**details, "reason": "nan"},
        )
    passed = boot.low > bound
    direction = "higher" if metric.higher_is_better else "lower"
    need = (
        f"superiority requires the lower bound above {fmt(bound)}"
        if mode == "superiority"
        else f"non-inferiority requires the lower bound above {fmt(bound)}"
    )
    explanation = (
        f"{metric.name}: candidate {fmt(boot.candidate)} vs {champion_ref} "
        f"{fmt(boot.champion)}; improvement ({direction} is better) {fmt(boot.delta)}, "
        f"{pct} paired-bootstrap CI [{fmt(boot.low)}, {fmt(boot.high)}] over "
        f"{boot.n_valid} resamples; {need}: {'met' if passed else 'not met'}."
    )
    return Outcome(passed, value, bound, explanation, details)


def champion_unloadable(champion_ref: str, reason: str) -> Outcome:
    """A failed comparison because the champion's artifact did not pass its integrity check."""
    return Outcome(
        passed=False,
        value=None,
        threshold=None,
        explanation=f"The champion {champion_ref} cannot be compared: its artifact failed its "
        f"integrity check ({reason}).",
        details={"reason": "champion_integrity", "champion_ref": champion_ref, "error": reason},
    )


def no_champion() -> Outcome:
    """A skipped comparison: there is no champion yet."""
    return Outcome(
        passed=True,
        value=None,
        threshold=None,
        explanation="No champion yet: nothing to compare against, judged on absolute checks only.",
        details={"reason": "no_champion"},
        status="skipped",
    )
