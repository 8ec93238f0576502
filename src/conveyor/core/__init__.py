"""Small shared types with no conveyor dependencies: hashing, names, actors, time, plug-ins.

Everything here is pure and cheap to import; every other package may use it.
"""

from __future__ import annotations

from conveyor.core._actor import Actor
from conveyor.core._hashing import HASH_NAME, hash_bytes, hash_file, hash_json, is_hash
from conveyor.core._names import validate_name
from conveyor.core._plugins import PluginRegistry, class_path, import_object
from conveyor.core._progress import ProgressCallback, no_progress
from conveyor.core._time import isoformat, utcnow

__all__ = [
    "Actor",
    "HASH_NAME",
    "PluginRegistry",
    "ProgressCallback",
    "class_path",
    "hash_bytes",
    "hash_file",
    "hash_json",
    "import_object",
    "is_hash",
    "isoformat",
    "no_progress",
    "utcnow",
    "validate_name",
]
