"""Canary analysis judges outcomes: divergence is compared with the gate's expectation and
pauses at most; rollbacks need errors, labels or latency, and say which."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.checks.model import divergence_profile
from conveyor.config import AnalysisConfig
from conveyor.rollout.analysis import VariantStats, analyse, divergence_guard, expected_bound

RNG_SEED = 7


def _traffic(
    champion: Any, challenger: Any, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], *,
    n: int, share: float, labelled: float = 0.0, errors: int = 0, latency: float = 20.0,
) -> tuple[VariantStats, VariantStats]:  # fmt: skip
    """Requests drawn from real rows, routed ``share`` to the challenger."""
    rng = np.random.default_rng(RNG_SEED)
    rows = rng.integers(0, len(x), n)
    to_challenger = rng.random(n) < share
    out = []
    for model, mask, errs, ms in (
        (champion, ~to_challenger, 0, 20.0),
        (challenger, to_challenger, errors, latency),
    ):
        picked = rows[mask]
        predictions = model.predict(x[picked])[errs:]
        truth = y[picked][errs:].astype(object)
        truth[rng.random(len(truth)) >= labelled] = None
        lat = ms * rng.lognormal(0, 0.1, len(picked))
        out.append(VariantStats(len(picked), errs, lat, predictions, truth))
    return out[0], out[1]


@pytest.fixture(scope="module")
def diabetes() -> dict[str, Any]:
    """A champion fit on the old target, a challenger retrained after the target shifted."""
    x, y = load_diabetes(return_X_y=True)
    shifted = y * 1.5 + 60
    old = Ridge(alpha=0.1).fit(x[:200], y[:200])
    new = Ridge(alpha=0.1).fit(x[200:320], shifted[200:320])
    profile = divergence_profile(old.predict(x[320:380]), new.predict(x[320:380]))
    return {"old": old, "new": new, "x": x[320:], "y": shifted[320:], "expected": profile}


@pytest.fixture(scope="module")
def cancer() -> dict[str, Any]:
    x, y = load_breast_cancer(return_X_y=True)
    fit = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    good = fit.fit(x[:300], y[:300])
    refit = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.5))
    better = refit.fit(x[:350], y[:350])
    constant = DummyClassifier(strategy="constant", constant=0).fit(x[:300], y[:300])
    profile = divergence_profile(good.predict(x[350:420]), better.predict(x[350:420]))
    return {
        "good": good, "better": better, "constant": constant, "x": x[350:], "y": y[350:],
        "expected": profile,
    }  # fmt: skip


def test_a_retrained_model_that_differs_as_the_gate_expected_is_not_held(
    diabetes: dict[str, Any],
) -> None:
    champion, challenger = _traffic(
        diabetes["old"], diabetes["new"], diabetes["x"], diabetes["y"], n=1_000, share=0.1
    )
    params = AnalysisConfig(metric="mae", min_metric_delta=-5.0)
    result = analyse(champion, challenger, params, diabetes["expected"].to_dict())
    assert result.verdict == "continue", result.reasons
    assert result.measures["divergence"]["jensen_shannon"] > params.max_divergence
    assert any("within expectation" in reason for reason in result.reasons)


def test_the_same_divergence_without_an_expectation_holds_but_never_fails(
    diabetes: dict[str, Any],
) -> None:
    champion, challenger = _traffic(
        diabetes["old"], diabetes["new"], diabetes["x"], diabetes["y"], n=1_000, share=0.1
    )
    result = analyse(champion, challenger, AnalysisConfig(metric="mae", min_metric_delta=-5.0))
    assert result.verdict == "hold"
    assert "exceeds the limit 0.2 (no expectation recorded by a gate)" in result.reasons[0]
    assert "waiting for 100 labels per variant (champion 0, challenger 0)" in result.reasons[1]


def test_labels_showing_the_retrained_model_is_better_let_it_pass(
    diabetes: dict[str, Any],
) -> None:
    champion, challenger = _traffic(
        diabetes["old"], diabetes["new"], diabetes["x"], diabetes["y"],
        n=30_000, share=0.3, labelled=1.0,
    )  # fmt: skip
    params = AnalysisConfig(metric="mae", min_metric_delta=-5.0)
    for expected in (diabetes["expected"], None):  # labels decide with or without the gate's
        result = analyse(champion, challenger, params, expected)
        assert result.verdict == "pass", result.reasons
        assert result.measures["metric"]["challenger"] < result.measures["metric"]["champion"]


def test_divergence_beyond_the_expectation_holds_for_labels(cancer: dict[str, Any]) -> None:
    """The gate expected the two models to agree; live, one answers a constant."""
    champion, challenger = _traffic(
        cancer["good"], cancer["constant"], cancer["x"], cancer["y"], n=2_000, share=0.25
    )
    result = analyse(champion, challenger, AnalysisConfig(), cancer["expected"])
    assert result.verdict == "hold"
    assert "beyond expectation" in result.reasons[0]
    assert result.measures["divergence"]["reference"] == "gate"


def test_a_constant_model_is_rolled_back_once_labels_show_it_is_worse(
    cancer: dict[str, Any],
) -> None:
    champion, challenger = _traffic(
        cancer["good"], cancer["constant"], cancer["x"], cancer["y"],
        n=2_000, share=0.25, labelled=0.5,
    )  # fmt: skip
    result = analyse(champion, challenger, AnalysisConfig(), cancer["expected"])
    assert result.verdict == "fail"
    assert result.measures["evidence"] == ["labels"]
    assert result.reasons[0].startswith("accuracy 0.")
    assert "challenger worse" in result.reasons[0]


@pytest.mark.parametrize(
    ("kwargs", "evidence", "start"),
    [({"errors": 40}, "errors", "error rate"), ({"latency": 80.0}, "latency", "latency p95")],
)
def test_errors_and_latency_are_evidence_and_named(
    cancer: dict[str, Any], kwargs: dict[str, Any], evidence: str, start: str
) -> None:
    champion, challenger = _traffic(
        cancer["good"], cancer["better"], cancer["x"], cancer["y"], n=2_000, share=0.25, **kwargs
    )
    result = analyse(champion, challenger, AnalysisConfig(), cancer["expected"])
    assert result.verdict == "fail"
    assert result.measures["evidence"] == [evidence]
    assert result.reasons[0].startswith(start)


def test_a_damaged_expectation_falls_back_to_the_limit_with_the_reason(
    cancer: dict[str, Any],
) -> None:
    champion, challenger = _traffic(
        cancer["good"], cancer["better"], cancer["x"], cancer["y"], n=2_000, share=0.25
    )
    damaged = {**cancer["expected"].to_dict(), "champion": [1.0, -5.0, 0.0]}
    state, reason, numbers = divergence_guard(champion, challenger, AnalysisConfig(), damaged)
    assert state == "within"
    assert "the recorded expectation is unusable" in reason
    assert numbers["reference"] == "limit"


def test_equal_models_rarely_exceed_the_bound() -> None:
    """The bound is a 97.5 % quantile: same-behaved samples exceed it about 2.5 % of the time."""
    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    predictions = model.predict(x)
    profile = divergence_profile(predictions, predictions)
    beyond = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        champion = VariantStats(900, 0, [], predictions[rng.integers(0, len(x), 900)])
        challenger = VariantStats(150, 0, [], predictions[rng.integers(0, len(x), 150)])
        state, _, _ = divergence_guard(champion, challenger, AnalysisConfig(), profile)
        beyond += state == "beyond"
    assert beyond <= 15  # 2.5 % of 200 is 5; the bound also covers the holdout's noise


def test_the_bound_grows_for_small_live_samples() -> None:
    profile = divergence_profile(np.arange(1_000) % 3, np.arange(1_000) % 3)
    assert expected_bound(profile, 100, 100, 0.025) > expected_bound(profile, 5_000, 5_000, 0.025)


def test_the_configuration_accepts_exactly_the_metrics_the_analysis_computes() -> None:
    from typing import get_args

    from conveyor.config import AnalysisConfig
    from conveyor.rollout.analysis._metrics import METRICS

    allowed = get_args(AnalysisConfig.model_fields["metric"].annotation)
    assert set(allowed) == set(METRICS)
