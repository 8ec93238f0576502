"""Test data for the monitoring unit tests: a reference table and prediction-log windows."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

NUMERIC = ("x0", "x1", "x2", "x3")


def reference_table(rows: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Four normal features, one integer count, one three-valued category."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in NUMERIC})
    frame["count"] = rng.poisson(3, size=rows)
    frame["colour"] = rng.choice(["red", "green", "blue"], size=rows, p=[0.5, 0.3, 0.2])
    return frame


def as_log(frame: pd.DataFrame, *, seed: int = 1, accuracy: float = 0.9) -> pd.DataFrame:
    """``frame`` laid out like the prediction log (``in_`` inputs, prediction, label)."""
    rng = np.random.default_rng(seed)
    log = frame.add_prefix("in_")
    rows = len(frame)
    log["prediction"] = rng.integers(0, 2, size=rows)
    correct = rng.random(rows) < accuracy
    log["label"] = pd.Series(
        np.where(correct, log["prediction"], 1 - log["prediction"]), dtype=object
    )
    log["at"] = pd.date_range(datetime(2026, 1, 1, tzinfo=UTC), periods=rows, freq="s")
    return log
