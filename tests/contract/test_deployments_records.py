"""The deployment records contract, run against the SQL records on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from conveyor.core import Actor
from conveyor.deployments import BaseDeploymentRecords, SqlDeploymentRecords, Variant
from conveyor.store import MetadataStore, open_store
from conveyor.testing.records._deployments import (
    AuditLog,
    DeploymentRecordsContract,
    sample_deployment,
    transition_for,
)


class TestSqlDeploymentRecords(DeploymentRecordsContract):
    @pytest.fixture
    def records(self, store: MetadataStore) -> BaseDeploymentRecords:
        return SqlDeploymentRecords(store)

    @pytest.fixture
    def audit_log(self, store: MetadataStore) -> AuditLog:
        return store.audit_log


def test_routing_weights_survive_reopening_the_store(metadata_url: str, actor: Actor) -> None:
    """Weights read by a new process (a restarted server) are the ones written, exactly."""
    weights = (100 - 100 / 3, 100 / 3)
    deployment = sample_deployment(
        1,
        strategy="ab",
        state="progressing",
        variants=(Variant("churn", 1, "a", weights[0]), Variant("churn", 2, "b", weights[1])),
    )
    with open_store(metadata_url) as store:
        SqlDeploymentRecords(store).record_transition(
            actor, deployment, transition_for(deployment, from_state=None), expected_revision=None
        )
    with open_store(metadata_url) as store:
        again = SqlDeploymentRecords(store).current("production")
    assert again == deployment
    assert again is not None
    assert tuple(v.weight for v in again.variants) == weights
