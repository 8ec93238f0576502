"""Prometheus metrics of one server, on a registry of its own (no global state).

Per-request updates are kept cheap: label children are bound once per
``(model, version, variant, revision, route, status)`` and cached in a dict, so a request
costs a dict lookup and two increments. The prediction logger's figures, the served
deployment and the latest monitoring report are read only at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 10_000)


class ServerMetrics:
    """The server's counters and histograms.

    Args:
        logger_stats: Returns the prediction logger's ``stats()`` (``None``: no logger).
    """

    def __init__(self, logger_stats: Callable[[], Any] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("model", "version", "variant", "revision", "route", "status")
        self._requests = Counter(
            "conveyor_requests",
            "Requests answered, by model, version, deployment variant and revision, route and "
            "HTTP status.",
            labels,
            registry=self.registry,
        )
        self._duration = Histogram(
            "conveyor_request_duration_seconds",
            "Time from request to response, in seconds.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._batch = Histogram(
            "conveyor_batch_size",
            "Rows per model call (micro-batches count as one call).",
            ("model", "version", "variant"),
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self._shadow = Counter(
            "conveyor_shadow_requests",
            "Request copies sent to a shadow variant, by outcome (ok, error, timeout, dropped).",
            ("model", "version", "revision", "outcome"),
            registry=self.registry,
        )
        self._load_failures = Counter(
            "conveyor_model_load_failures",
            "Model versions a deployment asked for that failed to load (the served ones "
            "kept serving).",
            ("environment", "model", "version"),
            registry=self.registry,
        )
        self._lookup_seconds = Histogram(
            "conveyor_feature_lookup_seconds",
            "Time to look up one request's features in the online store, in seconds (models "
            "served with a feature service).",
            ("model", "version"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._lookup_errors = Counter(
            "conveyor_feature_lookup_errors",
            "Feature lookups that failed, by reason (unavailable: the online store could not "
            "be reached; missing_entity; invalid_key; failed).",
            ("model", "version", "reason"),
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, str, str, str, int], tuple[Any, Any]] = {}
        self._batch_children: dict[tuple[str, str, str], Any] = {}
        if logger_stats is not None:
            self.registry.register(_LoggerCollector(logger_stats))

    def request(  # noqa: PLR0917 - called on every request; keywords would cost time
        self,
        model: str,
        version: str,
        variant: str,
        revision: str,
        route: str,
        status: int,
        seconds: float,
    ) -> None:
        """Count one answered request and observe its duration."""
        key = (model, version, variant, revision, route, status)
        pair = self._children.get(key)
        if pair is None:
            values = (model, version, variant, revision, route, str(status))
            pair = (self._requests.labels(*values), self._duration.labels(*values))
            self._children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def batch(self, model: str, version: str, variant: str, rows: int) -> None:
        """Observe the number of rows in one model call."""
        key = (model, version, variant)
        child = self._batch_children.get(key)
        if child is None:
            child = self._batch_children[key] = self._batch.labels(*key)
        child.observe(rows)

    def shadow(self, model: str, version: str, revision: str, outcome: str) -> None:
        """Count one request copy sent to a shadow variant."""
        self._shadow.labels(model, version, revision, outcome).inc()

    def feature_lookup(self, model: str, version: str, seconds: float, reason: str | None) -> None:
        """Observe one feature lookup; ``reason`` names why it failed (``None``: it did not)."""
        self._lookup_seconds.labels(model, version).observe(seconds)
        if reason is not None:
            self._lookup_errors.labels(model, version, reason).inc()

    def load_failure(self, environment: str, model: str, version: str) -> None:
        """Count one model version that failed to load."""
        self._load_failures.labels(environment, model, version).inc()

    def add_collector(self, collector: Collector) -> None:
        """Read more figures at scrape time (the served deployment, monitoring gauges)."""
        self.registry.register(collector)


def _stat(stats: Any, *names: str) -> float:
    for name in names:
        value = stats.get(name) if isinstance(stats, dict) else getattr(stats, name, None)
        if value is not None:
            return float(value)
    return 0.0


class _LoggerCollector(Collector):
    """Reads the prediction logger's figures at scrape time."""

    def __init__(self, stats: Callable[[], Any]) -> None:
        self._stats = stats

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        yield GaugeMetricFamily(
            "conveyor_prediction_log_queue_depth",
            "Predictions waiting to be written to the prediction log.",
            value=_stat(stats, "queue_depth", "depth"),
        )
        yield GaugeMetricFamily(
            "conveyor_prediction_log_lag_seconds",
            "Age of the oldest prediction not yet written, in seconds.",
            value=_stat(stats, "lag_seconds", "lag_s", "lag"),
        )
        yield CounterMetricFamily(
            "conveyor_prediction_log_written",
            "Predictions written to the prediction log.",
            value=_stat(stats, "written"),
        )
        yield CounterMetricFamily(
            "conveyor_prediction_log_spilled",
            "Predictions spilled to local disk because the queue was full.",
            value=_stat(stats, "spilled"),
        )
        yield CounterMetricFamily(
            "conveyor_prediction_log_dropped",
            "Predictions that could not be written anywhere.",
            value=_stat(stats, "failed", "dropped"),
        )
        yield CounterMetricFamily(
            "conveyor_prediction_log_quarantined",
            "Predictions (or spill lines) the log refused, moved to the spill quarantine.",
            value=_stat(stats, "quarantined"),
        )
