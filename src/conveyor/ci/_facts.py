"""What a project configures and what its records show, gathered once for the rubric."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conveyor.checks import check_records
from conveyor.data import LockFile
from conveyor.registry import AliasNotFoundError, ModelNotFoundError

if TYPE_CHECKING:
    from conveyor.config import ConveyorConfig
    from conveyor.workspace import Workspace

#: Checks ``conveyor ci`` runs on every candidate even when ``gates:`` does not list them.
INTEGRATION_CHECKS = ("pipeline_sample", "signature_serving", "serving_roundtrip")
#: Where ``conveyor init --ci github|gitlab`` writes its workflow.
WORKFLOW_FILES = (".github/workflows/conveyor.yml", ".gitlab-ci.yml")


@dataclass(frozen=True)
class ProjectFacts:
    """Everything the ML Test Score rubric looks at.

    Attributes:
        sections: Top-level configuration sections that are set (``gates``, ``monitoring`` ...).
        checks: Check names ``conveyor ci`` runs: the configured gates plus, once a training
            pipeline is named, the integration checks.
        latest: The latest recorded outcome per check name (True when it passed).
        skipped: Checks whose latest result was skipped (not failed), with the reason.
        pipeline: The configured training pipeline reference, if any.
        has_schema: A data schema is stored for some dataset.
        decided: A gate decision has been recorded.
        tuned: A tuning study has been recorded.
        pinned: ``conveyor.lock`` pins at least one dataset version.
        encrypted: Encryption at rest is enabled.
        ci_workflow: The CI workflow file found in the project, if any.
        rollback_ready: The evaluated model has a champion and an earlier ready version.
    """

    sections: frozenset[str] = frozenset()
    checks: frozenset[str] = frozenset()
    latest: dict[str, bool] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    pipeline: str | None = None
    has_schema: bool = False
    decided: bool = False
    tuned: bool = False
    pinned: bool = False
    encrypted: bool = False
    ci_workflow: str | None = None
    rollback_ready: bool = False


def configured_sections(config: ConveyorConfig) -> frozenset[str]:
    """Top-level sections written in ``conveyor.yaml`` (or set by the environment)."""
    return frozenset(config.model_fields_set)


def gate_names(config: ConveyorConfig) -> list[str]:
    """The check names listed under ``gates:`` (in order)."""
    return [gate.check for gate in config.gates]


def gather_facts(ws: Workspace) -> ProjectFacts:
    """Read the configuration, ``conveyor.lock`` and the records of ``ws``.

    The check facts come from the workspace's check records, the tuning fact from its
    run tracker.
    """
    config = ws.settings.config
    pipeline = config.pipelines.training
    checks = set(gate_names(config))
    if pipeline is not None:
        checks.update(INTEGRATION_CHECKS)
    records = check_records(ws)
    newest = records.latest_results()
    latest = {name: record.result.passed for name, record in newest.items()}
    skipped = {
        name: record.result.explanation
        for name, record in newest.items()
        if record.result.status == "skipped"
    }
    workflow = next((rel for rel in WORKFLOW_FILES if (ws.root / rel).is_file()), None)
    return ProjectFacts(
        sections=configured_sections(config),
        checks=frozenset(checks),
        latest=latest,
        skipped=skipped,
        pipeline=pipeline,
        has_schema=records.has_schemas(),
        decided=records.has_decisions(),
        tuned=bool(ws.runs.records.list_runs(kind="tune", limit=1)),  # a read: no reaping
        pinned=bool(LockFile.load(ws.root).entries),
        encrypted=config.store.encryption.enabled,
        ci_workflow=workflow,
        rollback_ready=_rollback_ready(ws, config),
    )


def _rollback_ready(ws: Workspace, config: ConveyorConfig) -> bool:
    name = config.evaluation.model
    if not name:
        return False
    try:
        champion = ws.models.get(f"{name}@champion")
    except (AliasNotFoundError, ModelNotFoundError):
        return False
    return any(
        v.version < champion.version and v.status == "ready" for v in ws.models.versions(name)
    )
