"""Contract suites of the records interfaces, one per records package.

Each suite is a pytest test class whose tests exercise every method of one interface
against its docstring contract. A backend subclasses the suite and provides its
implementation through the ``records`` fixture (and ``actor`` and ``audit_log``, which the
suites use to check who wrote what), the way optuna ships its storage tests:

Example:
    >>> import pytest  # doctest: +SKIP
    >>> from conveyor.testing.records import RunRecordsContract  # doctest: +SKIP
    >>> class TestMyRunRecords(RunRecordsContract):  # doctest: +SKIP
    ...     @pytest.fixture
    ...     def records(self, tmp_path):
    ...         return MyRunRecords(tmp_path)

The SQL implementations run every suite on SQLite and PostgreSQL (``tests/contract``).
"""

from __future__ import annotations

from conveyor.testing.records._automation import AutomationRecordsContract
from conveyor.testing.records._checks import CheckRecordsContract
from conveyor.testing.records._data import DatasetRecordsContract
from conveyor.testing.records._deployments import DeploymentRecordsContract
from conveyor.testing.records._monitoring import MonitoringRecordsContract
from conveyor.testing.records._predictions import PredictionRecordsContract
from conveyor.testing.records._registry import ModelRecordsContract
from conveyor.testing.records._security import TokenRecordsContract
from conveyor.testing.records._tracking import RunRecordsContract

__all__ = [
    "AutomationRecordsContract",
    "CheckRecordsContract",
    "DatasetRecordsContract",
    "DeploymentRecordsContract",
    "ModelRecordsContract",
    "MonitoringRecordsContract",
    "PredictionRecordsContract",
    "RunRecordsContract",
    "TokenRecordsContract",
]
