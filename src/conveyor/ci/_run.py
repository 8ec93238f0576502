"""``run_ci``: train the candidate, check it against the champion, decide, and report.

The CI entry point does what a reviewer would otherwise do by hand: restore the pinned
data, run the configured training pipeline, register what it trained as a candidate,
run every configured gate plus the integration checks against the current champion,
record the decision, and write the reports a CI system shows (Markdown for the pull
request comment, JUnit XML for the test tab, JSON, and a self-contained HTML page).
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from conveyor.checks import (
    CheckContext,
    CheckResult,
    CheckSpec,
    GateDecision,
    SuiteResult,
    evaluate_gates,
    get_check,
    run_checks,
    write_reports,
)
from conveyor.checks.data import infer_schema, latest_schema
from conveyor.ci._facts import INTEGRATION_CHECKS
from conveyor.ci._plan import CIPlan
from conveyor.ci._preflight import (
    check_columns,
    no_champion_reason,
    pinned_columns,
    require_champion,
)
from conveyor.ci._restore import restore_data
from conveyor.core import ProgressEvent, ProgressHook
from conveyor.errors import ConfigError, InvalidNameError
from conveyor.features import SERVICE_TAG
from conveyor.pipelines import evaluation_metrics, features_used, load_pipeline
from conveyor.registry import AliasNotFoundError, ModelNotFoundError

if TYPE_CHECKING:
    from conveyor.pipelines import EvaluationMetrics
    from conveyor.registry import ModelVersion
    from conveyor.workspace import Workspace

#: Exit codes of ``conveyor ci`` (3 is taken by "verification failed").
EXIT_PROMOTE = 0
EXIT_ERROR = 1
EXIT_REJECT = 4
EXIT_HOLD = 5
EXIT_CODES = {"PROMOTE": EXIT_PROMOTE, "REJECT": EXIT_REJECT, "HOLD": EXIT_HOLD}


@dataclass(frozen=True)
class CIResult:
    """What ``conveyor ci`` did.

    Attributes:
        decision: The recorded gate decision (PROMOTE, HOLD or REJECT with reasons).
        suite: Every check result.
        reports: Report format (``markdown``, ``junit``, ``json``, ``html``) -> file.
        run_id: The training pipeline run.
        model_version: The registered candidate.
        exit_code: 0 PROMOTE, 4 REJECT, 5 HOLD.
        warnings: What the decision should be read with, loudly: e.g. that there was no
            champion, so only absolute checks counted, and why.
    """

    decision: GateDecision
    suite: SuiteResult
    reports: dict[str, Path]
    run_id: str
    model_version: ModelVersion
    exit_code: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Trained:
    """The train phase's result: the run, its model, the holdout and the recorded metrics."""

    run: Any
    model: Any
    holdout: pd.DataFrame
    metrics: EvaluationMetrics


def run_ci(
    workspace: Workspace,
    *,
    report_dir: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    integration: bool = True,
    idempotency_key: str | None = None,
    progress: ProgressHook | None = None,
) -> CIResult:
    """Train, register, check and gate a candidate; write every report.

    The phases, each a function of its own: restore the pinned data, train, register,
    check (data gates on every dataset version read, model gates against the champion),
    gate (decide and record), report.

    Args:
        workspace: The project.
        report_dir: Folder for the reports (created if missing).
        params: Pipeline parameters over ``pipelines.params`` of the configuration.
        integration: Also run the integration checks not listed in ``gates:``
            (``pipeline_sample``, ``signature_serving``, ``serving_roundtrip``).
        progress: Told each phase (``kind="phase"``: restore, train, register, check,
            report) as it starts and ends, and each pipeline step, as they happen.
        idempotency_key: Passed to the registration, so that a retried job (same key)
            gates the candidate its first attempt registered instead of a new version.

    Returns:
        The decision, the results, the report files and the exit code to use.

    Raises:
        ConfigError: ``pipelines.training`` or ``evaluation`` is missing; a column it
            names (target, sensitive, slices, irrelevant) is not in the pinned data or the
            holdout; ``evaluation.metrics_step`` is not a step; there is no champion and
            ``evaluation.require_champion`` is set; or the run's outputs are not what
            ``evaluation`` says.
        LockFileError: Pinned data cannot be restored.
        PipelineFailedError: The training pipeline failed.

    Example:
        >>> result = run_ci(ws, report_dir="reports")  # doctest: +SKIP
        >>> result.decision.decision, result.exit_code
        ('PROMOTE', 0)
    """
    ws = workspace
    plan = CIPlan.from_config(ws.settings.config)
    phase = _Phases(progress)
    phase("restore data")
    pins = _restore(ws, plan)
    phase("train")
    trained = _train(ws, plan, {**plan.params, **dict(params or {})}, pins, progress)
    phase("register")
    version = _register(ws, plan, trained, idempotency_key)
    champion = champion_of(ws, plan.model, version.version)
    warnings = () if champion is not None else (no_champion_reason(ws, plan.model),)
    phase("check")
    specs = _specs(plan, integration)
    suite = _check(ws, plan, trained, version=version, champion=champion, specs=specs)
    decision, version = _gate(
        ws, suite, specs, version=version, champion=champion, warnings=warnings
    )
    phase("report")
    reports = write_reports(
        suite, decision, Path(report_dir), profiles=_profiles(ws, trained.run.datasets)
    )
    phase(None)
    return CIResult(
        decision=decision,
        suite=suite,
        reports=reports,
        run_id=trained.run.run_id,
        model_version=version,
        exit_code=EXIT_CODES.get(decision.decision, EXIT_ERROR),
        warnings=warnings,
    )


def _restore(ws: Workspace, plan: CIPlan) -> dict[str, int]:
    """Restore the pinned data; refuse configuration mistakes before any training."""
    pins = restore_data(ws)
    columns = pinned_columns(ws, pins)
    check_columns(plan.evaluation, columns, "the pinned data", typos_only=True)
    require_champion(ws, plan.model, champion_of(ws, plan.model, 0))
    return pins


def _train(
    ws: Workspace,
    plan: CIPlan,
    params: Mapping[str, Any],
    pins: Mapping[str, int],
    progress: ProgressHook | None,
) -> _Trained:
    """Run the training pipeline; pick out the model, the holdout and the metrics."""
    pipeline = load_pipeline(plan.pipeline, ws.root)
    run = pipeline.run(ws, params=dict(params), dataset_pins=dict(pins), progress=progress)
    model = run.output(plan.model_step)
    holdout = _holdout(run, plan.holdout_step, plan.holdout_output)
    columns = {"the holdout": [str(c) for c in holdout.columns]}
    check_columns(plan.evaluation, columns, "the holdout")
    metrics = evaluation_metrics(ws, run.run_id, step=plan.metrics_step)
    return _Trained(run=run, model=model, holdout=holdout, metrics=metrics)


def _register(
    ws: Workspace, plan: CIPlan, trained: _Trained, idempotency_key: str | None
) -> ModelVersion:
    """Register the candidate with its input example, lineage and evaluation record."""
    features = trained.holdout.drop(columns=[plan.target])
    tags: dict[str, Any] = {"candidate": "true"}
    lineage: dict[str, Any] | None = None
    used = features_used(ws, trained.run.run_id)
    if used is not None:
        # Trained on a feature service: served with it (entity keys in, features looked up).
        lineage = {"features": used}
        if used.get("service"):
            tags[SERVICE_TAG] = used["service"]
    return ws.models.register(
        plan.model,
        trained.model,
        input_example=features.head(5),
        run=trained.run.run_id,
        tags=tags,
        lineage=lineage,
        metrics=trained.metrics.metrics,
        evaluation={**trained.metrics.record(), "holdout_rows": len(trained.holdout)},
        idempotency_key=idempotency_key,
    )


def _specs(plan: CIPlan, integration: bool) -> list[CheckSpec]:
    """The configured gates, plus the integration checks they do not already list."""
    specs = list(plan.gates)
    if integration:
        configured = {spec.check for spec in specs}
        specs += [CheckSpec(name) for name in INTEGRATION_CHECKS if name not in configured]
    return specs


def _check(
    ws: Workspace,
    plan: CIPlan,
    trained: _Trained,
    *,
    version: ModelVersion,
    champion: str | None,
    specs: list[CheckSpec],
) -> SuiteResult:
    """Data gates on every dataset version the run read; model gates against the champion."""
    data_specs = [s for s in specs if get_check(s.check).subject_kind == "dataset"]
    model_specs = [s for s in specs if s not in data_specs]
    suite_id = uuid.uuid4().hex
    data_results: list[CheckResult] = []
    for name, number in sorted(trained.run.datasets.items()):
        ref = f"{name}@{number}"
        data_results += _check_dataset(ws, ref, data_specs, plan.target, suite_id)
    evaluation = plan.evaluation
    with CheckContext(
        ws,
        run_id=trained.run.run_id,
        candidate=version.ref,
        candidate_object=trained.model,
        champion=champion,
        holdout=trained.holdout,
        target=plan.target,
        positive_label=evaluation.positive_label,
        sensitive=evaluation.sensitive,
        slices=evaluation.slices,
        irrelevant=evaluation.irrelevant,
    ) as ctx:
        model_suite = run_checks(ctx, model_specs, suite_id=suite_id)
    return dataclasses.replace(model_suite, results=(*data_results, *model_suite.results))


def _gate(
    ws: Workspace,
    suite: SuiteResult,
    specs: list[CheckSpec],
    *,
    version: ModelVersion,
    champion: str | None,
    warnings: tuple[str, ...],
) -> tuple[GateDecision, ModelVersion]:
    """Decide (the integration checks gate like the declared gates) and record it.

    ``warnings`` (why there is no champion) are added to the decision's reasons.
    """
    decision = evaluate_gates(suite, specs, has_champion=champion is not None, workspace=ws)
    if warnings:
        decision = dataclasses.replace(decision, reasons=(*decision.reasons, *warnings))
    version = ws.models.record_decision(
        version.ref,
        verdict=decision.decision,
        reasons=decision.reasons,
        champion=decision.champion_ref,
        details={"checks": check_summary(suite)},
        metrics=holdout_metrics(suite),
    )
    return decision, version


def holdout_metrics(suite: SuiteResult) -> dict[str, float]:
    """Metrics the gates computed on the holdout (``min_metric``), by name.

    A pipeline that logs no metrics still gets them on its version this way, so the card
    and monitoring's ``degraded`` verdict have a reference value.
    """
    out: dict[str, float] = {}
    for result in suite.results:
        details = result.details or {}
        source = str(details.get("source", ""))
        value = result.value
        if (
            result.name == "min_metric"
            and result.status in ("passed", "failed")
            and source.startswith("holdout")
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            out.setdefault(str(details.get("metric")), float(value))
    return out


def check_summary(suite: SuiteResult) -> dict[str, str]:
    """Each check's status, with the explanation when it did not pass (for the card)."""
    return {
        r.name: r.status if r.status == "passed" else f"{r.status}: {r.explanation}"[:300]
        for r in suite.results
    }


def _check_dataset(
    ws: Workspace, ref: str, specs: list[CheckSpec], target: str, suite_id: str
) -> tuple[CheckResult, ...]:
    """Run the data gates on one dataset version the training run read."""
    if not specs:
        return ()
    version = ws.datasets.get(ref)
    if version.kind != "table":
        return ()
    if any(s.check == "schema" for s in specs) and latest_schema(ws, version.name) is None:
        # The first CI run makes the pinned version the baseline later versions must match.
        infer_schema(ws, ref)
    columns = (version.profile or {}).get("columns", {})
    with CheckContext(ws, dataset=ref, target=target if target in columns else None) as ctx:
        return run_checks(ctx, specs, suite_id=suite_id).results


def _profiles(ws: Workspace, datasets: Mapping[str, int]) -> dict[str, Any] | None:
    """The current and previous profile of the first dataset read, for the HTML plots."""
    for name, number in sorted(datasets.items()):
        current = ws.datasets.get(f"{name}@{number}")
        if current.kind != "table" or not current.profile:
            continue
        profiles: dict[str, Any] = {"current": current.profile}
        if number > 1:
            profiles["reference"] = ws.datasets.get(f"{name}@{number - 1}").profile or {}
        return profiles
    return None


def output_index(steps: Mapping[str, Any], step: str, index: int) -> int | None:
    """``index``, or ``None`` for index 0 of a step with a single (unnumbered) output."""
    result = steps.get(step)
    names = {o.name for o in getattr(result, "outputs", ())}
    return None if index == 0 and "output" in names and "output_0" not in names else index


def champion_of(ws: Workspace, name: str, candidate: int) -> str | None:
    """``name@N`` of the champion a candidate is judged against (``None``: there is none).

    The champion is the version of ``name`` serving 100 % of the environment named by
    ``evaluation.champion_env`` (default ``production``), read from its deployment; while
    a rollout splits its traffic, it is the version that environment's alias points at
    (the last one to serve it fully). A store with no deployment of that environment
    falls back to the ``champion`` alias (set by hand with ``conveyor models alias``).
    A candidate is never its own champion.
    """
    env = ws.settings.config.evaluation.champion_env
    current = ws.deployments.current(env)
    serving = None if current is None or current.in_progress else current.full
    if serving is not None and serving.model == name:
        return None if serving.version == candidate else serving.ref
    for alias in (env, "champion") if current is None else (env,):
        try:
            champion = ws.models.get(f"{name}@{alias}")
        except (AliasNotFoundError, ModelNotFoundError, InvalidNameError):
            continue
        return None if champion.version == candidate else champion.ref
    return None


class _Phases:
    """Reports ``ci``'s phases to a progress hook: each start ends the one before."""

    def __init__(self, hook: ProgressHook | None) -> None:
        self._hook = hook
        self._current: tuple[str, float] | None = None

    def __call__(self, name: str | None) -> None:
        if self._hook is None:
            return
        now = time.monotonic()
        if self._current is not None:
            ended, started = self._current
            self._hook(ProgressEvent("phase", ended, "done", elapsed_s=now - started))
        self._current = None if name is None else (name, now)
        if name is not None:
            self._hook(ProgressEvent("phase", name, "running"))


def _holdout(run: Any, step: str, output: int) -> pd.DataFrame:
    """The holdout frame: output ``output`` of ``step`` in ``run``."""
    holdout = run.output(step, output_index(run.steps, step, output))
    if not isinstance(holdout, pd.DataFrame):
        raise ConfigError(
            f"Output {output} of step {step!r} is a {type(holdout).__name__}, not a "
            "DataFrame holding the holdout.",
            hint="Point evaluation.holdout_step/holdout_output at the holdout frame.",
            step=step,
        )
    return holdout
