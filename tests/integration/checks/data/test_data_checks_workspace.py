"""Data checks on a real workspace: stored schemas, and every check run through a suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conveyor.checks import CheckContext, CheckSpec, get_check, list_results, run_checks
from conveyor.checks.data import (
    DataCheckInputError,
    SchemaNotFoundError,
    get_schema,
    infer_schema,
    latest_schema,
    list_schemas,
)
from conveyor.errors import ConfigError
from conveyor.workspace import Workspace


def _orders(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return pd.DataFrame(
        {
            "order_id": np.arange(1, n + 1),
            "price": rng.uniform(1.0, 100.0, n).round(2),
            "quantity": rng.integers(1, 10, n),
            "region": rng.choice(["north", "south", "west"], n),
            "a": a,
            "noise": rng.normal(size=n),
            "returned": (a + rng.normal(scale=0.4, size=n) > 0).astype(int),
        }
    )


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A project on the embedded defaults (SQLite, local artifacts)."""
    with Workspace.open(tmp_path / "project", env={}) as w:
        yield w


@pytest.fixture
def any_ws(tmp_path: Path, metadata_url: str) -> Iterator[Workspace]:
    """The same on SQLite and on PostgreSQL, for what touches the schema records."""
    with Workspace.open(tmp_path / "project", env={"CONVEYOR_METADATA_URL": metadata_url}) as w:
        yield w


def _corrupted_csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    """The same orders written as a CSV with hand-edit mistakes in four columns."""
    bad = frame.astype({"quantity": object, "order_id": object, "price": object})
    bad.loc[3, "quantity"] = "three"  # text in a numeric column
    bad.loc[10, "price"] = -4.5  # a negative price
    bad.loc[12, "region"] = "atlantis"  # an unseen category
    bad.loc[20, "order_id"] = None  # a null in a non-null column
    path = tmp_path / "orders.csv"
    bad.to_csv(path, index=False)
    return path


def test_inferred_schemas_are_versioned_per_dataset(any_ws: Workspace) -> None:
    ws = any_ws
    ws.datasets.add("orders", _orders())
    first = infer_schema(ws, "orders@1")
    assert (first.version, first.from_dataset_version, first.unchanged) == (1, 1, False)
    again = infer_schema(ws, "orders@1")
    assert (again.version, again.unchanged) == (1, True)
    ws.datasets.add("orders", _orders(300, seed=3))
    second = infer_schema(ws, "orders", tolerance=0.1)
    assert (second.version, second.from_dataset_version) == (2, 2)
    assert second.document["options"]["tolerance"] == 0.1
    assert [s.version for s in list_schemas(ws, "orders")] == [1, 2]
    latest = latest_schema(ws, "orders")
    assert latest is not None
    assert latest.version == 2
    assert latest_schema(ws, "customers") is None
    assert get_schema(ws, "orders", 1).document == first.document
    events = ws.audit_log(action="schema.infer")
    assert [e.details["schema_version"] for e in events] == [1, 2]
    with pytest.raises(SchemaNotFoundError, match="no schema version 7; it has versions 1-2"):
        get_schema(ws, "orders", 7)


def test_schema_check_catches_a_corrupted_version_and_names_each_column(
    any_ws: Workspace, tmp_path: Path
) -> None:
    ws = any_ws
    clean = _orders()
    ws.datasets.add("orders", clean)
    infer_schema(ws, "orders@1")
    ws.datasets.add("orders", _corrupted_csv(tmp_path, clean))
    with CheckContext(ws, dataset="orders@2") as ctx:
        suite = run_checks(ctx, [CheckSpec("schema")])
    (result,) = suite.results
    assert (result.status, result.severity, result.subject.ref) == ("failed", "error", "orders@2")
    columns = result.details["columns"]
    assert set(columns) == {"quantity", "price", "region", "order_id"}
    assert columns["quantity"]["examples"] == ["three"]
    assert columns["price"]["examples"] == [-4.5]
    assert columns["region"]["examples"] == ["atlantis"]
    assert "not null" in columns["order_id"]["checks"]
    assert "orders@2 does not match orders schema v1: 4 columns fail" in result.explanation
    stored = list_results(ws, subject_kind="dataset", subject_ref="orders@2")
    assert [(r.result.name, r.result.status) for r in stored] == [("schema", "failed")]


def test_schema_check_passes_the_version_it_was_inferred_from(ws: Workspace) -> None:
    ws.datasets.add("orders", _orders())
    infer_schema(ws, "orders@1")
    with CheckContext(ws, dataset="orders@1") as ctx:
        (result,) = run_checks(ctx, [CheckSpec("schema")], record=False).results
    assert result.passed, result.explanation


def test_schema_check_without_a_stored_schema_errors_or_infers(ws: Workspace) -> None:
    ws.datasets.add("orders", _orders())
    ws.datasets.add("orders", _orders(seed=1))
    with CheckContext(ws, dataset="orders@2") as ctx:
        (result,) = run_checks(ctx, [CheckSpec("schema")], record=False).results
        assert result.status == "error"
        assert "No schema is stored for dataset 'orders'" in result.explanation
        specs = [CheckSpec("schema", {"infer_if_missing": True})]
        (inferred,) = run_checks(ctx, specs, record=False).results
    assert inferred.status in ("passed", "failed")
    assert inferred.details["from_dataset_version"] == 1
    assert [s.from_dataset_version for s in list_schemas(ws, "orders")] == [1]


def test_statistical_checks_run_through_a_suite(ws: Workspace) -> None:
    reference = _orders(400)
    ws.datasets.add("orders", reference)
    current = pd.concat([reference, reference.iloc[:5]], ignore_index=True)
    current["price"] = current["price"] + 30.0
    ws.datasets.add("orders", current)
    specs = [
        CheckSpec("data_drift"),
        CheckSpec("anomalies"),
        CheckSpec("duplicates"),
        CheckSpec("class_balance", {"min_ratio": 0.5}),
        CheckSpec("label_leakage"),
        CheckSpec("feature_importance", {"target": "returned"}),
    ]
    with CheckContext(ws, dataset="orders@2", target="returned") as ctx:
        suite = run_checks(ctx, specs)
    by_name = {r.name: r for r in suite.results}
    assert by_name["data_drift"].details["drifted"] == ["price"]
    assert "price" in by_name["anomalies"].details["columns"]
    assert by_name["duplicates"].details["duplicates"] == 5
    assert 0.5 < by_name["class_balance"].value <= 1.0
    assert by_name["label_leakage"].passed
    assert "noise" in by_name["feature_importance"].details["flagged"]
    assert "a" not in by_name["feature_importance"].details["flagged"]
    assert {r.severity for r in suite.results if r.name != "label_leakage"} == {"warning"}


def test_checks_needing_a_target_or_reference_error_clearly(ws: Workspace) -> None:
    ws.datasets.add("orders", _orders())
    specs = [CheckSpec("class_balance"), CheckSpec("data_drift")]
    with CheckContext(ws, dataset="orders@1") as ctx:
        balance, drift = run_checks(ctx, specs, record=False).results
    assert balance.status == "error"
    assert "'class_balance' check needs a target column" in balance.explanation
    assert drift.status == "error"
    assert "no reference dataset version" in drift.explanation


def test_a_missing_target_column_is_named(ws: Workspace) -> None:
    ws.datasets.add("orders", _orders())
    with CheckContext(ws, dataset="orders@1", target="churned") as ctx:
        (result,) = run_checks(ctx, [CheckSpec("label_leakage")], record=False).results
    assert result.status == "error"
    assert "The target column 'churned' is not in the dataset" in result.explanation


def test_ill_typed_params_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"'data_drift'.*alpha"):
        get_check("data_drift").validate_params({"alpha": "high"})
    with pytest.raises(ConfigError, match=r"'schema'.*unknown"):
        get_check("schema").validate_params({"unknown": 1})


def test_infer_schema_refuses_a_file_version(ws: Workspace, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    ws.datasets.add("notes", notes)
    with pytest.raises(DataCheckInputError, match="is a file, not a table"):
        infer_schema(ws, "notes@1")
