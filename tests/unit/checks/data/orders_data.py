"""Small orders tables with known properties, shared by the data-check tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def orders(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """A clean orders table: unique ids, prices in 1..100, 3 regions, a few null coupons."""
    rng = np.random.default_rng(seed)
    coupon = rng.choice(["SPRING", "VIP"], n).astype(object)
    coupon[:5] = None
    return pd.DataFrame(
        {
            "order_id": np.arange(1, n + 1),
            "price": rng.uniform(1.0, 100.0, n).round(2),
            "quantity": rng.integers(1, 10, n),
            "region": rng.choice(["north", "south", "west"], n),
            "coupon": pd.Series(coupon, dtype="str"),
        }
    )


def labelled(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A binary problem: target from ``a`` and ``b``; ``noise`` is unrelated to it."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    target = ((a + 0.7 * b + rng.normal(scale=0.5, size=n)) > 0).astype(int)
    return pd.DataFrame({"a": a, "b": b, "noise": rng.normal(size=n), "target": target})
