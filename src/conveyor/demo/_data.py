"""A deterministic synthetic e-commerce data set with a built-in seasonal shift.

Each row is one recommendation shown in a user session and whether the recommended product
was bought. The purchase probability depends on price, discount, the user's segment and
affinity for the category, the session's engagement and the device: a learnable, realistic
signal. ``season="winter"`` shifts the category mix toward electronics and toys, raises
prices, and changes behaviour (mobile sessions convert better, discounts matter more), so
both the feature distributions and the relation to the label drift.

The shop's users are one fixed population (:data:`N_USERS` people, each with a segment);
their profile (segment, purchases so far) is snapshotted at the start of each season
(:func:`generate_users`), and the catalog's list prices likewise (:func:`generate_catalog`):
the feature store's user and product features. A session's ``user_segment`` and
``past_purchases`` are its user's profile of that season.
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
#: The shop's users: ids 1..N_USERS, the same people in every season.
N_USERS = 4_000
#: Where each season starts (its profile snapshot) and how long its sessions span.
SEASON_START = {
    "summer": pd.Timestamp("2026-06-01", tz="UTC"),
    "winter": pd.Timestamp("2026-12-01", tz="UTC"),
}
_SEASON_DAYS = 90
_BASE_PRICE = {
    "books": 15.0, "electronics": 180.0, "fashion": 45.0, "home": 60.0,
    "sports": 55.0, "toys": 30.0, "beauty": 25.0, "grocery": 12.0,
}  # fmt: skip


def _population(season: str) -> tuple[np.ndarray, np.ndarray]:
    """(segment, past purchases) of each user id (index 0 unused) at the season's start."""
    rng = np.random.default_rng(20_260_601)
    segment = rng.choice(len(SEGMENTS), size=N_USERS + 1, p=(0.3, 0.4, 0.22, 0.08))
    means = np.array([0.2, 2.0, 8.0, 20.0])[segment]
    past = rng.poisson(means)
    if season == "winter":  # another season of purchases
        past = past + np.random.default_rng(20_261_201).poisson(means / 2)
    return segment, past


def _check_season(season: str) -> None:
    if season not in _CATEGORY_MIX:
        raise ValueError(f"season must be one of {sorted(_CATEGORY_MIX)}, got {season!r}")


def generate_users(season: str = "summer") -> pd.DataFrame:
    """Every user's profile at the start of ``season``: ``user_id, event_timestamp,
    user_segment, past_purchases`` (one row per user).

    Example:
        >>> generate_users("summer").shape
        (4000, 4)
    """
    _check_season(season)
    segment, past = _population(season)
    return pd.DataFrame(
        {
            "user_id": np.arange(1, N_USERS + 1, dtype=np.int64),
            "event_timestamp": SEASON_START[season] - pd.Timedelta(seconds=1),
            "user_segment": np.array(SEGMENTS, dtype=object)[segment[1:]],
            "past_purchases": past[1:].astype(np.int64),
        }
    )


def generate_catalog(season: str = "summer") -> pd.DataFrame:
    """The catalog's list price per product category at the start of ``season``:
    ``product_category, event_timestamp, list_price``.

    Example:
        >>> generate_catalog("winter").shape
        (8, 3)
    """
    _check_season(season)
    markup = 1.15 if season == "winter" else 1.0
    return pd.DataFrame(
        {
            "product_category": list(CATEGORIES),
            "event_timestamp": SEASON_START[season] - pd.Timedelta(seconds=1),
            "list_price": [round(_BASE_PRICE[c] * markup, 2) for c in CATEGORIES],
        }
    )


def generate_sessions(n_rows: int = 5000, *, seed: int = 7, season: str = "summer") -> pd.DataFrame:
    """Generate ``n_rows`` recommendation impressions for ``season`` ("summer" or "winter").

    Args:
        n_rows: Number of rows.
        seed: Random seed; the same arguments always give the same frame.
        season: ``"summer"`` (the reference period) or ``"winter"`` (the shifted one).

    Returns:
        A frame with columns ``session_id, user_id, event_timestamp, user_segment, device,
        hour, product_category, price, discount, pages_viewed, session_seconds,
        past_purchases, category_affinity, purchased`` (the label, 0/1).

    Example:
        >>> df = generate_sessions(100, seed=1)
        >>> df.shape
        (100, 14)
    """
    _check_season(season)
    winter = season == "winter"
    rng = np.random.default_rng(seed + (1_000_003 if winter else 0))
    user_ids = rng.integers(1, N_USERS + 1, size=n_rows)
    # A user's segment and purchases so far are the user's, not the impression's.
    segment_of_user, past_of_user = _population(season)
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
    past = past_of_user[user_ids]
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
    # When the session happened: a day of the season, at its hour.
    seconds_in = rng.integers(0, _SEASON_DAYS, size=n_rows) * 86_400 + hour * 3_600
    seconds_in = seconds_in + rng.integers(0, 3_600, size=n_rows)
    stamps = SEASON_START[season] + pd.to_timedelta(seconds_in, unit="s")
    return pd.DataFrame(
        {
            # Winter's sessions follow summer's: ids keep counting rather than restart.
            "session_id": np.arange(1, n_rows + 1, dtype=np.int64) + (n_rows if winter else 0),
            "user_id": user_ids.astype(np.int64),
            "event_timestamp": stamps,
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
