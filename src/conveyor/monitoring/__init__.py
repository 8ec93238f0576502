"""Monitoring: drift, data quality and delayed-label performance of live traffic, with alerts.

This package compares windows of the prediction log with the reference profile of the
deployed model's training data, computed from stored sketches and one pass over the window:
per-feature drift tests chosen by type and sample size behind the :class:`DriftTest`
extension point (entry points ``conveyor.drift_tests``), a dataset verdict (share of
drifted features), prediction drift, data quality (missingness, out-of-range values, unseen
categories), performance on the labelled part with confidence intervals and label counts,
and concept-drift detectors (ADWIN, Page-Hinkley) over the error stream.
:func:`monitor_run` stores each report with lineage to the deployment revision and model
version, writes Markdown and HTML files, and alerts at most once per incident.
"""

from __future__ import annotations

import operator
import warnings
from typing import TYPE_CHECKING

import conveyor.notify as _notify
from conveyor.monitoring._assess import VERDICTS, assess_performance, assess_window
from conveyor.monitoring._base import DriftTest, FeatureDrift, FeatureWindow, Kind, Statistic
from conveyor.monitoring._builtins import (
    ChiSquareTest,
    JensenShannonTest,
    KolmogorovSmirnovTest,
    PopulationStabilityTest,
    WassersteinTest,
)
from conveyor.monitoring._concept import DETECTORS, detect_changes
from conveyor.monitoring._drift import FeatureSettings, assess_drift, parse_feature_settings
from conveyor.monitoring._errors import DriftTestError, InvalidWindowError, MonitoringError
from conveyor.monitoring._performance import METRICS, metric_with_ci, wilson_interval
from conveyor.monitoring._plugins import (
    ENTRY_POINT_GROUP,
    SMALL_SAMPLE,
    available_drift_tests,
    default_test,
    get_drift_test,
    register_drift_test,
    unregister_drift_test,
)
from conveyor.monitoring._records import open_alerts, report_history
from conveyor.monitoring._records_base import BaseMonitoringRecords
from conveyor.monitoring._reference import (
    CategoricalReference,
    NumericReference,
    Reference,
    reference_from_profile,
)
from conveyor.monitoring._report import (
    Alert,
    FeatureDriftSummary,
    MonitoringReport,
    PerformanceSummary,
    ReportSummary,
)
from conveyor.monitoring._run import default_metric, latest_report, monitor_run
from conveyor.monitoring._sql import SqlMonitoringRecords
from conveyor.monitoring._window import WindowSpec, parse_window

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "Alert",
    "BaseMonitoringRecords",
    "CategoricalReference",
    "ChiSquareTest",
    "DETECTORS",
    "DriftTest",
    "DriftTestError",
    "ENTRY_POINT_GROUP",
    "FeatureDrift",
    "FeatureDriftSummary",
    "FeatureSettings",
    "FeatureWindow",
    "InvalidWindowError",
    "JensenShannonTest",
    "Kind",
    "KolmogorovSmirnovTest",
    "METRICS",
    "MonitoringError",
    "MonitoringReport",
    "NumericReference",
    "PerformanceSummary",
    "PopulationStabilityTest",
    "Reference",
    "ReportSummary",
    "SMALL_SAMPLE",
    "SqlMonitoringRecords",
    "Statistic",
    "VERDICTS",
    "WassersteinTest",
    "WindowSpec",
    "assess_drift",
    "assess_performance",
    "assess_window",
    "available_drift_tests",
    "default_metric",
    "default_test",
    "detect_changes",
    "get_drift_test",
    "latest_report",
    "metric_with_ci",
    "monitor_run",
    "open_alerts",
    "parse_feature_settings",
    "parse_window",
    "reference_from_profile",
    "register_drift_test",
    "report_history",
    "unregister_drift_test",
    "wilson_interval",
]


#: Names of the former alert-sink interface, importable (with a warning) for one release.
_DEPRECATED: dict[str, tuple[Any, str]] = {
    "AlertSink": (_notify.BaseNotifier, "conveyor.notify.BaseNotifier"),
    "LogSink": (_notify.LogNotifier, "conveyor.notify.LogNotifier"),
    "default_notifier": (operator.methodcaller("notifier"), "Workspace.notifier()"),
}


def __getattr__(name: str) -> Any:
    if name not in _DEPRECATED:
        raise AttributeError(f"module 'conveyor.monitoring' has no attribute {name!r}")
    value, replacement = _DEPRECATED[name]
    warnings.warn(
        f"conveyor.monitoring.{name} is deprecated; use {replacement} instead.",
        DeprecationWarning,
        stacklevel=2,
    )
    return value
