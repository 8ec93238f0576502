"""The metadata store: conveyor's records in SQLite or PostgreSQL, with an audit chain.

This package owns the relational schema (typed SQLAlchemy 2 models and the Alembic
migrations that build them), opening a store by URL (:func:`open_store`), sessions for
reads, and audited write transactions: every :meth:`MetadataStore.write` appends one
hash-chained :class:`AuditEvent` in the same transaction as the change, and
:meth:`MetadataStore.verify_audit` proves the log was not altered. Adding a table: declare
its model on :class:`Base` in ``_<package>_models.py`` (``_models.py`` for the store's own
tables), import that module below, let only the owning package's SQL module import it (a
``forbidden`` contract in ``pyproject.toml``), then add a hand-written migration
``migrations/versions/NNNN_<topic>.py`` with ``revision = "NNNN"`` and ``down_revision`` set
to the previous newest revision, building the table with ``op.create_table`` (use
``op.batch_alter_table`` to change existing tables, which SQLite requires); name constraints
as :data:`NAMING_CONVENTION` does. The ``tests/integration/store`` suite checks that the
migrated schema matches the models, and ``open_store`` applies the new revision exactly once
per database.
"""

from __future__ import annotations

# Every table module is imported so ``Base.metadata`` holds the whole schema. The row
# classes are not exported: each belongs to one records package, whose SQL module alone may
# import it (import-linter contracts in pyproject.toml; docs/decisions/0014).
from conveyor.store import (  # noqa: F401
    _automation_models,
    _check_models,
    _data_models,
    _deployment_models,
    _feature_models,
    _monitoring_models,
    _prediction_models,
    _registry_models,
    _security_models,
    _tracking_models,
)
from conveyor.store._audit import GENESIS_HASH, AuditEvent, AuditVerification
from conveyor.store._audit_records import BaseAuditRecords, SqlAuditRecords
from conveyor.store._checkpoints import (
    AuditCheckpoint,
    AuditKeyError,
    CheckpointFileError,
    audit_public_key_text,
    load_audit_private_key,
    load_audit_public_key,
    read_checkpoint_file,
    write_checkpoint_file,
)
from conveyor.store._migrate import head_revision
from conveyor.store._models import NAMING_CONVENTION, Base, UTCDateTime
from conveyor.store._store import MetadataStore, WriteTx, open_store

__all__ = [
    "AuditCheckpoint",
    "AuditEvent",
    "AuditKeyError",
    "AuditVerification",
    "Base",
    "BaseAuditRecords",
    "CheckpointFileError",
    "GENESIS_HASH",
    "MetadataStore",
    "NAMING_CONVENTION",
    "SqlAuditRecords",
    "UTCDateTime",
    "WriteTx",
    "audit_public_key_text",
    "head_revision",
    "load_audit_private_key",
    "load_audit_public_key",
    "open_store",
    "read_checkpoint_file",
    "write_checkpoint_file",
]
