"""Registry records: versions, refs, aliases with history, archive, integrity, lineage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from registry_support import FakeLineage
from sqlalchemy import select

from conveyor.artifacts import ArtifactStore
from conveyor.errors import IntegrityError
from conveyor.registry import (
    AliasNotFoundError,
    ModelNotFoundError,
    ModelRegistry,
    ModelStateError,
    ModelVersionNotFoundError,
    PreparedModel,
    RegistrationError,
    RunLineage,
)
from conveyor.store._models import ArtifactRefRow
from conveyor.tracking import RunTracker

Saved = Callable[..., PreparedModel]


@pytest.fixture
def register(registry: ModelRegistry, make_saved: Saved) -> Callable[[int], None]:
    def run(n: int = 1) -> None:
        for i in range(n):
            prepared = make_saved(f"w{i}".encode())
            registry.record("churn", prepared, description="Predict churn for retention offers.")

    return run


def test_versions_are_numbered_from_one_and_listed_newest_first(
    registry: ModelRegistry, register: Callable[[int], None]
) -> None:
    register(3)
    assert [v.version for v in registry.versions("churn")] == [3, 2, 1]
    latest = registry.get("churn")
    assert latest.ref == "churn@3"
    assert latest.status == "ready"
    assert latest.signature is not None
    assert latest.input_example == {
        "columns": ["x"],
        "data": [[1.0], [2.0]],
    }
    [summary] = registry.list()
    assert (summary.name, summary.latest_version, summary.versions) == ("churn", 3, 3)


def test_registration_is_audited_and_references_every_object(
    registry: ModelRegistry, register: Callable[[int], None]
) -> None:
    register(1)
    [event] = registry.store.audit_log(action="model.register")
    assert event.target == "model:churn@1"
    version = registry.get("churn@1")
    manifest = registry.manifest(version)
    expected = {version.content_hash, *(f["hash"] for f in manifest["files"].values())}
    with registry.store.read() as session:
        refs = set(
            session.scalars(
                select(ArtifactRefRow.hash).where(ArtifactRefRow.owner == "model:churn@1")
            )
        )
    assert refs == expected
    assert set(manifest["files"]) == {"model.bin", "sub/extra.txt"}


def test_unknown_model_version_and_alias_errors_list_what_exists(
    registry: ModelRegistry, register: Callable[[int], None]
) -> None:
    register(5)
    registry.set_alias("churn", 2, "champion")
    with pytest.raises(ModelVersionNotFoundError, match=r"no version 7\. Versions: 1-5\."):
        registry.get("churn@7")
    with pytest.raises(AliasNotFoundError, match=r"no alias 'prod'\. Aliases: champion -> 2"):
        registry.get("churn@prod")
    with pytest.raises(ModelNotFoundError, match=r"No model named 'nope'\. Models: churn\."):
        registry.get("nope")
    with pytest.raises(KeyError):
        registry.versions("nope")


def test_alias_set_and_move_are_audited_with_history(
    registry: ModelRegistry, register: Callable[[int], None]
) -> None:
    register(2)
    registry.set_alias("churn", 1, "champion", reason="first")
    registry.set_alias("churn", 1, "champion")  # no change: nothing recorded
    registry.set_alias("churn", 2, "champion", reason="better auc")
    assert registry.get("churn@champion").version == 2
    assert registry.get("churn@2").aliases == ("champion",)
    registry.remove_alias("churn", "champion", reason="retired")
    with pytest.raises(AliasNotFoundError):
        registry.get("churn@champion")
    alias_history = [
        (e.kind, e.alias, e.from_version, e.version, e.reason)
        for e in registry.history("churn")
        if e.kind.startswith("alias")
    ]
    assert alias_history == [
        ("alias.set", "champion", None, 1, "first"),
        ("alias.moved", "champion", 1, 2, "better auc"),
        ("alias.removed", "champion", 2, None, "retired"),
    ]
    events = registry.store.audit_log(target_prefix="model:churn")
    assert [e.action for e in events] == [
        "model.register",
        "model.register",
        "model.alias.set",
        "model.alias.set",
        "model.alias.remove",
    ]
    assert events[3].details["from_version"] == 1
    assert events[3].details["to_version"] == 2
    assert registry.store.verify_audit().ok


def test_alias_to_a_missing_version_changes_nothing(
    registry: ModelRegistry, register: Callable[[int], None]
) -> None:
    register(1)
    with pytest.raises(ModelVersionNotFoundError, match="no version 4"):
        registry.set_alias("churn", 4, "champion")
    assert registry.history("churn")[-1].kind == "registered"


def test_archived_versions_are_never_latest_nor_aliased(
    registry: ModelRegistry, register: Callable[[int], None]
) -> None:
    register(2)
    registry.set_alias("churn", 2, "champion")
    with pytest.raises(ModelStateError, match="alias\\(es\\) champion point at it"):
        registry.archive("churn", 2)
    registry.set_alias("churn", 1, "champion")
    registry.archive("churn", 2, reason="leaky feature")
    assert registry.get("churn").version == 1
    assert registry.get("churn@2").status == "archived"
    with pytest.raises(ModelStateError, match="archived"):
        registry.set_alias("churn", 2, "challenger")
    assert ("archived", 2, "leaky feature") in [
        (e.kind, e.version, e.reason) for e in registry.history("churn")
    ]
    registry.set_alias("churn", 1, "keep")
    registry.remove_alias("churn", "champion")
    registry.remove_alias("churn", "keep")
    registry.archive("churn", 1)
    with pytest.raises(ModelVersionNotFoundError, match="no ready version"):
        registry.get("churn")


def test_tampered_artifact_is_refused_at_load_naming_the_object(
    registry: ModelRegistry,
    artifacts: ArtifactStore,
    register: Callable[[int], None],
    tmp_path: Path,
) -> None:
    register(1)
    version = registry.get("churn@1")
    digest = registry.manifest(version)["files"]["model.bin"]["hash"]
    stored = tmp_path / "artifacts" / "objects" / digest[:2] / digest[2:]
    stored.chmod(0o644)
    stored.write_bytes(b"evil")
    with pytest.raises(IntegrityError, match=rf"churn@1.*model\.bin \(object {digest}\)") as info:
        registry.load("churn@1")
    assert info.value.fields["object"] == digest


@pytest.fixture
def run_id(registry: ModelRegistry) -> str:
    """A run recorded in the registry's store (a version's run must exist there)."""
    tracker = RunTracker(
        registry.store, registry.artifacts, actor=registry.actor, root=registry.root
    )
    return tracker.start_run("fit", kind="step", capture=False).id


def test_lineage_metrics_and_params_come_from_the_lineage_source(
    registry: ModelRegistry, make_saved: Saved, run_id: str
) -> None:
    source = FakeLineage()
    source.runs[run_id] = RunLineage(
        run_id=run_id,
        code_version={"commit": "abc123", "dirty": False},
        datasets=({"name": "customers", "version": 2, "content_hash": "c" * 64},),
        metrics={"auc": 0.91, "loss": float("nan")},
        params={"lr": 0.1},
    )
    profile = {
        "columns": {
            "age": {"type": "int64", "kind": "numeric", "nulls": 0, "min": 18, "mean": 40.5}
        }
    }
    source.add_dataset("customers", 2, row_count=500, profile=profile)
    registry.lineage = source
    prepared = make_saved()
    version = registry.record("churn", prepared, run=run_id, description="Retention.")
    assert version.lineage == {
        "run_id": run_id,
        "code_version": {"commit": "abc123", "dirty": False},
        "datasets": [{"name": "customers", "version": 2, "content_hash": "c" * 64}],
    }
    assert version.metrics == {"auc": 0.91, "loss": None}
    assert version.params == {"lr": 0.1}
    card = registry.card("churn@1")
    for text in ("Retention.", "customers", "500", "age", "mean 40.5", "auc", "0.91", "abc123"):
        assert text in card.markdown
    with pytest.raises(RegistrationError, match="no such run"):
        registry.record("churn", prepared, run="0" * 32)


def test_training_data_is_recorded_over_the_runs_datasets_by_name(
    registry: ModelRegistry, make_saved: Saved, run_id: str
) -> None:
    source = FakeLineage()
    source.runs[run_id] = RunLineage(
        run_id,
        None,
        (
            {"name": "orders", "version": 1, "content_hash": "a" * 64},
            {"name": "users", "version": 4, "content_hash": "b" * 64},
        ),
        {},
        {},
    )
    source.add_dataset("orders", 1, content_hash="a" * 64)
    source.add_dataset("orders", 3, content_hash="d" * 64)
    registry.lineage = source
    version = registry.record("churn", make_saved(), run=run_id, training_data="orders")
    assert version.lineage["datasets"] == [
        {"name": "orders", "version": 3, "content_hash": "d" * 64},
        {"name": "users", "version": 4, "content_hash": "b" * 64},
    ]
    with pytest.raises(RegistrationError, match=r"no such version \(versions: 1, 3\)"):
        registry.record("churn", make_saved(), training_data="orders@2")


@pytest.mark.parametrize(
    ("lineage", "given"),
    [({"run": "s" * 32}, "run="), ({"training_data": "orders@1"}, "training_data=")],
)
def test_without_a_lineage_source_run_and_training_data_are_refused(
    registry: ModelRegistry, make_saved: Saved, lineage: dict[str, str], given: str
) -> None:
    assert registry.lineage is None
    with pytest.raises(RegistrationError, match=f"{given}: no lineage source is configured"):
        registry.record("churn", make_saved(), **lineage)  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="no lineage source"):
        registry.register("churn", object(), **lineage)  # type: ignore[arg-type]
    assert registry.list() == []


def test_without_a_lineage_source_the_card_names_datasets_without_profiles(
    registry: ModelRegistry, make_saved: Saved
) -> None:
    entry = {"name": "customers", "version": 2, "content_hash": "c" * 64}
    registry.record("churn", make_saved(), lineage={"datasets": [entry]})
    card = registry.card("churn@1").markdown
    assert "customers" in card
