"""The records contracts, run against the REST implementations through a real server.

The same suites as the SQL records (``conveyor.testing.records``), each through
``conveyor server`` on 127.0.0.1 over SQLite, and those of runs, models, datasets and
deployments over PostgreSQL too: one contract, several backends. The actor of every
write is the identity of the calling token (``token:contract``), never one the client
names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contract.conftest import RestBackend
from conveyor.automation import BaseAutomationRecords
from conveyor.checks import BaseCheckRecords
from conveyor.core import Actor
from conveyor.data import BaseDatasetRecords
from conveyor.deployments import BaseDeploymentRecords
from conveyor.monitoring import BaseMonitoringRecords
from conveyor.predictions import BasePredictionRecords
from conveyor.registry import BaseModelRecords
from conveyor.remote import rest_records
from conveyor.security import BaseTokenRecords
from conveyor.testing.records import (
    AutomationRecordsContract,
    CheckRecordsContract,
    DatasetRecordsContract,
    DeploymentRecordsContract,
    ModelRecordsContract,
    MonitoringRecordsContract,
    PredictionRecordsContract,
    RunRecordsContract,
    TokenRecordsContract,
)
from conveyor.testing.records._tracking import AuditLog
from conveyor.tracking import BaseRunRecords


class _Rest:
    base: type[Any]

    @pytest.fixture
    def records(self, rest: RestBackend) -> Any:
        return rest_records(self.base, rest.client)

    @pytest.fixture
    def audit_log(self, rest: RestBackend) -> AuditLog:
        return rest.store.audit_log

    @pytest.fixture
    def actor(self, rest: RestBackend) -> Actor:
        return rest.actor

    @pytest.fixture
    def referenced_hashes(self, rest: RestBackend) -> Any:
        return rest.store.referenced_hashes


class _OnSqliteOnly:
    """Through the server on SQLite only: the wire is the same whatever the database, and
    these interfaces' SQL records already pass their contract on PostgreSQL directly (the
    records of runs, models, datasets and deployments go through the server on both)."""

    @pytest.fixture
    def metadata_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'meta' / 'conveyor.db'}"


class TestRestAutomationRecords(_OnSqliteOnly, _Rest, AutomationRecordsContract):
    base = BaseAutomationRecords


class TestRestCheckRecords(_OnSqliteOnly, _Rest, CheckRecordsContract):
    base = BaseCheckRecords


class TestRestDatasetRecords(_Rest, DatasetRecordsContract):
    base = BaseDatasetRecords


class TestRestDeploymentRecords(_Rest, DeploymentRecordsContract):
    base = BaseDeploymentRecords


class TestRestModelRecords(_Rest, ModelRecordsContract):
    base = BaseModelRecords


class TestRestMonitoringRecords(_OnSqliteOnly, _Rest, MonitoringRecordsContract):
    base = BaseMonitoringRecords


class TestRestPredictionRecords(_OnSqliteOnly, _Rest, PredictionRecordsContract):
    base = BasePredictionRecords


class TestRestRunRecords(_Rest, RunRecordsContract):
    base = BaseRunRecords


class TestRestTokenRecords(_OnSqliteOnly, _Rest, TokenRecordsContract):
    base = BaseTokenRecords
