"""Lineage rules of the registry, over a lineage source held in memory."""

from __future__ import annotations

import pytest

from conveyor.registry import DatasetFacts, RegistrationError, RunLineage
from conveyor.registry._lineage import (
    dataset_profiles,
    require_source,
    run_lineage,
    training_datasets,
)


class Source:
    """Two versions of ``orders`` and one run."""

    def __init__(self) -> None:
        self.facts = {
            1: DatasetFacts("orders", 1, "a" * 64, 10, {"columns": {}}),
            3: DatasetFacts("orders", 3, "b" * 64, 12, None),
        }

    def run_lineage(self, run_id: str) -> RunLineage | None:
        return RunLineage("r1", None, (), {}, {}) if run_id == "r1" else None

    def dataset_version(self, name: str, version: int | None) -> DatasetFacts | None:
        if name != "orders":
            return None
        return self.facts[max(self.facts)] if version is None else self.facts.get(version)

    def dataset_versions(self, name: str) -> list[int]:
        return sorted(self.facts) if name == "orders" else []


def test_without_a_source_only_registrations_without_lineage_pass() -> None:
    assert require_source(None, run=None, training_data=[]) is None
    with pytest.raises(RegistrationError, match=r"run=: no lineage source") as info:
        require_source(None, run="r1", training_data=[])
    assert "ModelRegistry(..., lineage=...)" in (info.value.hint or "")
    with pytest.raises(RegistrationError, match=r"training_data=: no lineage source"):
        require_source(None, run=None, training_data=[("orders", 1)])
    source = Source()
    assert require_source(source, run="r1", training_data=[]) is source


def test_an_unknown_run_is_refused_by_id() -> None:
    assert run_lineage(Source(), "r1").run_id == "r1"
    with pytest.raises(RegistrationError, match=r"Cannot register with run 'r2': no such run"):
        run_lineage(Source(), "r2")


def test_training_data_resolves_latest_and_lists_known_versions() -> None:
    entries = training_datasets(Source(), [("orders", None), ("orders", 1)])
    assert entries == [
        {"name": "orders", "version": 3, "content_hash": "b" * 64},
        {"name": "orders", "version": 1, "content_hash": "a" * 64},
    ]
    with pytest.raises(RegistrationError, match=r"orders@2: dataset 'orders' has no such"):
        training_datasets(Source(), [("orders", 2)])
    with pytest.raises(RegistrationError, match=r"users@latest: no dataset named 'users'"):
        training_datasets(Source(), [("users", None)])


def test_card_profiles_are_filled_where_the_source_knows_the_version() -> None:
    datasets = [{"name": "orders", "version": 1}, {"name": "orders", "version": 2}]
    filled = dataset_profiles(Source(), datasets)
    assert [(d["row_count"], d["profile"]) for d in filled] == [(10, {"columns": {}}), (None, None)]
    assert dataset_profiles(None, datasets)[0]["row_count"] is None
