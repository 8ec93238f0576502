"""The monitoring job: read a window of an environment's traffic, assess, store, alert.

:func:`monitor_run` resolves which model version an environment serves (the deployment's
champion, or the live variant with the largest weight; ``model=`` for an environment
without a deployment record), rebuilds the reference from the profile of that version's
training dataset (its lineage), reads the window from the prediction log, assesses it
(:func:`assess_window`), stores the report with lineage to the deployment revision and
model version, writes Markdown and HTML files, and opens or closes alert incidents.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core import utcnow, validate_name
from conveyor.monitoring._assess import INPUT_PREFIX, assess_window
from conveyor.monitoring._errors import MonitoringError
from conveyor.monitoring._records import (
    first_report_of,
    latest_report_in,
    report_history,
    save_report,
    update_incident,
)
from conveyor.monitoring._render import write_report_files
from conveyor.monitoring._report import MonitoringReport
from conveyor.monitoring._window import WindowSpec, parse_window

if TYPE_CHECKING:
    from conveyor.notify import BaseNotifier
    from conveyor.registry import ModelVersion
    from conveyor.workspace import Workspace

REPORTS_DIR = Path(".conveyor") / "reports" / "monitoring"
ALERT_KINDS = ("drift", "degraded")


def monitor_run(
    ws: Workspace,
    env: str,
    *,
    window: str | int | timedelta | WindowSpec | None = None,
    model: str | None = None,
    notifier: BaseNotifier | None = None,
    now: Callable[[], datetime] = utcnow,
    tolerance: float = 0.02,
    write_files: bool = True,
) -> MonitoringReport:
    """Compute, store and announce a monitoring report for ``env``.

    Args:
        ws: The workspace.
        env: The deployment environment.
        window: ``"1h"``, ``"1d"``, ``"30m"``, N rows (default ``monitoring.window``).
        model: ``NAME@REF`` to monitor when the environment has no deployment record.
        notifier: Where alerts go (default ``ws.notifier()``: the configured webhooks,
            else the ``conveyor.notify`` log).
        now: The clock (the window ends at ``now()``).
        tolerance: How far the live metric may fall below the registered one before the
            verdict is ``degraded``.
        write_files: Write ``report-<id>.md`` and ``.html`` under
            ``.conveyor/reports/monitoring/<env>/``.

    Returns:
        The stored report.

    Raises:
        MonitoringError: no model to monitor, or its training data has no profile.
        InvalidWindowError: the window does not parse.

    Example:
        >>> report = monitor_run(ws, "production", window="1h")  # doctest: +SKIP
        >>> report.verdict  # doctest: +SKIP
        'ok'
    """
    validate_name(env, kind="environment name")
    config = ws.settings.config.monitoring
    spec = parse_window(window if window is not None else config.window)
    version, revision = _target(ws, env, model)
    profile, datasets = _reference_profile(ws, version)
    end = now()
    configured = set(ws.settings.config.predictions.pii.columns)
    flagged = set(_signature_pii(version)) - configured
    private = sorted(configured | flagged)
    metric = config.metric or default_metric(version)
    config = config.model_copy(update={"metric": metric})
    baseline = first_report_of(ws, env, version.name, version.version)
    prediction_reference = None if baseline is None else baseline.drift.get("prediction", {})
    registered_key, registered = registered_metric(
        version.metrics, metric, step=ws.settings.config.evaluation.metrics_step
    )
    assess: dict[str, Any] = {
        "config": config,
        "reference_metric": registered,
        "tolerance": tolerance,
        "prediction_reference": (prediction_reference or {}).get("profile"),
        "missing_reference": None if registered is not None else _missing(version, metric),
    }
    if config.executor != "local" and spec.duration is not None:
        profile, features = _without_personal_profile(
            profile, _signature_features(version), private
        )
        body, bounds = _assess_by_partitions(
            ws,
            env,
            version,
            span=(end - spec.duration, end),
            explicit=model is not None,
            profile=profile,
            features=features,
            private=private,
            assess=assess,
        )
    else:
        log = _read_window(ws, env, version, spec, end, explicit=model is not None)
        log, profile, features = _without_personal_data(
            log, profile, _signature_features(version), private
        )
        body = assess_window(log, profile, features=features, **assess)
        times = log["at"] if len(log) else None
        bounds = (
            (None, None)
            if times is None
            else (times.min().to_pydatetime(), times.max().to_pydatetime())
        )
    if private:
        body["drift"]["not_tested"] = {
            name: f"personal data ({'signature' if name in flagged else 'predictions.pii'})"
            for name in private
        }
        body["message"] += (
            f" Not drift-tested (personal data, hashed or dropped in the log): "
            f"{', '.join(private)}."
        )
    reference = {
        "datasets": datasets,
        "metric": metric,
        "registered_metric": registered,
        "registered_metric_key": registered_key,
        "window": str(spec),
        "prediction_baseline_report": None if baseline is None else baseline.id,
    }
    report = save_report(
        ws,
        ws.artifacts,
        ws.actor,
        environment=env,
        model=version.name,
        version=version.version,
        revision=revision,
        window=bounds,
        body=body,
        reference=reference,
    )
    files: dict[str, str] = {}
    if write_files:
        history = report_history(ws, env, limit=50)
        files = write_report_files(report, history, ws.root / REPORTS_DIR)
    sent = _alert(ws, report, ws.notifier() if notifier is None else notifier)
    return replace(report, files=files, alerts=tuple(sent))


def latest_report(ws: Workspace, env: str | None = None) -> MonitoringReport | None:
    """The newest stored report of ``env`` (or of any environment), for ``/metrics`` gauges."""
    return latest_report_in(ws, env)


def _alert(ws: Workspace, report: MonitoringReport, notifier: BaseNotifier) -> list[dict[str, Any]]:
    if report.verdict == "insufficient":
        return []  # nothing is known: open incidents stay open, none is opened
    sent: list[dict[str, Any]] = []

    def announce(event: str, payload: dict[str, Any]) -> None:
        sent.append({"event": event, **payload})
        notifier.send(event, payload)

    active = {
        "drift": bool(report.drift.get("dataset_drift")),
        "degraded": report.verdict == "degraded",
    }
    for kind in ALERT_KINDS:
        details = {
            "environment": report.environment,
            "model": report.ref,
            "report": report.id,
            "verdict": report.verdict,
            "message": report.message,
            "drifted": report.drift.get("drifted", []),
            "metric": report.performance.get("metric"),
            "value": report.performance.get("value"),
        }
        update_incident(
            ws,
            ws.actor,
            incident_key=f"{report.environment}:{report.model}:{kind}",
            kind=kind,
            active=active[kind],
            details=details,
            announce=announce,
        )
    return sent


def _target(ws: Workspace, env: str, model: str | None) -> tuple[ModelVersion, int | None]:
    if model is not None:
        return ws.models.get(model), None
    deployment = ws.deployments.current(env)
    if deployment is None or not deployment.live:
        raise MonitoringError(
            f"Environment {env!r} has no deployment to monitor.",
            hint=f"Deploy a model with `conveyor deploy NAME@REF --env {env}`, or pass "
            "--model NAME@REF to monitor a model served without a deployment.",
            environment=env,
        )
    variant = deployment.by_role("champion") or max(deployment.live, key=lambda v: v.weight)
    return ws.models.get(f"{variant.model}@{variant.version}"), deployment.revision


def _reference_profile(ws: Workspace, version: ModelVersion) -> tuple[dict[str, Any], list[str]]:
    datasets = (version.lineage or {}).get("datasets") or []
    for entry in datasets:
        ref = f"{entry['name']}@{entry['version']}"
        profile = ws.datasets.get(ref).profile
        if profile:
            return _with_feature_columns(ws, version, profile, [ref])
    raise MonitoringError(
        f"Model {version.ref} has no profiled training dataset to compare traffic with.",
        hint="Register the model from a run that used a dataset added with `conveyor data "
        "add` (its lineage records the dataset version, whose profile is the reference).",
        model=version.ref,
    )


def _with_feature_columns(
    ws: Workspace, version: ModelVersion, profile: dict[str, Any], refs: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """Add the reference columns of features a model was trained with from a feature store.

    The entity frame's dataset does not hold them; the step that built the training set
    kept their profile (``features-profile.json`` on its run, recorded in the version's
    ``features`` lineage as ``profile_run``): the values the model learned from.
    """
    import json

    from conveyor.features import PROFILE_ARTIFACT

    used = (version.lineage or {}).get("features") or {}
    run_id = used.get("profile_run")
    if not isinstance(run_id, str):
        return profile, refs
    found = next((a for a in ws.runs.artifacts(run_id) if a["name"] == PROFILE_ARTIFACT), None)
    if found is None:
        return profile, refs
    columns = dict(profile.get("columns") or {})
    kept = json.loads(ws.artifacts.get_bytes(found["hash"]))
    for name, column in (kept.get("columns") or {}).items():
        columns.setdefault(name, column)
    return {**profile, "columns": columns}, refs


def _read_window(
    ws: Workspace,
    env: str,
    version: ModelVersion,
    spec: WindowSpec,
    end: datetime,
    *,
    explicit: bool,
) -> Any:
    since = None if spec.duration is None else end - spec.duration
    query: dict[str, Any] = {"model": version.name, "version": version.version}
    scoped = {**query, "environment": env}
    # A model monitored by name may be served without a deployment (no environment tag).
    if explicit and ws.predictions.count(**scoped, since=since, until=end) == 0:
        scoped = query
    return ws.predictions.read(**scoped, since=since, until=end, last_rows=spec.rows)


def _assess_by_partitions(
    ws: Workspace,
    env: str,
    version: ModelVersion,
    *,
    span: tuple[datetime, datetime],
    explicit: bool,
    profile: dict[str, Any],
    features: list[str] | None,
    private: list[str],
    assess: dict[str, Any],
) -> tuple[dict[str, Any], tuple[datetime | None, datetime | None]]:
    """Assess a duration window partition by partition (``monitoring.executor``)."""
    from conveyor.monitoring._scaled import assess_partitioned, plan_window
    from conveyor.monitoring._summarise import summarise_window
    from conveyor.predictions._window import Window

    since, end = span
    query: dict[str, Any] = {"model": version.name, "version": version.version}
    scoped = {**query, "environment": env}
    if explicit and ws.predictions.count(**scoped, since=since, until=end) == 0:
        scoped = query
    window = Window(**scoped, since=since, until=end)
    records = ws.predictions.records
    batches = [(batch.content_hash, window.contains(batch)) for batch in window.batches(records)]
    config = assess["config"]
    part = summarise_window(
        ws.predictions.artifacts.get_bytes,
        batches,
        window,
        plan_window(profile, features, assess["prediction_reference"]),
        _window_labels(records, since),
        executor=config.executor,
        workers=config.workers,
    )
    part.other_inputs = [name for name in part.other_inputs if name not in private]
    body = assess_partitioned(part, profile, features=features, **assess)
    return body, (part.first_at, part.last_at)


def _window_labels(records: Any, since: datetime) -> Any:
    """The window's labels in one query where the records can list them by time (a label
    is set after its prediction), else a lookup by each partition's request ids."""
    from conveyor.monitoring._summarise import RecordLabels

    by_time = getattr(records, "labels_since", None)
    if by_time is None:
        return RecordLabels(records)
    return {rid: found.label for rid, found in by_time(since).items()}


def _without_personal_profile(
    profile: dict[str, Any], features: list[str] | None, private: list[str]
) -> tuple[dict[str, Any], list[str] | None]:
    """:func:`_without_personal_data` for the reference and the features alone."""
    if not private:
        return profile, features
    columns = {k: v for k, v in (profile.get("columns") or {}).items() if k not in private}
    kept = None if features is None else [f for f in features if f not in private]
    return {**profile, "columns": columns}, kept


def _without_personal_data(
    log: Any, profile: dict[str, Any], features: list[str] | None, private: list[str]
) -> tuple[Any, dict[str, Any], list[str] | None]:
    """Leave personal-data columns (``predictions.pii`` and those the signature flags) out
    of the window, the reference and the features.

    They are hashed or missing in the log, so comparing them with the training data would
    only report noise, and their values must not reach reports.
    """
    if not private:
        return log, profile, features
    log = log.drop(columns=[INPUT_PREFIX + name for name in private], errors="ignore")
    columns = {k: v for k, v in (profile.get("columns") or {}).items() if k not in private}
    kept = None if features is None else [f for f in features if f not in private]
    return log, {**profile, "columns": columns}, kept


def _signature_pii(version: ModelVersion) -> list[str]:
    """Input columns the version's signature flags as personal data (``"pii": true``)."""
    inputs = (version.signature or {}).get("inputs") or []
    return [
        str(column["name"])
        for column in inputs
        if isinstance(column, dict) and column.get("pii") is True
    ]


def _signature_features(version: ModelVersion) -> list[str] | None:
    inputs = (version.signature or {}).get("inputs") or []
    names = [str(column["name"]) for column in inputs if isinstance(column, dict)]
    return names or None


def registered_metric(
    metrics: Mapping[str, Any], metric: str, *, step: str | None = None
) -> tuple[str | None, float | None]:
    """The model version's own value of ``metric``: ``(key it was found under, value)``.

    Looked up, in order, as ``metric``; ``test_``, ``val_`` or ``eval_`` + ``metric``;
    ``<step>.<metric>`` for the configured evaluation step (``evaluation.metrics_step``);
    a step-qualified key ``<any step>.<metric>`` (how a pipeline run names a key several
    steps logged) when exactly one exists; and for ``error_rate``, one minus the accuracy
    found the same way. ``(None, None)`` when none is recorded.

    Example:
        >>> registered_metric({"train.accuracy": 0.99, "evaluate.accuracy": 0.8},
        ...                   "accuracy", step="evaluate")
        ('evaluate.accuracy', 0.8)
    """
    keys = [metric, f"test_{metric}", f"val_{metric}", f"eval_{metric}"]
    if step:
        keys.append(f"{step}.{metric}")
    for key in keys:
        value = _number(metrics.get(key))
        if value is not None:
            return key, value
    qualified = [k for k in metrics if k.endswith(f".{metric}") and _number(metrics[k]) is not None]
    if len(qualified) == 1:
        return qualified[0], _number(metrics[qualified[0]])
    if metric == "error_rate":
        found, accuracy = registered_metric(metrics, "accuracy", step=step)
        if accuracy is not None:
            return f"1 - {found}", 1.0 - accuracy
    return None, None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _missing(version: ModelVersion, metric: str) -> str:
    recorded = ", ".join(sorted(version.metrics)) or "none"
    qualified = [k for k in version.metrics if k.endswith(f".{metric}")]
    if qualified:
        return (
            f"{version.ref} records {metric} from several steps ({', '.join(sorted(qualified))})"
            "; set evaluation.metrics_step to the step whose value is the model's own"
        )
    return (
        f"{version.ref} records no {metric} (recorded: {recorded}); register the "
        f"version with metrics={{'{metric}': ...}} or set monitoring.metric to a recorded one"
    )


#: Signature output types whose predictions are numbers to be scored by their error.
_NUMERIC_OUTPUTS = frozenset({"double", "float"})


def default_metric(version: ModelVersion) -> str:
    """The labelled-performance metric when ``monitoring.metric`` is not set.

    Classes (string, integer or boolean predictions) are scored by accuracy; numbers
    (a ``double``/``float`` prediction) by their error: ``rmse``, or ``mae`` when the version
    recorded ``mae`` and not ``rmse``, so ``degraded`` compares with the version's own value.
    """
    outputs = (version.signature or {}).get("outputs") or []
    kinds = {str(o.get("type")) for o in outputs if isinstance(o, dict)}
    if not kinds or not kinds <= _NUMERIC_OUTPUTS:
        return "accuracy"
    names = {key.rsplit(".", 1)[-1] for key in version.metrics}
    return "mae" if "mae" in names and "rmse" not in names else "rmse"
