"""Prediction stability: small numeric noise, missing values, and irrelevant features.

Predictions count as unchanged when equal (labels) or, for continuous outputs, within a
tolerance. A model that refuses missing values fails the missing-value part with the reason
the model gave, which is exactly what a user needs to know before serving it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from conveyor.checks.model._errors import ModelCheckInputError
from conveyor.checks.model._inputs import Outcome, fmt, require_columns, require_rows
from conveyor.checks.model._metrics import Array


def unchanged_share(base: Array, new: Array, atol: float = 0.0) -> float:
    """Share of rows whose prediction is unchanged (within ``atol`` for floats)."""
    base = np.asarray(base)
    new = np.asarray(new)
    if base.dtype.kind == "f" or new.dtype.kind == "f":
        same = np.isclose(new.astype(float), base.astype(float), rtol=1e-9, atol=atol)
    else:
        same = base == new
    if same.ndim > 1:
        same = same.all(axis=tuple(range(1, same.ndim)))
    return float(np.mean(same))


def _continuous(pred: Array) -> bool:
    return pred.dtype.kind == "f" and not np.all(np.equal(np.mod(pred, 1), 0))


def robustness(
    predictor: Any,
    features: pd.DataFrame,
    *,
    noise_scale: float = 0.01,
    min_unchanged: float = 0.95,
    missing: bool = True,
    missing_share: float = 0.05,
    tolerance: float = 0.01,
    seed: int = 0,
    base: Array | None = None,
) -> Outcome:
    """Share of unchanged predictions under Gaussian noise and under missing values.

    Args:
        predictor: Has ``predict(frame)``.
        features: The holdout without the target.
        noise_scale: Noise standard deviation as a fraction of each numeric column's std.
        min_unchanged: Required share of unchanged predictions (each perturbation).
        missing: Also blank a random share of cells and require the same stability.
        missing_share: Share of cells set missing.
        tolerance: For continuous predictions: allowed change as a fraction of their std.
        seed: Seed of the noise and the blanked cells.
        base: Predictions on ``features`` when already computed.
    """
    require_rows(features)
    rng = np.random.default_rng(seed)
    base = np.asarray(predictor.predict(features)) if base is None else np.asarray(base)
    atol = tolerance * float(np.std(base)) if _continuous(base) else 0.0
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    numeric = [c for c in numeric if not pd.api.types.is_bool_dtype(features[c])]
    noisy = features.copy()
    for column in numeric:
        values = features[column].astype(float)
        std = float(values.std(ddof=0)) if len(values) > 1 else 0.0
        noisy[column] = values + rng.normal(0.0, noise_scale * std, size=len(values))
    noise_ok = unchanged_share(base, np.asarray(predictor.predict(noisy)), atol)
    value: dict[str, Any] = {"noise_unchanged": noise_ok}
    details: dict[str, Any] = {
        "noise_scale": noise_scale,
        "numeric_columns": numeric,
        "tolerance": atol,
    }
    parts = [
        f"{fmt(noise_ok)} of predictions unchanged under Gaussian noise of "
        f"{fmt(noise_scale)} x std on {len(numeric)} numeric columns"
    ]
    passed = noise_ok >= min_unchanged
    if missing:
        holed = features.copy()
        for column in numeric:
            mask = rng.random(len(holed)) < missing_share
            holed[column] = holed[column].astype(float).mask(mask)
        try:
            missing_pred = np.asarray(predictor.predict(holed))
        # Any refusal (sklearn's ValueError, an ONNX runtime error ...) is the finding itself.
        except Exception as exc:  # noqa: BLE001
            value["missing_unchanged"] = None
            details["missing_error"] = f"{type(exc).__name__}: {exc}"
            return Outcome(
                passed=False,
                value=value,
                threshold=min_unchanged,
                explanation=f"{parts[0]}; the model cannot take missing values: predicting "
                f"with {fmt(missing_share)} of numeric cells missing raised "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}.",
                details={**details, "reason": "missing_unsupported"},
            )
        missing_ok = unchanged_share(base, missing_pred, atol)
        value["missing_unchanged"] = missing_ok
        details["missing_share"] = missing_share
        parts.append(
            f"{fmt(missing_ok)} unchanged with {fmt(missing_share)} of numeric cells missing"
        )
        passed = passed and missing_ok >= min_unchanged
    return Outcome(
        passed=passed,
        value=value,
        threshold=min_unchanged,
        explanation=f"{'; '.join(parts)} (required at least {fmt(min_unchanged)} each).",
        details=details,
    )


def invariance(
    predictor: Any,
    features: pd.DataFrame,
    columns: Sequence[str],
    *,
    max_changed: float = 0.0,
    seed: int = 0,
    base: Array | None = None,
) -> Outcome:
    """Whether shuffling each declared irrelevant column leaves every prediction unchanged."""
    if not columns:
        raise ModelCheckInputError(
            "The invariance check has no irrelevant feature to permute.",
            hint="Declare evaluation.irrelevant in conveyor.yaml or pass params.columns.",
        )
    require_rows(features)
    require_columns(features, columns, "irrelevant feature")
    rng = np.random.default_rng(seed)
    base = np.asarray(predictor.predict(features)) if base is None else np.asarray(base)
    changed: dict[str, float] = {}
    for column in columns:
        shuffled = features.copy()
        shuffled[column] = features[column].to_numpy()[rng.permutation(len(features))]
        changed[column] = 1.0 - unchanged_share(base, np.asarray(predictor.predict(shuffled)))
    offenders = {c: v for c, v in changed.items() if v > max_changed}
    worst = max(changed.values())
    if offenders:
        named = ", ".join(f"{c} ({fmt(v)} of predictions changed)" for c, v in offenders.items())
        explanation = f"Permuting declared-irrelevant features changed predictions: {named}."
    else:
        explanation = (
            f"Permuting {', '.join(columns)} changed at most {fmt(worst)} of predictions "
            f"(allowed {fmt(max_changed)})."
        )
    return Outcome(
        passed=not offenders,
        value=worst,
        threshold=max_changed,
        explanation=explanation,
        details={"changed_share": changed},
    )
