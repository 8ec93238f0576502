"""``conveyor check``: the configured checks of one subject, outside a full CI run.

A dataset version gets the data gates of ``conveyor.yaml`` (or a default set when none is
declared), a run gets the run gates, a model version gets the model gates plus the serving
integration checks, judged against the champion on the holdout its source run produced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.checks import (
    CheckContext,
    CheckSpec,
    GateDecision,
    SuiteResult,
    evaluate_gates,
    get_check,
    run_checks,
    write_reports,
)
from conveyor.ci._outputs import run_output
from conveyor.ci._plan import gate_specs
from conveyor.ci._run import (
    EXIT_CODES,
    EXIT_ERROR,
    champion_of,
    check_summary,
    holdout_metrics,
)

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

#: Data checks run by ``conveyor check --data`` when no data gate is configured.
DEFAULT_DATA_CHECKS = ("schema", "duplicates")
#: Added to the defaults when there is a reference version to compare with.
DEFAULT_REFERENCE_CHECKS = ("anomalies",)
#: Integration checks that apply to a registered model on its own.
MODEL_INTEGRATION_CHECKS = ("signature_serving", "serving_roundtrip")


@dataclass(frozen=True)
class CheckOutcome:
    """The results of ``conveyor check`` on one subject.

    Attributes:
        suite: Every result.
        decision: The recorded verdict over those results.
        reports: Report format -> file (empty without a report folder).
        exit_code: 0 PROMOTE, 4 REJECT, 5 HOLD.
    """

    suite: SuiteResult
    decision: GateDecision
    reports: dict[str, Path] = field(default_factory=dict)
    exit_code: int = 0


def check_subject(
    ws: Workspace,
    *,
    data: str | None = None,
    reference: str | None = None,
    run: str | None = None,
    model: str | None = None,
    report_dir: str | os.PathLike[str] | None = None,
) -> CheckOutcome:
    """Run the checks that apply to ``data``, ``run`` or ``model`` (give exactly one).

    Args:
        ws: The project.
        data: A dataset version ``NAME@V``.
        reference: The dataset version to compare ``data`` with (default: the previous).
        run: A run id (or unique prefix).
        model: A model version ``NAME@V`` (or ``NAME@alias``).
        report_dir: Write the four reports there.

    Raises:
        ConfigError: A gate names an unknown check or has invalid params.
    """
    config = ws.settings.config
    evaluation = config.evaluation
    target = evaluation.target
    specs = gate_specs(config)
    champion: str | None = None
    if data is not None:
        chosen = _of_kind(specs, {"dataset"})
        if not chosen:
            has_reference = reference is not None or ws.datasets.get(data).version > 1
            names = DEFAULT_DATA_CHECKS + (DEFAULT_REFERENCE_CHECKS if has_reference else ())
            chosen = [CheckSpec(name) for name in names]
        frame_target = target if target and target in _columns(ws, data) else None
        ctx = CheckContext(ws, dataset=data, reference=reference, target=frame_target)
    elif run is not None:
        chosen = _of_kind(specs, {"run"})
        ctx = CheckContext(ws, run_id=ws.runs.get(run).id)
    else:
        assert model is not None
        version = ws.models.get(model)
        configured = {s.check for s in specs}
        chosen = _of_kind(specs, {"model", "run"} if version.run_id else {"model"})
        chosen += [CheckSpec(n) for n in MODEL_INTEGRATION_CHECKS if n not in configured]
        holdout = None
        if evaluation.holdout_step and version.run_id:
            holdout = run_output(
                ws, version.run_id, evaluation.holdout_step, evaluation.holdout_output
            )
        champion = champion_of(ws, version.name, version.version)
        ctx = CheckContext(
            ws,
            run_id=version.run_id,
            candidate=version.ref,
            champion=champion,
            holdout=holdout,
            target=target,
            positive_label=evaluation.positive_label,
            sensitive=evaluation.sensitive,
            slices=evaluation.slices,
            irrelevant=evaluation.irrelevant,
        )
    with ctx:
        suite = run_checks(ctx, chosen)
    # The first-model rule is about models: data and run checks have no champion to miss.
    judged_alone = model is not None and champion is None
    decision = evaluate_gates(suite, chosen, has_champion=not judged_alone, workspace=ws)
    if model is not None:
        # The version keeps the latest decision taken on it (shown by its card).
        ws.models.record_decision(
            model,
            verdict=decision.decision,
            reasons=decision.reasons,
            champion=decision.champion_ref,
            details={"checks": check_summary(suite)},
            metrics=holdout_metrics(suite),
        )
    reports = write_reports(suite, decision, Path(report_dir)) if report_dir is not None else {}
    return CheckOutcome(
        suite, decision, dict(reports), EXIT_CODES.get(decision.decision, EXIT_ERROR)
    )


def _of_kind(specs: list[CheckSpec], kinds: set[str]) -> list[CheckSpec]:
    return [s for s in specs if get_check(s.check).subject_kind in kinds]


def _columns(ws: Workspace, ref: str) -> list[Any]:
    profile = ws.datasets.get(ref).profile or {}
    columns = profile.get("columns", {})
    return list(columns) if isinstance(columns, dict | list) else []
