"""Live prediction divergence, judged against what the gate measured on the holdout.

A retrained model is expected to answer differently from the champion: that is why it was
trained. So divergence alone is never evidence that the challenger is worse. When the gate
compared the two models it recorded their prediction histograms on the holdout (a
:class:`~conveyor.checks.model.DivergenceProfile`); live predictions are binned on the same
bins and their Jensen-Shannon divergence is compared with the divergence that two samples
of the live sizes would show if each model answered live as it did on the holdout. That
reference distribution is simulated (the holdout's bin probabilities drawn from their
Dirichlet posterior, then multinomial samples of the live sizes), so the small-sample bias
of the plug-in divergence and the holdout's own uncertainty are both accounted for. Beyond
its ``1 - alpha / 2`` quantile the divergence is *beyond expectation*: the rollout waits
for labels. Without a recorded expectation the environment's ``max_divergence`` is the
limit, with the same consequence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from conveyor.checks.model import DivergenceProfile, ModelCheckInputError, jensen_shannon
from conveyor.config import AnalysisConfig
from conveyor.rollout.analysis._guards import GUARD_MIN_SAMPLES, binned
from conveyor.rollout.analysis._stats import VariantStats

#: Simulated sample pairs behind the expectation's bound.
DRAWS = 2_000
#: Prior count added to every bin of the holdout histograms (Jeffreys).
_PRIOR = 0.5

Expectation = DivergenceProfile | Mapping[str, Any] | None
_Outcome = tuple[str, str, dict[str, Any]]  # "beyond" | "within" | "undecided", reason, numbers


def divergence_guard(
    champion: VariantStats,
    challenger: VariantStats,
    params: AnalysisConfig,
    expected: Expectation = None,
) -> _Outcome:
    """Is the live divergence within what the gate expected?

    Args:
        champion: The champion's live traffic.
        challenger: The challenger's live traffic.
        params: ``alpha`` sets the bound's level; ``max_divergence`` is the limit used
            when nothing was recorded.
        expected: The profile the gate recorded (or its stored dict), or ``None``.

    Returns:
        ``("beyond" | "within" | "undecided", reason, numbers)``; ``undecided`` until both
        variants have :data:`GUARD_MIN_SAMPLES` predictions.
    """
    pred_h, pred_c = champion.predictions, challenger.predictions
    if min(len(pred_h), len(pred_c)) < GUARD_MIN_SAMPLES:
        text = f"prediction divergence: waiting for {GUARD_MIN_SAMPLES} predictions per variant"
        return "undecided", text, {}
    profile, problem = _profile(expected)
    if profile is None:
        return _against_limit(pred_h, pred_c, params, problem)  # type: ignore[arg-type]
    counts_h, counts_c = profile.histogram(pred_h), profile.histogram(pred_c)
    value = jensen_shannon(counts_h, counts_c)
    bound = expected_bound(profile, int(counts_h.sum()), int(counts_c.sum()), params.alpha / 2)
    numbers: dict[str, Any] = {
        "jensen_shannon": value,
        "expected": profile.value,
        "bound": bound,
        "expected_rows": profile.rows,
        "bins": len(counts_h),
        "kind": profile.kind,
        "reference": "gate",
    }
    text = (
        f"prediction divergence (Jensen-Shannon) {value:.3f} vs {profile.value:.3f} expected "
        f"from the gate's holdout ({profile.rows} rows; bound {bound:.3f} at "
        f"{len(pred_c)}/{len(pred_h)} predictions)"
    )
    if value > bound:
        return "beyond", f"{text}: beyond expectation", numbers
    return "within", f"{text}: within expectation", numbers


def expected_bound(
    profile: DivergenceProfile, champion_n: int, challenger_n: int, level: float, *, seed: int = 0
) -> float:
    """The ``1 - level`` quantile of the divergence of live samples of these sizes.

    Each draw takes bin probabilities from the Dirichlet posterior of each holdout
    histogram, samples ``champion_n`` and ``challenger_n`` predictions from them, and
    measures the Jensen-Shannon divergence of the two samples.

    Example:
        >>> from conveyor.checks.model import divergence_profile
        >>> same = divergence_profile(np.arange(400) % 2, np.arange(400) % 2)
        >>> expected_bound(same, 1_000, 1_000, 0.025) < 0.01
        True
    """
    rng = np.random.default_rng(seed)
    p_h = rng.dirichlet(np.asarray(profile.champion) + _PRIOR, DRAWS)
    p_c = rng.dirichlet(np.asarray(profile.challenger) + _PRIOR, DRAWS)
    counts_h = rng.multinomial(max(champion_n, 1), p_h).astype(float)
    counts_c = rng.multinomial(max(challenger_n, 1), p_c).astype(float)
    values = _js_rows(counts_h, counts_c)
    return float(np.quantile(values, 1 - level))


def _js_rows(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    p = a / a.sum(axis=1, keepdims=True)
    q = b / b.sum(axis=1, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)
    result: npt.NDArray[np.float64] = np.clip((kl_p + kl_q) / 2, 0.0, 1.0)
    return result


def _profile(expected: Expectation) -> tuple[DivergenceProfile | None, str]:
    if expected is None:
        return None, "no expectation recorded by a gate"
    if isinstance(expected, DivergenceProfile):
        return expected, ""
    try:
        return DivergenceProfile.from_dict(expected), ""
    except ModelCheckInputError as exc:
        # A damaged record must not stall the rollout: fall back to the configured limit.
        return None, f"the recorded expectation is unusable ({exc.message})"


def _against_limit(
    pred_h: npt.NDArray[Any], pred_c: npt.NDArray[Any], params: AnalysisConfig, why: str
) -> _Outcome:
    counts_h, counts_c, kind = binned(pred_h, pred_c)
    value = jensen_shannon(counts_h, counts_c)
    numbers = {
        "jensen_shannon": value,
        "limit": params.max_divergence,
        "bins": len(counts_h),
        "kind": kind,
        "reference": "limit",
    }
    text = f"prediction divergence (Jensen-Shannon) {value:.3f}"
    if value > params.max_divergence:
        return "beyond", f"{text} exceeds the limit {params.max_divergence:g} ({why})", numbers
    return "within", f"{text} within the limit {params.max_divergence:g} ({why})", numbers
