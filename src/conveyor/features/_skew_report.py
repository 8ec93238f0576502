"""What the skew check found: per feature, per view and overall, JSON-able."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conveyor.core import isoformat
from conveyor.features._definitions import feature_ref

__all__ = ["FeatureSkew", "SkewExample", "SkewReport", "ViewSkew"]


@dataclass(frozen=True)
class FeatureSkew:
    """How often one feature's online value differs from the offline one.

    Attributes:
        view: The feature view.
        feature: The feature.
        dtype: Its declared type.
        compared: Sampled keys compared.
        mismatches: Keys whose online value differs.
    """

    view: str
    feature: str
    dtype: str
    compared: int
    mismatches: int

    @property
    def ref(self) -> str:
        """``view:feature``."""
        return feature_ref(self.view, self.feature)

    @property
    def mismatch_rate(self) -> float:
        """``mismatches / compared`` (0 when nothing was compared)."""
        return self.mismatches / self.compared if self.compared else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "view": self.view,
            "feature": self.feature,
            "dtype": self.dtype,
            "compared": self.compared,
            "mismatches": self.mismatches,
            "mismatch_rate": self.mismatch_rate,
        }


@dataclass(frozen=True)
class SkewExample:
    """One sampled key whose online values differ from the offline ones.

    Attributes:
        key: Join key column -> value.
        event_ts: The event time of the online values (the offline join's "as of").
        offline_ts: The event time of the offline row the join picked (``None``: there is
            no offline row for the key at or before ``event_ts``).
        differences: Feature -> ``(online, offline)`` values, as JSON scalars.
    """

    key: dict[str, Any]
    event_ts: datetime
    offline_ts: datetime | None
    differences: dict[str, tuple[Any, Any]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "key": dict(self.key),
            "event_ts": isoformat(self.event_ts),
            "offline_ts": None if self.offline_ts is None else isoformat(self.offline_ts),
            "differences": {
                name: {"online": online, "offline": offline}
                for name, (online, offline) in self.differences.items()
            },
        }


@dataclass(frozen=True)
class ViewSkew:
    """The skew measured on one feature view.

    Attributes:
        view: The view's name.
        version: The view's current (applied) version, the one the offline join used.
        dataset: The dataset version the offline join read (``name@version``).
        online_version: The view version last materialized into this online store
            (``None``: never materialized there).
        materialized_at: When that materialization finished.
        online_keys: Keys of the view in the online store.
        sampled: Keys sampled and compared.
        features: Per feature, the mismatch counts.
        examples: Up to five mismatching keys.
        missing_offline: Sampled keys with no offline row at or before their online event
            time (every feature of such a key counts as a mismatch).
        stale_keys: Sampled keys whose online event time is not that of the key's latest
            offline row within the last materialization's time range: the online value
            is consistent but not the newest (new data since the materialization).
        max_mismatch_rate: The largest mismatch rate that passes.
    """

    view: str
    version: int | None
    dataset: str | None
    online_version: int | None
    materialized_at: datetime | None
    online_keys: int
    sampled: int
    features: tuple[FeatureSkew, ...]
    examples: tuple[SkewExample, ...]
    missing_offline: int
    stale_keys: int
    max_mismatch_rate: float

    @property
    def passed(self) -> bool:
        """Keys were compared and no feature's mismatch rate is above the threshold."""
        return self.sampled > 0 and all(
            f.mismatch_rate <= self.max_mismatch_rate for f in self.features
        )

    @property
    def failing(self) -> tuple[FeatureSkew, ...]:
        """The features whose mismatch rate is above the threshold."""
        return tuple(f for f in self.features if f.mismatch_rate > self.max_mismatch_rate)

    @property
    def explanation(self) -> str:
        """One or two sentences: what was found and, on failure, what to do."""
        if self.online_keys == 0 or self.sampled == 0:
            return (
                f"Feature view {self.view!r} has no keys in the online store: nothing was "
                "materialized, so online values cannot be compared with offline ones. Run "
                "`conveyor features materialize`."
            )
        if self.passed:
            worst = max((f.mismatch_rate for f in self.features), default=0.0)
            return (
                f"Feature view {self.view!r}: {self.sampled} sampled key(s) agree with the "
                f"offline join (largest mismatch rate {_pct(worst)}, at most "
                f"{_pct(self.max_mismatch_rate)} allowed)."
            )
        shown = ", ".join(
            f"{f.feature} {f.mismatches}/{f.compared} ({_pct(f.mismatch_rate)})"
            for f in self.failing
        )
        why = ""
        if self.online_version is not None and self.online_version != self.version:
            why = (
                f" The online values were materialized from version {self.online_version} of "
                f"the view; its current definition is version {self.version}."
            )
        elif self.missing_offline:
            why = (
                f" {self.missing_offline} sampled key(s) have no offline row at or before "
                "their online event time."
            )
        return (
            f"Feature view {self.view!r}: online values differ from the offline join for "
            f"{shown} (at most {_pct(self.max_mismatch_rate)} allowed).{why} Run `conveyor "
            "features materialize` to write the current values, or find where the online "
            "values come from."
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "view": self.view,
            "version": self.version,
            "dataset": self.dataset,
            "online_version": self.online_version,
            "materialized_at": _iso(self.materialized_at),
            "online_keys": self.online_keys,
            "sampled": self.sampled,
            "passed": self.passed,
            "explanation": self.explanation,
            "features": [f.to_dict() for f in self.features],
            "examples": [e.to_dict() for e in self.examples],
            "missing_offline": self.missing_offline,
            "stale_keys": self.stale_keys,
        }


@dataclass(frozen=True)
class SkewReport:
    """The result of :func:`feature_skew`.

    Attributes:
        target: What was checked (a view, a service reference) or ``None`` (every view).
        store: The online store's identity.
        views: Per view, what was measured.
        max_mismatch_rate: The largest per-feature mismatch rate that passes.
        sample: Keys sampled per view (at most).
        seed: The sampling seed.
    """

    target: str | None
    store: str
    views: tuple[ViewSkew, ...]
    max_mismatch_rate: float
    sample: int
    seed: int

    @property
    def passed(self) -> bool:
        """At least one view was checked and every view passed."""
        return bool(self.views) and all(v.passed for v in self.views)

    @property
    def sampled(self) -> int:
        """Keys compared, over every view."""
        return sum(v.sampled for v in self.views)

    @property
    def features(self) -> tuple[FeatureSkew, ...]:
        """Every feature's counts, view by view."""
        return tuple(f for v in self.views for f in v.features)

    @property
    def worst_rate(self) -> float | None:
        """The largest mismatch rate of any compared feature (``None``: none compared)."""
        rates = [f.mismatch_rate for f in self.features if f.compared]
        return max(rates) if rates else None

    @property
    def explanation(self) -> str:
        """What was found, in sentences (the failing views' first)."""
        if not self.views:
            what = "no feature view was applied" if self.target is None else "nothing matched"
            return (
                f"No feature view to check: {what}. Run `conveyor features apply`, then "
                "`conveyor features materialize`."
            )
        if self.passed:
            return (
                f"Online and offline features agree: {self.sampled} key(s) sampled from "
                f"{len(self.views)} view(s), no feature's mismatch rate above "
                f"{_pct(self.max_mismatch_rate)}."
            )
        return " ".join(v.explanation for v in self.views if not v.passed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (strict JSON: no NaN)."""
        return {
            "target": self.target,
            "store": self.store,
            "passed": self.passed,
            "explanation": self.explanation,
            "sampled": self.sampled,
            "sample": self.sample,
            "seed": self.seed,
            "max_mismatch_rate": self.max_mismatch_rate,
            "worst_rate": self.worst_rate,
            "views": [v.to_dict() for v in self.views],
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)


def _pct(rate: float) -> str:
    return f"{rate:.1%}" if rate else "0%"
