"""The metadata store: conveyor's records in SQLite or PostgreSQL, with an audit chain.

This package owns the relational schema (typed SQLAlchemy 2 models and the Alembic
migrations that build them), opening a store by URL (:func:`open_store`), sessions for
reads, and audited write transactions: every :meth:`MetadataStore.write` appends one
hash-chained :class:`AuditEvent` in the same transaction as the change, and
:meth:`MetadataStore.verify_audit` proves the log was not altered. Adding a table: declare
its model on :class:`Base` in the owning package's module (or ``_models.py`` for store-wide
tables), then add a hand-written migration ``migrations/versions/NNNN_<topic>.py`` with
``revision = "NNNN"`` and ``down_revision`` set to the previous newest revision, building
the table with ``op.create_table`` (use ``op.batch_alter_table`` to change existing tables,
which SQLite requires); name constraints as :data:`NAMING_CONVENTION` does. The
``tests/integration/store`` suite checks that the migrated schema matches the models, and
``open_store`` applies the new revision exactly once per database.
"""

from __future__ import annotations

from conveyor.store._audit import GENESIS_HASH, AuditEvent, AuditVerification
from conveyor.store._automation_models import (
    AgentLeaseRow,
    AutomationEventRow,
    TriggerStateRow,
)
from conveyor.store._check_models import CheckResultRow, DataSchemaRow, GateDecisionRow
from conveyor.store._deployment_models import DeploymentRow, DeploymentTransitionRow
from conveyor.store._migrate import head_revision
from conveyor.store._models import (
    NAMING_CONVENTION,
    ArtifactRefRow,
    AuditEventRow,
    Base,
    DatasetRow,
    DatasetVersionRow,
    UTCDateTime,
)
from conveyor.store._monitoring_models import AlertRow, MonitoringReportRow
from conveyor.store._prediction_models import FeedbackRow, PredictionBatchRow
from conveyor.store._registry_models import (
    ModelAliasEventRow,
    ModelAliasRow,
    ModelRow,
    ModelVersionRow,
)
from conveyor.store._store import MetadataStore, WriteTx, open_store
from conveyor.store._tracking_models import (
    RunArtifactRow,
    RunDatasetRow,
    RunMetricRow,
    RunOutputRow,
    RunRow,
)

__all__ = [
    "AgentLeaseRow",
    "AlertRow",
    "ArtifactRefRow",
    "AuditEvent",
    "AuditEventRow",
    "AuditVerification",
    "AutomationEventRow",
    "Base",
    "CheckResultRow",
    "DataSchemaRow",
    "DatasetRow",
    "DatasetVersionRow",
    "DeploymentRow",
    "DeploymentTransitionRow",
    "FeedbackRow",
    "GENESIS_HASH",
    "GateDecisionRow",
    "MetadataStore",
    "ModelAliasEventRow",
    "ModelAliasRow",
    "ModelRow",
    "ModelVersionRow",
    "MonitoringReportRow",
    "NAMING_CONVENTION",
    "PredictionBatchRow",
    "RunArtifactRow",
    "RunDatasetRow",
    "RunMetricRow",
    "RunOutputRow",
    "RunRow",
    "TriggerStateRow",
    "UTCDateTime",
    "WriteTx",
    "head_revision",
    "open_store",
]
