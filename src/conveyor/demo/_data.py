"""A deterministic synthetic e-commerce data set with a built-in seasonal shift.

Each row is one recommendation shown in a user session and whether the recommended product
was bought. The purchase probability depends on price, discount, the user's segment and
affinity for the category, the session's engagement and the device: a learnable, realistic
signal. ``season="winter"`` shifts the category mix toward electronics and toys, raises
prices, and changes behaviour (mobile sessions convert better, discounts matter more), so
both the feature distributions and the relation to the label drift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = ("books", "electronics", "fashion", "home", "sports", "toys", "beauty", "grocery")
SEGMENTS = ("new", "casual", "loyal", "vip")
DEVICES = ("desktop", "mobile", "tablet")

_CATEGORY_MIX = {
    "summer": (0.14, 0.12, 0.18, 0.14, 0.16, 0.06, 0.10, 0.10),
    "winter": (0.10, 0.26, 0.12, 0.12, 0.05, 0.20, 0.08, 0.07),
}
_BASE_PRICE = {
    "books": 15.0, "electronics": 180.0, "fashion": 45.0, "home": 60.0,
    "sports": 55.0, "toys": 30.0, "beauty": 25.0, "grocery": 12.0,
}  # fmt: skip


def generate_sessions(n_rows: int = 5000, *, seed: int = 7, season: str = "summer") -> pd.DataFrame:
    """Generate ``n_rows`` recommendation impressions for ``season`` ("summer" or "winter").

    Args:
        n_rows: Number of rows.
        seed: Random seed; the same arguments always give the same frame.
        season: ``"summer"`` (the reference period) or ``"winter"`` (the shifted one).

    Returns:
        A frame with columns ``session_id, user_id, user_segment, device, hour,
        product_category, price, discount, pages_viewed, session_seconds,
        past_purchases, category_affinity, purchased`` (the label, 0/1).

    Example:
        >>> df = generate_sessions(100, seed=1)
        >>> df.shape
        (100, 13)
    """
    if season not in _CATEGORY_MIX:
        raise ValueError(f"season must be one of {sorted(_CATEGORY_MIX)}, got {season!r}")
    winter = season == "winter"
    rng = np.random.default_rng(seed + (1_000_003 if winter else 0))
    n_users = max(n_rows // 8, 1)
    user_ids = rng.integers(1, n_users + 1, size=n_rows)
    # A user's segment is a property of the user, not of the impression.
    segment_of_user = rng.choice(len(SEGMENTS), size=n_users + 1, p=(0.3, 0.4, 0.22, 0.08))
    segment = segment_of_user[user_ids]
    device = rng.choice(
        len(DEVICES), size=n_rows, p=(0.35, 0.55, 0.10) if winter else (0.5, 0.4, 0.1)
    )
    hour = rng.integers(0, 24, size=n_rows)
    category = rng.choice(len(CATEGORIES), size=n_rows, p=_CATEGORY_MIX[season])
    base = np.array([_BASE_PRICE[c] for c in CATEGORIES])[category]
    price = np.round(base * rng.lognormal(0.25 if winter else 0.0, 0.35, size=n_rows), 2)
    discount = np.round(np.clip(rng.beta(2, 6, size=n_rows) * (0.9 if winter else 0.6), 0, 0.8), 2)
    pages = rng.poisson(3 + segment * 1.5, size=n_rows) + 1
    seconds = np.round(rng.gamma(2.0, 60 + 25 * segment, size=n_rows), 1)
    past = rng.poisson(np.array([0.2, 2.0, 8.0, 20.0])[segment])
    affinity = np.round(rng.beta(2 + segment, 4, size=n_rows), 3)

    logit = (
        -2.8
        + 0.55 * segment
        + 2.2 * affinity
        + 0.12 * np.minimum(pages, 12)
        + 0.002 * np.minimum(seconds, 900)
        - 0.55 * np.log1p(price / 20.0)
        + (4.0 if winter else 2.0) * discount
        + (0.6 if winter else -0.2) * (device == 1)
        + 0.15 * ((hour >= 18) & (hour <= 22))
    )
    purchased = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(
        {
            # Winter's sessions follow summer's: ids keep counting rather than restart.
            "session_id": np.arange(1, n_rows + 1, dtype=np.int64) + (n_rows if winter else 0),
            "user_id": user_ids.astype(np.int64),
            "user_segment": np.array(SEGMENTS, dtype=object)[segment],
            "device": np.array(DEVICES, dtype=object)[device],
            "hour": hour.astype(np.int64),
            "product_category": np.array(CATEGORIES, dtype=object)[category],
            "price": price,
            "discount": discount,
            "pages_viewed": pages.astype(np.int64),
            "session_seconds": seconds,
            "past_purchases": past.astype(np.int64),
            "category_affinity": affinity,
            "purchased": purchased,
        }
    )
