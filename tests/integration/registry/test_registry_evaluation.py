"""What a version records besides its files: idempotent registration, the gate decision,
training data named at registration, and a card that says what was (not) computed."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from conveyor.registry import ModelRegistry, PreparedModel, RegistrationError
from conveyor.workspace import Workspace

Saved = Callable[..., PreparedModel]


def test_a_retried_registration_with_the_same_key_returns_the_first_version(
    registry: ModelRegistry, make_saved: Saved
) -> None:
    first = registry.record("churn", make_saved(b"a"), idempotency_key="build-81")
    again = registry.record("churn", make_saved(b"a"), idempotency_key="build-81")
    assert again.ref == first.ref == "churn@1"
    other = registry.record("churn", make_saved(b"a"), idempotency_key="build-82")
    assert other.version == 2
    assert [v.version for v in registry.versions("churn")] == [2, 1]
    registers = [e for e in registry.store.audit_log() if e.action == "model.register"]
    assert len(registers) == 2


def test_without_a_key_registering_twice_makes_two_versions(
    registry: ModelRegistry, make_saved: Saved
) -> None:
    registry.record("churn", make_saved(b"a"))
    registry.record("churn", make_saved(b"a"))
    assert [v.version for v in registry.versions("churn")] == [2, 1]


def test_a_key_is_scoped_to_its_model(registry: ModelRegistry, make_saved: Saved) -> None:
    registry.record("churn", make_saved(b"a"), idempotency_key="k")
    assert registry.record("fraud", make_saved(b"a"), idempotency_key="k").ref == "fraud@1"


def test_concurrent_retries_with_one_key_make_one_version(
    registry: ModelRegistry, make_saved: Saved
) -> None:
    prepared = [make_saved(f"p{i}".encode()) for i in range(4)]
    refs: list[str] = []
    errors: list[BaseException] = []

    def attempt(item: PreparedModel) -> None:
        try:
            refs.append(registry.record("churn", item, idempotency_key="job-7").ref)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(p,)) for p in prepared]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert refs == ["churn@1"] * 4
    assert [v.version for v in registry.versions("churn")] == [1]


@pytest.mark.parametrize("key", ["", "x" * 201, "line\nbreak", "esc\x1b[2J"])
def test_a_malformed_key_is_refused(registry: ModelRegistry, make_saved: Saved, key: str) -> None:
    with pytest.raises(RegistrationError, match="Invalid idempotency key"):
        registry.record("churn", make_saved(), idempotency_key=key)


def test_the_gate_decision_is_recorded_with_the_version_and_audited(
    registry: ModelRegistry, make_saved: Saved
) -> None:
    registry.record("churn", make_saved(), evaluation={"holdout_rows": 120})
    updated = registry.record_decision(
        "churn@1", verdict="REJECT", reasons=["min_metric failed"], champion="churn@7"
    )
    assert updated.evaluation["holdout_rows"] == 120
    assert updated.evaluation["decision"]["verdict"] == "REJECT"
    assert updated.evaluation["decision"]["reasons"] == ["min_metric failed"]
    assert updated.evaluation["decision"]["champion"] == "churn@7"
    stored = registry.get("churn@1")
    assert stored.evaluation == updated.evaluation
    assert "evaluation" not in stored.lineage
    event = [e for e in registry.store.audit_log() if e.action == "model.evaluate"][-1]
    assert event.target == "model:churn@1"
    assert event.details["verdict"] == "REJECT"
    with pytest.raises(RegistrationError, match="Unknown gate verdict 'MAYBE'"):
        registry.record_decision("churn@1", verdict="MAYBE")


def test_the_card_shows_metrics_by_step_decision_and_why_onnx_is_missing(
    registry: ModelRegistry, make_saved: Saved
) -> None:
    prepared = dataclasses.replace(
        make_saved(), onnx={"reason": "skl2onnx cannot convert OrdinalEncoder"}
    )
    registry.record(
        "churn",
        prepared,
        description="Churn.\x1b[2J\x1b]0;owned\x07 Safe.",
        metrics={"accuracy": 0.91},
        evaluation={"metric_sources": {"accuracy": "evaluate"}, "metrics_step": "evaluate"},
    )
    registry.record_decision("churn@1", verdict="PROMOTE", reasons=["all 1 check(s) passed"])
    card = registry.card("churn@1")
    assert "| accuracy | 0.91 | evaluate |" in card.markdown
    assert "logged by step `evaluate`" in card.markdown
    assert "**PROMOTE** against none (absolute checks only)" in card.markdown
    assert "ONNX twin: not created: skl2onnx cannot convert OrdinalEncoder" in card.markdown
    assert "Not computed for this version: it was registered with `explain=False`" in card.markdown
    assert "\x1b" not in card.markdown
    assert "\x1b" not in card.html
    assert "Churn.\\x1b[2J\\x1b]0;owned\\x07 Safe." in card.markdown


@pytest.fixture
def diabetes_ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "conveyor.yaml").write_text("project: {name: diabetes}\n", encoding="utf-8")
    ws = Workspace.open(root, env={}, search_parents=False)
    ws.datasets.add("diabetes", load_diabetes(as_frame=True).frame)
    return ws


def test_training_data_records_lineage_for_a_model_registered_outside_a_pipeline(
    diabetes_ws: Workspace,
) -> None:
    ws = diabetes_ws
    with ws:
        frame = load_diabetes(as_frame=True).frame
        features = frame.drop(columns=["target"])
        model = Ridge().fit(features, frame["target"])
        version = ws.models.register(
            "progression",
            model,
            input_example=features.head(5),
            training_data="diabetes@1",
            explain=False,
            onnx=False,
        )
        dataset = ws.datasets.get("diabetes@1")
        card = ws.models.card(version.ref).markdown
        latest = ws.models.register(
            "progression", model, training_data=["diabetes@latest"], explain=False, onnx=False
        )
    expected = [{"name": "diabetes", "version": 1, "content_hash": dataset.content_hash}]
    assert version.lineage["datasets"] == expected
    assert latest.lineage["datasets"] == expected
    assert "| diabetes | 1 | 442 |" in card


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("diabetes@2", r"dataset 'diabetes' has no such version \(versions: 1\)"),
        ("orders@1", "no dataset named 'orders' is recorded"),
        ("diabetes@" + "9" * 20, "versions are whole numbers from 1 to 2147483647"),
        ("diabetes@two", "does not name a dataset version"),
        ("../etc@1", "does not name a dataset"),
    ],
)
def test_unknown_or_malformed_training_data_is_refused(
    diabetes_ws: Workspace, ref: str, message: str
) -> None:
    with diabetes_ws as ws:
        frame = load_diabetes(as_frame=True).frame
        model = Ridge().fit(frame.drop(columns=["target"]), frame["target"])
        with pytest.raises(RegistrationError, match=message):
            ws.models.register("progression", model, training_data=ref, explain=False)
        assert ws.models.list() == []


def test_gate_metrics_fill_gaps_but_never_replace_a_logged_metric(
    registry: ModelRegistry, make_saved: Saved
) -> None:
    registry.record(
        "churn",
        make_saved(),
        metrics={"accuracy": 0.9},
        evaluation={"metric_sources": {"accuracy": "evaluate"}},
    )
    updated = registry.record_decision(
        "churn@1", verdict="PROMOTE", metrics={"accuracy": 0.5, "roc_auc": 0.8}
    )
    assert updated.metrics == {"accuracy": 0.9, "roc_auc": 0.8}
    assert updated.evaluation["metric_sources"] == {"accuracy": "evaluate", "roc_auc": "holdout"}
