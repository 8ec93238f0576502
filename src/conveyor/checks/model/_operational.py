"""Operational budgets and parity: single-row latency, artifact size, save/load parity."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from conveyor.checks.model._inputs import Outcome, fmt, require_rows
from conveyor.checks.model._stability import unchanged_share


def latency(
    predictor: Any, features: pd.DataFrame, *, budget_ms: float, n: int = 100, warmup: int = 5
) -> Outcome:
    """p95 of ``n`` measured single-row predictions against ``budget_ms``.

    Rows cycle through the holdout; the first ``warmup`` calls (caches, lazy imports) are
    not measured.
    """
    require_rows(features)
    rows = [features.iloc[[i % len(features)]] for i in range(n + warmup)]
    for row in rows[:warmup]:
        predictor.predict(row)
    timings: list[float] = []
    for row in rows[warmup:]:
        start = time.perf_counter()
        predictor.predict(row)
        timings.append((time.perf_counter() - start) * 1000.0)
    p50, p95, p99 = (float(v) for v in np.percentile(timings, [50, 95, 99]))
    return Outcome(
        passed=p95 <= budget_ms,
        value=p95,
        threshold=budget_ms,
        explanation=f"p95 single-row predict latency {fmt(p95)} ms over {n} calls (p50 "
        f"{fmt(p50)} ms, p99 {fmt(p99)} ms); budget {fmt(budget_ms)} ms.",
        details={"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "calls": n},
    )


def artifact_size(manifest: Mapping[str, Any], *, max_bytes: int) -> Outcome:
    """Total bytes of a registered model's files (ONNX twin excluded) against ``max_bytes``."""
    files = dict(manifest.get("files") or {})
    total = int(sum(int(entry.get("size") or 0) for entry in files.values()))
    largest = sorted(files.items(), key=lambda kv: -int(kv[1].get("size") or 0))[:3]
    return Outcome(
        passed=total <= max_bytes,
        value=total,
        threshold=max_bytes,
        explanation=f"The stored model is {total:,} bytes in {len(files)} file(s); budget "
        f"{max_bytes:,} bytes.",
        details={"largest": {name: int(entry.get("size") or 0) for name, entry in largest}},
    )


def parity(reference: Any, loaded: Any, features: pd.DataFrame, *, atol: float = 0.0) -> Outcome:
    """Whether the loaded artifact predicts exactly what the in-memory model predicted."""
    require_rows(features)
    expected = np.asarray(reference.predict(features))
    actual = np.asarray(loaded.predict(features))
    if expected.shape != actual.shape:
        return Outcome(
            passed=False,
            value=0.0,
            threshold=1.0,
            explanation=f"The loaded model returns predictions of shape {actual.shape}, the "
            f"in-memory model {expected.shape}.",
            details={"reason": "shape"},
        )
    same = unchanged_share(expected, actual, atol)
    mismatched = round((1.0 - same) * len(features))
    return Outcome(
        passed=same == 1.0,
        value=same,
        threshold=1.0,
        explanation=f"The stored artifact reproduces {fmt(same)} of the in-memory model's "
        f"predictions on {len(features)} holdout rows ({mismatched} differ; all must match).",
        details={"rows": len(features), "mismatched": mismatched, "atol": atol},
    )
