"""Per-feature drift, the dataset-level verdict, and data quality of one window.

:func:`assess_drift` is pure: a window frame and a reference profile in, JSON-able dicts
out. Each feature is read once (:mod:`._features`), tested by the test its type and size
call for or the one configured for it, and summarised for plots (reference and window
shares over the same bins or categories).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.monitoring._base import category_table, numeric_bins
from conveyor.monitoring._errors import DriftTestError
from conveyor.monitoring._features import ColumnSummary, summarise_column
from conveyor.monitoring._plugins import default_test, get_drift_test
from conveyor.monitoring._reference import (
    CategoricalReference,
    NumericReference,
    Reference,
    reference_from_profile,
)

if TYPE_CHECKING:
    import pandas as pd

_SETTING_KEYS = frozenset({"test", "threshold", "skip"})


@dataclass(frozen=True)
class FeatureSettings:
    """``monitoring.features.<name>``: the test, its threshold, or ``skip: true``."""

    test: str | None = None
    threshold: float | None = None
    skip: bool = False


def parse_feature_settings(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, FeatureSettings]:
    """Validate per-feature overrides.

    Raises:
        DriftTestError: an unknown key, an unknown test, or a non-numeric threshold; the
            message names the feature.
    """
    out: dict[str, FeatureSettings] = {}
    for feature, entry in raw.items():
        unknown = sorted(set(entry) - _SETTING_KEYS)
        if unknown:
            raise DriftTestError(
                f"monitoring.features.{feature} has unknown keys: {', '.join(unknown)}.",
                hint="Allowed keys: test, threshold, skip.",
                feature=feature,
            )
        test = entry.get("test")
        if test is not None:
            get_drift_test(str(test))  # fails early, naming the valid tests
        threshold = entry.get("threshold")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, int | float)
        ):
            raise DriftTestError(
                f"monitoring.features.{feature}.threshold must be a number, got {threshold!r}.",
                hint="Give a p-value (e.g. 0.01) or a distance (e.g. 0.1) for the test.",
                feature=feature,
            )
        out[feature] = FeatureSettings(
            test=None if test is None else str(test),
            threshold=None if threshold is None else float(threshold),
            skip=bool(entry.get("skip", False)),
        )
    return out


def assess_drift(
    window: pd.DataFrame,
    profile: Mapping[str, Any],
    *,
    features: Sequence[str] | None = None,
    settings: Mapping[str, FeatureSettings] | None = None,
    drift_share: float = 0.3,
    p_value: float = 0.01,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compare every feature of ``window`` with the reference ``profile``.

    Args:
        window: One column per feature (plain feature names).
        profile: A dataset profile (``{"columns": {...}}``) of the training data.
        features: The features to check (default: every profile column in the window).
        settings: Per-feature test, threshold or skip.
        drift_share: The dataset drifts when at least this share of tested features do.
        p_value: Threshold of p-value tests without a per-feature threshold.

    Returns:
        ``(drift, quality)``: ``drift`` has ``features`` (per-feature results with plot
        data), ``tested``, ``drifted`` (names), ``share`` and ``dataset_drift``;
        ``quality`` has per-column ``columns`` entries and ``unexpected_columns``.
    """
    columns: dict[str, Any] = dict(profile.get("columns") or {})
    names = list(features) if features is not None else [c for c in columns if c in window]
    summaries = {}
    for feature in names:
        column = columns.get(feature)
        reference = None if column is None else reference_from_profile(column)
        summaries[feature] = summarise_column(feature, window, column, reference)
    expected = set(names)
    unexpected = sorted(str(c) for c in window.columns if c not in expected)
    return judge_drift(
        summaries,
        profile,
        settings=settings,
        drift_share=drift_share,
        p_value=p_value,
        unexpected=unexpected,
    )


def judge_drift(
    summaries: Mapping[str, ColumnSummary],
    profile: Mapping[str, Any],
    *,
    settings: Mapping[str, FeatureSettings] | None = None,
    drift_share: float = 0.3,
    p_value: float = 0.01,
    unexpected: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Test summarised features and collect their quality: :func:`assess_drift`'s second half.

    Args:
        summaries: One summary per feature, in report order (from one pass over a frame,
            or merged from partitions).
        profile: The reference profile the summaries were made against.
        settings: Per-feature test, threshold or skip.
        drift_share: The dataset drifts when at least this share of tested features do.
        p_value: Threshold of p-value tests without a per-feature threshold.
        unexpected: Window columns that are not features.

    Returns:
        ``(drift, quality)`` as :func:`assess_drift` returns them.
    """
    columns: dict[str, Any] = dict(profile.get("columns") or {})
    settings = settings or {}
    results: dict[str, Any] = {}
    quality: dict[str, Any] = {}
    for feature, summary in summaries.items():
        setting = settings.get(feature, FeatureSettings())
        column = columns.get(feature)
        reference = None if column is None else reference_from_profile(column)
        quality[feature] = {"status": summary.status, **summary.quality}
        if setting.skip or reference is None:
            continue
        result = _test(feature, summary, reference, setting, p_value)
        if result is not None:
            results[feature] = result
    drifted = sorted(name for name, result in results.items() if result["drifted"])
    share = len(drifted) / len(results) if results else 0.0
    drift = {
        "features": results,
        "tested": len(results),
        "drifted": drifted,
        "share": share,
        "threshold_share": drift_share,
        "dataset_drift": bool(results) and share >= drift_share,
    }
    issues = sorted(
        name
        for name, entry in quality.items()
        if entry["status"] not in ("ok", "untested") or entry.get("unparseable")
    )
    return drift, {"columns": quality, "issues": issues, "unexpected_columns": list(unexpected)}


def _test(
    feature: str,
    summary: ColumnSummary,
    reference: Reference,
    setting: FeatureSettings,
    p_value: float,
) -> dict[str, Any] | None:
    window = summary.window
    if window is None or window.size == 0:
        return None
    name = setting.test or default_test(window.kind, window.size)
    test = get_drift_test(name)
    if window.kind not in test.kinds:
        raise DriftTestError(
            f"Drift test {name!r} does not apply to the {window.kind} feature {feature!r}.",
            hint=f"Pick a test for {window.kind} features in monitoring.features.{feature}.",
            feature=feature,
            test=name,
        )
    threshold = setting.threshold
    if threshold is None and test.statistic == "p_value":
        threshold = p_value
    result = test.run(feature, reference, window, threshold=threshold).to_dict()
    result["kind"] = window.kind
    result["overlay"] = _overlay(reference, window)
    return result


def _overlay(reference: Reference, window: Any) -> dict[str, Any]:
    """Reference and window shares over the same bins or categories, for plots."""
    if isinstance(reference, NumericReference):
        ref, win = numeric_bins(reference, window)
        return {
            "edges": [float(e) for e in reference.edges],
            "reference": [float(v) for v in ref],
            "window": [float(v) for v in win],
        }
    assert isinstance(reference, CategoricalReference)
    categories, ref_counts, win_counts = category_table(reference, window)
    return {
        "categories": [str(c) for c in categories],
        "reference": [float(v) for v in ref_counts / max(ref_counts.sum(), 1.0)],
        "window": [float(v) for v in win_counts / max(win_counts.sum(), 1.0)],
    }
