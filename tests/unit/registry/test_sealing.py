"""Sealing a version's input example and descriptions for the records."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conveyor.artifacts import MasterKey, open_artifact_store
from conveyor.artifacts._fields import is_sealed
from conveyor.errors import IntegrityError
from conveyor.registry import ModelSummary, ModelVersion
from conveyor.registry._sealing import Sealer

EXAMPLE = {"columns": ["city"], "data": [["Oslo"]]}


def _version(example: object, description: str | None, name: str = "city") -> ModelVersion:
    return ModelVersion(
        name=name,
        version=1,
        flavor="sklearn",
        content_hash="a" * 64,
        signature=None,
        input_example=example,
        metrics={},
        params={},
        tags={},
        description=description,
        run_id=None,
        lineage={},
        onnx=None,
        importance=None,
        trusted=False,
        status="ready",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        created_by="alice",
    )


@pytest.fixture
def sealer(tmp_path: Path) -> Sealer:
    store = open_artifact_store(
        str(tmp_path / "artifacts"), master_key=MasterKey.generate(), encrypt=True
    )
    return Sealer(store)


def test_sealed_fields_open_to_what_was_sealed(sealer: Sealer) -> None:
    example, description, model_description = sealer.seal_fields(
        "city", "a" * 64, EXAMPLE, "Oslo only"
    )
    assert all(is_sealed(v) for v in (example, description, model_description))
    opened = sealer.open_version(_version(example, description))
    assert (opened.input_example, opened.description) == (EXAMPLE, "Oslo only")
    summary = ModelSummary("city", model_description, 1, 1, {}, datetime.now(UTC))
    assert sealer.open_summary(summary).description == "Oslo only"


def test_nothing_to_seal_stays_none(sealer: Sealer) -> None:
    assert sealer.seal_fields("city", "a" * 64, None, None) == (None, None, None)


def test_a_sealed_value_does_not_open_for_another_model(sealer: Sealer) -> None:
    example, _, _ = sealer.seal_fields("city", "a" * 64, EXAMPLE, None)
    with pytest.raises(IntegrityError, match="does not open"):
        sealer.open_version(_version(example, None, name="town"))


def test_without_encryption_values_pass_through(tmp_path: Path) -> None:
    sealer = Sealer(open_artifact_store(str(tmp_path / "plain")))
    assert sealer.seal_fields("city", "a" * 64, EXAMPLE, "text") == (EXAMPLE, "text", "text")
    version = _version(EXAMPLE, "text")
    assert sealer.open_version(version) is version
    assert sealer.open_version(replace(version, description=None)).description is None
