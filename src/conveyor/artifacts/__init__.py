"""Content-addressed artifact storage: immutable blobs named by the BLAKE3 hash of their content.

This package owns where artifacts live (a local folder, S3 or any fsspec filesystem), how
they get there atomically, and how every read is verified against its hash so that corrupt
or tampered bytes are never returned. Identical content is stored once. Optional envelope
encryption (AES-256-GCM data keys wrapped by a :class:`MasterKey`) is a layer inside the
store, invisible to callers: hashes are always of the plaintext.
"""

from __future__ import annotations

from conveyor.artifacts._fields import FieldCipher, seal_profile, unseal_profile
from conveyor.artifacts._hashing import hash_file_bounded
from conveyor.artifacts._keys import MasterKey
from conveyor.artifacts._linking import LINK_MODES, LinkMode
from conveyor.artifacts._objects import GcResult, ObjectInfo
from conveyor.artifacts._open import open_artifact_store
from conveyor.artifacts._store import ArtifactStore

__all__ = [
    "ArtifactStore",
    "FieldCipher",
    "GcResult",
    "LINK_MODES",
    "LinkMode",
    "MasterKey",
    "ObjectInfo",
    "hash_file_bounded",
    "open_artifact_store",
    "seal_profile",
    "unseal_profile",
]
