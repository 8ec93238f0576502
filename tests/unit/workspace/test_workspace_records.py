"""Every records access of a workspace goes through ``Workspace.records``.

A workspace built with a ``remote`` hook gets every interface's records from the hook
(in-memory fakes here) and never touches its metadata store: the store handed in is a
tripwire that fails the test on any use.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

UNIT = Path(__file__).parents[1]
for folder in ("data", "tracking", "registry", "predictions", "deployments", "monitoring"):
    sys.path.insert(0, str(UNIT / folder))
sys.path.insert(0, str(UNIT / "automation"))
sys.path.insert(0, str(UNIT / "security"))

from automation_memory import MemoryAutomationRecords  # noqa: E402
from data_memory_records import MemoryDatasetRecords  # noqa: E402
from memory_records import InMemoryRunRecords  # noqa: E402
from monitoring_memory import MemoryMonitoringRecords  # noqa: E402
from registry_memory_records import MemoryModelRecords  # noqa: E402
from test_deployment_memory_records import MemoryDeploymentRecords  # noqa: E402
from test_prediction_memory_records import MemoryPredictionRecords  # noqa: E402
from token_memory import MemoryTokenRecords  # noqa: E402

from conveyor.artifacts import open_artifact_store  # noqa: E402
from conveyor.automation import Agent, BaseAutomationRecords, Lease  # noqa: E402
from conveyor.checks import (  # noqa: E402
    BaseCheckRecords,
    CheckRecord,
    GateDecision,
    SchemaRecord,
    SqlCheckRecords,
    check_records,
    latest_decision,
    record_decision,
)
from conveyor.checks._base import Subject  # noqa: E402
from conveyor.config import load_settings  # noqa: E402
from conveyor.core import Actor, utcnow  # noqa: E402
from conveyor.data import BaseDatasetRecords, DatasetRegistry  # noqa: E402
from conveyor.deployments import (  # noqa: E402
    BaseDeploymentRecords,
    DeploymentStore,
    SqlDeploymentRecords,
)
from conveyor.monitoring import BaseMonitoringRecords, latest_report, open_alerts  # noqa: E402
from conveyor.predictions import BasePredictionRecords, PredictionLog  # noqa: E402
from conveyor.registry import BaseModelRecords, ModelRegistry  # noqa: E402
from conveyor.security import BaseTokenRecords, SqlTokenRecords  # noqa: E402
from conveyor.serving._auth import ServingAccess  # noqa: E402
from conveyor.store import (  # noqa: E402
    AuditEvent,
    AuditVerification,
    BaseAuditRecords,
    SqlAuditRecords,
)
from conveyor.tracking import BaseRunRecords, RunTracker  # noqa: E402
from conveyor.tuning import Float, tune  # noqa: E402
from conveyor.workspace import NoMetadataStoreError, Workspace  # noqa: E402

ACTOR = Actor("alice")


class Tripwire:
    """A metadata store that fails the test on any use."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the metadata store was used: .{name}")


class MemoryAuditRecords(BaseAuditRecords):
    """An audit trail in a list (hashes not computed: nothing here checks them)."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record_event(
        self, actor: Actor, action: str, target: str, details: Mapping[str, Any] | None = None
    ) -> AuditEvent:
        event = AuditEvent(
            len(self.events) + 1, utcnow(), actor.name, action, target, dict(details or {}),
            "0" * 64, "0" * 64,
        )  # fmt: skip
        self.events.append(event)
        return event

    def audit_log(
        self, *, limit: int | None = None, action: str | None = None,
        target_prefix: str | None = None,
    ) -> list[AuditEvent]:  # fmt: skip
        found = [
            e
            for e in self.events
            if (action is None or e.action == action)
            and (target_prefix is None or e.target.startswith(target_prefix))
        ]
        return found if limit is None else found[-limit:] if limit else []

    def verify_audit(self) -> AuditVerification:
        return AuditVerification(ok=True, count=len(self.events))


class MemoryCheckRecords(BaseCheckRecords):
    """Gate decisions in a list; results and schemas are not used by these tests."""

    def __init__(self) -> None:
        self.decisions: list[GateDecision] = []

    def record_suite(self, actor: Actor, suite: Any) -> None:
        raise NotImplementedError

    def list_results(
        self, subject_kind: str, subject_ref: str, *, suite_id: str | None = None
    ) -> list[CheckRecord]:
        return []

    def latest_results(self) -> dict[str, CheckRecord]:
        return {}

    def record_decision(self, actor: Actor, decision: GateDecision) -> GateDecision:
        from dataclasses import replace

        stamped = replace(decision, at=utcnow(), actor=actor.name)
        self.decisions.append(stamped)
        return stamped

    def list_decisions(self, subject_kind: str, subject_ref: str) -> list[GateDecision]:
        wanted = (subject_kind, subject_ref)
        return [d for d in self.decisions if (d.subject.kind, d.subject.ref) == wanted]

    def has_decisions(self) -> bool:
        return bool(self.decisions)

    def add_schema(
        self, actor: Actor, dataset: str, from_dataset_version: int, document: dict[str, Any]
    ) -> tuple[SchemaRecord, bool]:
        raise NotImplementedError

    def list_schemas(self, dataset: str) -> list[SchemaRecord]:
        return []

    def latest_schema(self, dataset: str) -> SchemaRecord | None:
        return None

    def has_schemas(self) -> bool:
        return False


FAKES: dict[type[Any], Callable[[], Any]] = {
    BaseDatasetRecords: MemoryDatasetRecords,
    BaseRunRecords: InMemoryRunRecords,
    BaseModelRecords: MemoryModelRecords,
    BasePredictionRecords: MemoryPredictionRecords,
    BaseDeploymentRecords: MemoryDeploymentRecords,
    BaseCheckRecords: MemoryCheckRecords,
    BaseMonitoringRecords: MemoryMonitoringRecords,
    BaseAutomationRecords: MemoryAutomationRecords,
    BaseTokenRecords: MemoryTokenRecords,
    BaseAuditRecords: MemoryAuditRecords,
}


class Hook:
    """The ``remote`` hook: builds a fake per interface and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[type[Any]] = []
        self.built: dict[type[Any], Any] = {}

    def __call__(self, base: type[Any]) -> Any:
        self.asked.append(base)
        self.built[base] = FAKES[base]()
        return self.built[base]


def _remote(tmp_path: Path, hook: Callable[[type[Any]], Any], store: Any = None) -> Workspace:
    settings = load_settings(tmp_path, env={})
    artifacts = open_artifact_store(str(tmp_path / "artifacts"))
    return Workspace(settings, store, artifacts, ACTOR, remote=hook)


@pytest.fixture
def hook() -> Hook:
    return Hook()


@pytest.fixture
def ws(tmp_path: Path, hook: Hook) -> Iterator[Workspace]:
    workspace = _remote(tmp_path, hook, store=Tripwire())
    yield workspace
    workspace.close()


def test_the_facades_are_built_on_the_hooks_records(ws: Workspace, hook: Hook) -> None:
    assert ws.datasets.records is hook.built[BaseDatasetRecords]
    assert ws.runs.records is hook.built[BaseRunRecords]
    assert ws.models.records is hook.built[BaseModelRecords]
    assert ws.predictions.records is hook.built[BasePredictionRecords]
    assert ws.deployments.records is hook.built[BaseDeploymentRecords]
    assert "remote" in repr(ws)


def test_datasets_and_runs_are_written_to_the_remote_records(ws: Workspace, hook: Hook) -> None:
    version = ws.datasets.add("orders", pd.DataFrame({"x": [1, 2, 3]}))
    assert [s.name for s in hook.built[BaseDatasetRecords].summaries()] == ["orders"]
    assert ws.datasets.get("orders@latest").version == version.version == 1

    run = ws.runs.start_run("train", kind="pipeline", capture=False)
    ws.runs.finish_run(run.id, "completed")
    assert hook.built[BaseRunRecords].get_run(run.id).status == "completed"


def test_models_deployments_and_predictions_read_the_remote_records(ws: Workspace) -> None:
    assert ws.models.list() == []
    assert ws.deployments.current("production") is None
    assert ws.deployments.environments() == []


def test_checks_go_through_the_hook(ws: Workspace, hook: Hook) -> None:
    decision = GateDecision(
        "PROMOTE", ("all gates passed",), Subject("model", "churn@1"), None, "s1"
    )
    record_decision(ws, decision)
    assert check_records(ws) is hook.built[BaseCheckRecords]
    found = latest_decision(ws, "churn@1")
    assert found is not None
    assert found.decision == "PROMOTE"
    assert found.actor == "alice"


def test_audit_goes_through_the_hook(ws: Workspace, hook: Hook) -> None:
    ws.audit.record_event(ACTOR, "model.integrity_failed", "model:churn@1", {"file": "m.pkl"})
    assert [e.action for e in ws.audit_log()] == ["model.integrity_failed"]
    assert ws.audit_log(action="data.add") == []
    assert ws.verify_audit().ok
    assert hook.built[BaseAuditRecords].events[0].target == "model:churn@1"


def test_monitoring_automation_and_tokens_go_through_the_hook(ws: Workspace, hook: Hook) -> None:
    assert open_alerts(ws) == []
    assert latest_report(ws, "production") is None
    agent = Agent(ws)
    assert agent.records is hook.built[BaseAutomationRecords]
    assert agent.lease.records is agent.records
    assert agent.lease.acquire()
    tokens = ws.records(BaseTokenRecords, SqlTokenRecords)
    access = ServingAccess.from_config(ws.settings.config.serving.model_copy(
        update={"auth": "token"}), tokens)  # fmt: skip
    assert access.tokens is not None
    assert access.tokens.list() == []


def test_the_hook_is_asked_once_per_interface(ws: Workspace, hook: Hook) -> None:
    for _ in range(3):
        ws.records(BaseCheckRecords, SqlCheckRecords)
        _ = ws.audit
    assert sorted(b.__name__ for b in hook.asked) == sorted({b.__name__ for b in hook.asked}), (
        "an interface was built twice"
    )
    assert BaseCheckRecords in hook.asked
    assert BaseAuditRecords in hook.asked


def test_a_remote_workspace_without_a_store_refuses_what_needs_one(tmp_path: Path) -> None:
    ws = _remote(tmp_path, Hook())
    with pytest.raises(NoMetadataStoreError, match="keeps its records on a server") as info:
        _ = ws.store
    assert info.value.code == "no_metadata_store"
    with pytest.raises(NoMetadataStoreError):
        ws.gc(dry_run=True)
    assert ws.audit_log() == []  # the records still work
    ws.close()


def test_a_remote_workspace_tunes_with_its_study_in_memory(tmp_path: Path) -> None:
    """No database for Optuna's study: it is kept in memory, the trials still become runs."""
    ws = _remote(tmp_path, Hook())
    result = tune(lambda p: p["x"] ** 2, {"x": Float(-1, 1)}, n_trials=3, workspace=ws)
    assert len(result.trials) == 3
    assert len(ws.runs.list()) >= 3
    ws.close()


def test_a_hook_returning_the_wrong_records_is_refused(tmp_path: Path) -> None:
    def wrong(base: type[Any]) -> Any:
        return MemoryTokenRecords()  # whatever was asked

    with pytest.raises(TypeError, match="returned MemoryTokenRecords for BaseDatasetRecords"):
        _remote(tmp_path, wrong)


def test_a_workspace_needs_a_store_or_a_hook(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    artifacts = open_artifact_store(str(tmp_path / "artifacts"))
    with pytest.raises(TypeError, match="metadata store or a remote= hook"):
        Workspace(settings, None, artifacts, ACTOR)


@pytest.mark.parametrize(
    "build",
    [
        lambda a: DatasetRegistry(None, a, actor=ACTOR, root="."),
        lambda a: RunTracker(None, a, actor=ACTOR, root=Path()),
        lambda a: ModelRegistry(None, a, actor=ACTOR, root=Path()),
        lambda a: PredictionLog(None, a, actor=ACTOR, root="."),
        lambda a: DeploymentStore(None, actor=ACTOR),
        lambda a: Lease(None, actor=ACTOR, clock=lambda: 0.0),
    ],
    ids=["datasets", "runs", "models", "predictions", "deployments", "lease"],
)
def test_a_facade_needs_a_store_or_records(tmp_path: Path, build: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError, match="needs a metadata store or records="):
        build(open_artifact_store(str(tmp_path / "artifacts")))


def test_facades_work_on_records_alone(tmp_path: Path) -> None:
    artifacts = open_artifact_store(str(tmp_path / "artifacts"))
    deployments = DeploymentStore(None, actor=ACTOR, records=MemoryDeploymentRecords())
    assert deployments.current("production") is None
    log = PredictionLog(
        None, artifacts, actor=ACTOR, root=tmp_path, records=MemoryPredictionRecords()
    )
    assert "MemoryPredictionRecords" in repr(log)
    models = ModelRegistry(
        None, artifacts, actor=ACTOR, root=tmp_path, records=MemoryModelRecords()
    )
    assert models.list() == []
    assert "MemoryModelRecords" in repr(models)


def test_records_caches_one_instance_per_interface(tmp_path: Path) -> None:
    with Workspace.open(tmp_path, actor="alice", env={}) as ws:
        checks = ws.records(BaseCheckRecords, SqlCheckRecords)
        assert isinstance(checks, SqlCheckRecords)
        assert ws.records(BaseCheckRecords, SqlCheckRecords) is checks
        assert check_records(ws) is checks
        assert ws.audit is ws.audit
        assert isinstance(ws.audit, SqlAuditRecords)
        assert ws.records(BaseDeploymentRecords, SqlDeploymentRecords) is ws.deployments.records
        assert ws.records(BaseTokenRecords, SqlTokenRecords) is not checks
        # the SQL records of a local workspace write to its store
        ws.audit.record_event(ws.actor, "keys.rotate", "artifacts:here")
        assert [e.action for e in ws.store.audit_log(action="keys.rotate")] == ["keys.rotate"]


def test_threads_racing_for_an_interface_get_one_instance(tmp_path: Path) -> None:
    built: list[Any] = []
    release = threading.Event()

    def slow(base: type[Any]) -> Any:
        if base is BaseCheckRecords:
            release.wait(timeout=5)  # hold the first builder until every thread asked
        records = FAKES[base]()
        if base is BaseCheckRecords:
            built.append(records)
        return records

    ws = _remote(tmp_path, slow)
    barrier = threading.Barrier(8)
    got: list[Any] = []

    def ask() -> None:
        barrier.wait()
        got.append(ws.records(BaseCheckRecords, SqlCheckRecords))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    # Give the other threads time to ask while the first is still building.
    opener = threading.Timer(0.2, release.set)
    opener.start()
    for thread in threads:
        thread.join()
    opener.cancel()
    assert len(built) == 1
    assert len(got) == 8
    assert all(records is built[0] for records in got)
