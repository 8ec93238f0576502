"""The canary analysis: one stateless evaluation of a challenger against its champion.

Two sequential tests decide (see :mod:`._sequential`), each on the difference ``d`` of a
"worse" rate between challenger and champion, with a tolerance ``m``:

* error rate (always): ``d`` = challenger error rate - champion error rate,
  ``m`` = ``max_error_rate_increase``;
* the model metric (once any label has arrived): ``d`` = how much worse the challenger
  scores on labelled requests, ``m`` = ``-min_metric_delta``; it decides only once both
  variants have ``min_labels`` labels.

A test reports *worse* when the always-valid interval at level ``alpha / 2`` lies above 0
(the two tests share ``alpha``), and *ok* when the interval at level ``beta`` lies below
``m``. Hence, whenever the analysis is run and however often: a challenger at least as
good as the champion is rolled back by the tests with probability at most ``alpha``, and a
challenger worse by ``m`` or more on a tested measure is promoted with probability at most
``beta``. The verdict is ``fail`` if a test says worse or a guard rail trips, ``pass`` if
every active test says ok and the guard rails had enough data, else ``continue``.
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.config import AnalysisConfig
from conveyor.deploy.analysis._guards import GUARD_MIN_SAMPLES, binned, jensen_shannon, p95
from conveyor.deploy.analysis._metrics import METRICS, badness, check_metric, metric_values
from conveyor.deploy.analysis._sequential import Sample, difference
from conveyor.deploy.analysis._stats import AnalysisResult, VariantStats, Verdict

#: Sequential tests sharing ``alpha`` (error rate and model metric).
_TESTS = 2
#: Mixing scale used when a tolerance is 0 (the boundary needs a positive scale).
_MIN_TAU = 0.005

_Outcome = tuple[str, str, dict[str, Any]]  # state ("worse" | "ok" | "undecided"), reason, numbers


def analyse(
    champion: VariantStats, challenger: VariantStats, params: AnalysisConfig | None = None
) -> AnalysisResult:
    """Compare a challenger with its champion on the traffic both served so far.

    Pass cumulative statistics since the rollout started: the tests are valid under
    continuous monitoring, so evaluating them at every controller tick and every step does
    not inflate their error bounds.

    Args:
        champion: The champion's traffic.
        challenger: The challenger's traffic over the same period.
        params: The environment's ``analysis`` settings (defaults when ``None``).

    Returns:
        The verdict, one reason per test and guard rail, and the numbers behind them.

    Raises:
        AnalysisError: unknown metric, or a regression metric on non-numeric values.

    Example:
        >>> analyse(VariantStats.empty(), VariantStats.empty()).verdict
        'continue'
    """
    params = params or AnalysisConfig()
    check_metric(params.metric)
    measures: dict[str, Any] = {
        "requests": {"champion": champion.requests, "challenger": challenger.requests},
        "alpha": params.alpha,
        "beta": params.beta,
    }
    if challenger.requests == 0 or champion.requests == 0:
        who = "challenger" if challenger.requests == 0 else "champion"
        return AnalysisResult("continue", [f"the {who} has served no requests yet"], measures)

    outcomes = {"error_rate": _error_test(champion, challenger, params)}
    if champion.labelled or challenger.labelled:
        outcomes["metric"] = _metric_test(champion, challenger, params)
    guards = {
        "latency_p95": _latency_guard(champion, challenger, params),
        "divergence": _divergence_guard(champion, challenger, params),
    }
    reasons: list[str] = []
    for name, (_, reason, numbers) in {**outcomes, **guards}.items():
        measures[name] = numbers
        reasons.append(reason)
    states = [state for state, _, _ in outcomes.values()]
    guard_states = [state for state, _, _ in guards.values()]
    verdict: Verdict
    if "worse" in states or "worse" in guard_states:
        verdict = "fail"
        reasons = [
            reason
            for state, reason, _ in (*outcomes.values(), *guards.values())
            if state == "worse"
        ]
    elif all(state == "ok" for state in (*states, *guard_states)):
        verdict = "pass"
    else:
        verdict = "continue"
    if "metric" not in outcomes and verdict != "fail":
        reasons.append(f"{params.metric}: no labels yet, decided on error rate and guards")
    return AnalysisResult(verdict, reasons, measures)


def _error_test(champion: VariantStats, challenger: VariantStats, p: AnalysisConfig) -> _Outcome:
    margin = p.max_error_rate_increase
    c = Sample.bernoulli(challenger.errors, challenger.requests)
    h = Sample.bernoulli(champion.errors, champion.requests)
    state, bounds = _decide(c, h, margin, p)
    rates = f"error rate {c.mean:.2%} vs champion {h.mean:.2%}"
    numbers = {"challenger": c.mean, "champion": h.mean, "tolerance": margin, **bounds}
    return state, _sentence(rates, state, bounds, margin, pct=True), numbers


def _metric_test(champion: VariantStats, challenger: VariantStats, p: AnalysisConfig) -> _Outcome:
    metric, margin = p.metric, -p.min_metric_delta
    counts = {"champion_labels": champion.labelled, "challenger_labels": challenger.labelled}
    if min(champion.labelled, challenger.labelled) < max(p.min_labels, 1):
        reason = (
            f"{metric}: waiting for {p.min_labels} labels per variant "
            f"(champion {champion.labelled}, challenger {challenger.labelled})"
        )
        return "undecided", reason, {"metric": metric, **counts}
    binary = METRICS[metric][1]
    values_c, values_h = metric_values(challenger, metric), metric_values(champion, metric)
    c = Sample.of(badness(values_c, metric), binary=binary)
    h = Sample.of(badness(values_h, metric), binary=binary)
    state, bounds = _decide(c, h, margin, p)
    scores = (
        f"{metric} {float(values_c.mean()):.4g} vs champion {float(values_h.mean()):.4g} "
        f"on {challenger.labelled}/{champion.labelled} labels"
    )
    numbers = {
        "metric": metric,
        "challenger": float(values_c.mean()),
        "champion": float(values_h.mean()),
        "tolerance": margin,
        **counts,
        **bounds,
    }
    return state, _sentence(scores, state, bounds, margin, pct=binary), numbers


def _decide(c: Sample, h: Sample, margin: float, p: AnalysisConfig) -> tuple[str, dict[str, Any]]:
    tau2 = max(margin, _MIN_TAU) ** 2
    worse = difference(c, h, tau2=tau2, level=p.alpha / _TESTS)
    ok = difference(c, h, tau2=tau2, level=p.beta)
    bounds = {
        "difference": worse.estimate,
        "rollback_lower": worse.lower,
        "promote_upper": ok.upper,
    }
    finite: dict[str, float | None] = {
        k: (v if math.isfinite(v) else None) for k, v in bounds.items()
    }
    if worse.lower > 0:
        return "worse", finite
    if ok.upper < margin:
        return "ok", finite
    return "undecided", finite


def _sentence(what: str, state: str, bounds: dict[str, Any], margin: float, *, pct: bool) -> str:
    def show(value: float | None) -> str:
        if value is None:
            return "unbounded"
        return f"{value * 100:+.2f} points" if pct else f"{value:+.4g}"

    if state == "worse":
        return f"{what}: challenger worse (lower bound {show(bounds['rollback_lower'])} > 0)"
    if state == "ok":
        return (
            f"{what}: within tolerance (upper bound {show(bounds['promote_upper'])} "
            f"< {show(margin)})"
        )
    return (
        f"{what}: undecided (difference {show(bounds['difference'])}, bounds "
        f"{show(bounds['rollback_lower'])} .. {show(bounds['promote_upper'])})"
    )


def _latency_guard(champion: VariantStats, challenger: VariantStats, p: AnalysisConfig) -> _Outcome:
    lat_h, lat_c = champion.latencies_ms, challenger.latencies_ms
    if min(len(lat_h), len(lat_c)) < GUARD_MIN_SAMPLES:
        return "undecided", f"latency: waiting for {GUARD_MIN_SAMPLES} requests per variant", {}
    high_h, high_c = p95(lat_h), p95(lat_c)  # type: ignore[arg-type]
    ratio = high_c / high_h if high_h > 0 else (math.inf if high_c > 0 else 1.0)
    numbers: dict[str, float | None] = {
        "challenger_ms": high_c,
        "champion_ms": high_h,
        "ratio": ratio if math.isfinite(ratio) else None,
    }
    text = f"latency p95 {high_c:.1f} ms vs champion {high_h:.1f} ms (x{ratio:.2f})"
    if ratio > p.max_latency_p95_ratio:
        return "worse", f"{text} exceeds x{p.max_latency_p95_ratio:g}", numbers
    return "ok", text, numbers


def _divergence_guard(
    champion: VariantStats, challenger: VariantStats, p: AnalysisConfig
) -> _Outcome:
    pred_h, pred_c = champion.predictions, challenger.predictions
    if min(len(pred_h), len(pred_c)) < GUARD_MIN_SAMPLES:
        text = f"prediction divergence: waiting for {GUARD_MIN_SAMPLES} predictions per variant"
        return "undecided", text, {}
    counts_h, counts_c, kind = binned(pred_h, pred_c)  # type: ignore[arg-type]
    value = jensen_shannon(counts_h, counts_c)
    numbers = {"jensen_shannon": value, "bins": len(counts_h), "kind": kind}
    text = f"prediction divergence (Jensen-Shannon) {value:.3f}"
    if value > p.max_divergence:
        return "worse", f"{text} exceeds {p.max_divergence:g}", numbers
    return "ok", text, numbers
