"""The canary analysis: one stateless evaluation of a challenger against its champion.

It judges outcomes, not change. Two sequential tests (see :mod:`._sequential`) and a
latency guard look for evidence that the challenger is worse, each on the difference ``d``
of a "worse" rate between challenger and champion, with a tolerance ``m``:

* error rate (always): ``d`` = challenger error rate - champion error rate,
  ``m`` = ``max_error_rate_increase``;
* the model metric (once any label has arrived): ``d`` = how much worse the challenger
  scores on labelled requests, ``m`` = ``-min_metric_delta``; it decides only once both
  variants have ``min_labels`` labels;
* latency: the challenger's p95 over the champion's above ``max_latency_p95_ratio``.

A test reports *worse* when the always-valid interval at level ``alpha / 2`` lies above 0
(the two tests share ``alpha``), and *ok* when the interval at level ``beta`` lies below
``m``. Hence, whenever the analysis is run and however often: a challenger at least as
good as the champion is rolled back by the tests with probability at most ``alpha``, and a
challenger worse by ``m`` or more on a tested measure is promoted with probability at most
``beta``.

Prediction divergence is not evidence of harm: it is compared with the divergence the gate
expected (see :mod:`._divergence`). Beyond it, and unless labels already show the
challenger is not worse, the verdict is ``hold``: pause and wait for labels.

The verdict is ``fail`` when a test or the latency guard says worse (``measures["evidence"]``
names which: ``errors``, ``labels``, ``latency``), else ``hold`` as above, ``pass`` if every
active test says ok and the guards had enough data, else ``continue``.
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.config import AnalysisConfig
from conveyor.rollout.analysis._divergence import Expectation, divergence_guard
from conveyor.rollout.analysis._guards import GUARD_MIN_SAMPLES, p95
from conveyor.rollout.analysis._metrics import METRICS, badness, check_metric, metric_values
from conveyor.rollout.analysis._sequential import Sample, difference
from conveyor.rollout.analysis._stats import AnalysisResult, VariantStats, Verdict

#: Sequential tests sharing ``alpha`` (error rate and model metric).
_TESTS = 2
#: Mixing scale used when a tolerance is 0 (the boundary needs a positive scale).
_MIN_TAU = 0.005
#: Where each kind of evidence is kept in ``measures`` (names predate the evidence list).
_MEASURE = {"errors": "error_rate", "labels": "metric", "latency": "latency_p95"}

_Outcome = tuple[str, str, dict[str, Any]]  # state ("worse" | "ok" | "undecided"), reason, numbers


def analyse(
    champion: VariantStats,
    challenger: VariantStats,
    params: AnalysisConfig | None = None,
    expected: Expectation = None,
) -> AnalysisResult:
    """Compare a challenger with its champion on the traffic both served so far.

    Pass cumulative statistics since the rollout started: the tests are valid under
    continuous monitoring, so evaluating them at every controller tick and every step does
    not inflate their error bounds.

    Args:
        champion: The champion's traffic.
        challenger: The challenger's traffic over the same period.
        params: The environment's ``analysis`` settings (defaults when ``None``).
        expected: The prediction divergence the gate measured between these two models
            on the holdout (a :class:`~conveyor.checks.model.DivergenceProfile` or its
            stored dict); ``None`` compares with ``params.max_divergence`` instead.

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

    evidence = {"errors": _error_test(champion, challenger, params)}
    if champion.labelled or challenger.labelled:
        evidence["labels"] = _metric_test(champion, challenger, params)
    evidence["latency"] = _latency_guard(champion, challenger, params)
    divergence = divergence_guard(champion, challenger, params, expected)
    for name, (_, _, numbers) in evidence.items():
        measures[_MEASURE[name]] = numbers
    measures["divergence"] = divergence[2]
    worse = [name for name, (state, _, _) in evidence.items() if state == "worse"]
    if worse:
        measures["evidence"] = worse
        return AnalysisResult("fail", [evidence[name][1] for name in worse], measures)
    reasons = [reason for _, reason, _ in evidence.values()] + [divergence[1]]
    labels_ok = "labels" in evidence and evidence["labels"][0] == "ok"
    if divergence[0] == "beyond" and not labels_ok:
        labelled = (champion.labelled, challenger.labelled)
        wait = (
            f"waiting for {max(params.min_labels, 1)} labels per variant (champion "
            f"{labelled[0]}, challenger {labelled[1]}): divergence alone is no evidence "
            "that the challenger is worse"
        )
        return AnalysisResult("hold", [divergence[1], wait], measures)
    states = [state for state, _, _ in evidence.values()]
    verdict: Verdict
    if all(state == "ok" for state in states) and divergence[0] != "undecided":
        verdict = "pass"
    else:
        verdict = "continue"
    if "labels" not in evidence:
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
