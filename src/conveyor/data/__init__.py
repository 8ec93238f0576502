"""Data versioning: datasets as immutable, content-addressed versions with manifests.

This package owns ``conveyor data``: adding tables (CSV, Parquet, DataFrames, stored as
one canonical Parquet object with a statistical profile), single files and folders as
numbered versions of a named dataset; looking versions up, loading, diffing and checking
them out with every byte verified; pinning the versions a project uses in
``conveyor.lock``; and pushing and pulling them to and from a remote artifact store so
that a fresh clone can restore exactly the pinned bytes. Version records go through
:class:`BaseDatasetRecords` (:class:`SqlDatasetRecords` keeps them in
:mod:`conveyor.store`), bytes live in :mod:`conveyor.artifacts`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.data._base import BaseDatasetRecords
from conveyor.data._checkout import CHECKOUT_FORMATS, CheckoutFormat
from conveyor.data._dataset_registry import DatasetRegistry
from conveyor.data._diff import DatasetDiff
from conveyor.data._errors import (
    CheckoutConflictError,
    CheckoutFormatError,
    CheckoutPathError,
    DatasetVersionConflictError,
    NotATableError,
)
from conveyor.data._lock import LOCK_FILE, LockEntry, LockFile
from conveyor.data._manifest import manifest_bytes, manifest_hash
from conveyor.data._models import DatasetSummary, DatasetVersion, PullResult, PushResult
from conveyor.data._refs import DatasetRef, parse_dataset_ref
from conveyor.data._scan import AddStats
from conveyor.data._sql import SqlDatasetRecords

if TYPE_CHECKING:
    from typing import Any

    from conveyor.data._profile import compute_profile
    from conveyor.data._profile_stream import profile_table_file

__all__ = [
    "AddStats",
    "BaseDatasetRecords",
    "CHECKOUT_FORMATS",
    "CheckoutConflictError",
    "CheckoutFormat",
    "CheckoutFormatError",
    "CheckoutPathError",
    "DatasetDiff",
    "DatasetRef",
    "DatasetRegistry",
    "DatasetSummary",
    "DatasetVersion",
    "DatasetVersionConflictError",
    "LOCK_FILE",
    "LockEntry",
    "LockFile",
    "NotATableError",
    "PullResult",
    "PushResult",
    "SqlDatasetRecords",
    "compute_profile",
    "manifest_bytes",
    "manifest_hash",
    "parse_dataset_ref",
    "profile_table_file",
]


def __getattr__(name: str) -> Any:
    # The profiler imports pyarrow and NumPy: loaded when asked for, so that adding a
    # file or folder does not pay for them.
    if name == "compute_profile":
        from conveyor.data._profile import compute_profile

        return compute_profile
    if name == "profile_table_file":
        from conveyor.data._profile_stream import profile_table_file

        return profile_table_file
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
