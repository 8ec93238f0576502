"""Errors raised by the workspace itself."""

from __future__ import annotations

from conveyor.errors import StoreError

__all__ = ["NoMetadataStoreError"]


class NoMetadataStoreError(StoreError):
    """The workspace has no metadata store of its own: its records are remote.

    Raised by what needs the database itself rather than the records (``ws.store``,
    artifact collection, key rotation, tuning's Optuna storage).
    """

    code = "no_metadata_store"
