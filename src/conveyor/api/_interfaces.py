"""The records interfaces the control plane serves, with the SQL implementation of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conveyor.automation import BaseAutomationRecords, SqlAutomationRecords
from conveyor.checks import BaseCheckRecords, SqlCheckRecords
from conveyor.data import BaseDatasetRecords, SqlDatasetRecords
from conveyor.deployments import BaseDeploymentRecords, SqlDeploymentRecords
from conveyor.monitoring import BaseMonitoringRecords, SqlMonitoringRecords
from conveyor.predictions import BasePredictionRecords, SqlPredictionRecords
from conveyor.registry import BaseModelRecords, SqlModelRecords
from conveyor.remote import interface_name
from conveyor.security import BaseTokenRecords, SqlTokenRecords
from conveyor.store import BaseAuditRecords, MetadataStore, SqlAuditRecords
from conveyor.tracking import BaseRunRecords, SqlRunRecords


@dataclass(frozen=True)
class Interface:
    """A records interface and how the server builds its SQL implementation."""

    base: type[Any]
    sql: Callable[[MetadataStore], Any]

    @property
    def name(self) -> str:
        """The interface's name in routes (``run`` for ``BaseRunRecords``)."""
        return interface_name(self.base)


#: Every records interface a remote workspace reaches through the control plane.
INTERFACES: tuple[Interface, ...] = (
    Interface(BaseAuditRecords, SqlAuditRecords),
    Interface(BaseAutomationRecords, SqlAutomationRecords),
    Interface(BaseCheckRecords, SqlCheckRecords),
    Interface(BaseDatasetRecords, SqlDatasetRecords),
    Interface(BaseDeploymentRecords, SqlDeploymentRecords),
    Interface(BaseModelRecords, SqlModelRecords),
    Interface(BaseMonitoringRecords, SqlMonitoringRecords),
    Interface(BasePredictionRecords, SqlPredictionRecords),
    Interface(BaseRunRecords, SqlRunRecords),
    Interface(BaseTokenRecords, SqlTokenRecords),
)
