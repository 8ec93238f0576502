"""Small shared types with no conveyor dependencies: hashing, names, actors, time, plug-ins,
and the load policy every loader of stored or imported models goes through.

Everything here is pure and cheap to import (the load policy imports skops and numpy only
when it checks a file); every other package may use it.
"""

from __future__ import annotations

from conveyor.core._actor import Actor
from conveyor.core._env import process_env, set_process_env
from conveyor.core._hashing import HASH_NAME, hash_bytes, hash_file, hash_json, is_hash
from conveyor.core._names import MAX_VERSION, validate_name, validate_version
from conveyor.core._plugins import PluginRegistry, class_path, import_object
from conveyor.core._process import pid_alive
from conveyor.core._progress import (
    PROGRESS_STATES,
    ProgressCallback,
    ProgressEvent,
    ProgressHook,
    no_progress,
)
from conveyor.core._redact import (
    REDACTED,
    RedactingFilter,
    is_secret_field,
    redact,
    redact_value,
)
from conveyor.core._resources import peak_rss_mb
from conveyor.core._time import isoformat, utcnow
from conveyor.core._trust import (
    LIGHTGBM_CLASSES,
    SKOPS_TRUSTED_TYPES,
    TORCH_CLASSES,
    XGBOOST_CLASSES,
    ArchiveLimitError,
    ArchiveLimits,
    LoadPolicyError,
    UnreadableArchiveError,
    UnsafePathError,
    UntrustedContentError,
    check_archive,
    check_class_path,
    check_model_class,
    imported_class,
    imported_subclass,
    is_project_class,
    load_skops,
    resolve_inside,
    skops_types,
    untrusted_types,
)

__all__ = [
    "Actor",
    "ArchiveLimitError",
    "ArchiveLimits",
    "HASH_NAME",
    "LIGHTGBM_CLASSES",
    "LoadPolicyError",
    "MAX_VERSION",
    "PROGRESS_STATES",
    "PluginRegistry",
    "ProgressCallback",
    "ProgressEvent",
    "ProgressHook",
    "REDACTED",
    "RedactingFilter",
    "SKOPS_TRUSTED_TYPES",
    "TORCH_CLASSES",
    "UnreadableArchiveError",
    "UnsafePathError",
    "UntrustedContentError",
    "XGBOOST_CLASSES",
    "check_archive",
    "check_class_path",
    "check_model_class",
    "class_path",
    "hash_bytes",
    "hash_file",
    "hash_json",
    "import_object",
    "imported_class",
    "imported_subclass",
    "is_hash",
    "is_project_class",
    "is_secret_field",
    "isoformat",
    "load_skops",
    "no_progress",
    "peak_rss_mb",
    "pid_alive",
    "process_env",
    "redact",
    "redact_value",
    "resolve_inside",
    "set_process_env",
    "skops_types",
    "untrusted_types",
    "utcnow",
    "validate_name",
    "validate_version",
]
