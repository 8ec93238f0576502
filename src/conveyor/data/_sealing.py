"""Sealing the sensitive values of a dataset profile before it reaches the database.

A profile carries real values of the data: each column's most frequent values (``top``)
and, for strings and dates, its smallest and largest value. With encryption at rest the
manifest (an encrypted artifact) keeps them as they are, and the copy in the metadata
database gets them sealed with the artifact store's field cipher, bound to the version
and column, so the database file holds none of them in plaintext. Reads open them again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from conveyor.artifacts import ArtifactStore
from conveyor.artifacts._fields import FieldCipher, is_sealed
from conveyor.data._models import DatasetVersion

CipherSource = Callable[[], FieldCipher]
Sealer = Callable[[dict[str, Any] | None, str], dict[str, Any] | None]


def sealer_for(artifacts: ArtifactStore) -> Sealer | None:
    """What seals profiles for the database: ``None`` unless encryption at rest is on."""
    if not artifacts.encrypts:
        return None
    cipher = artifacts.field_cipher()
    return lambda profile, owner: seal_profile(profile, cipher, owner)


def unsealed(version: DatasetVersion, cipher: CipherSource) -> DatasetVersion:
    """``version`` with its profile's sealed statistics opened."""
    if not is_sealed_profile(version.profile):
        return version
    owner = f"dataset:{version.name}@{version.version}"
    return replace(version, profile=unseal_profile(version.profile, cipher, owner))


def _context(owner: str, column: str, key: str) -> str:
    return f"{owner}:{column}:{key}"


def _sensitive(key: str, value: Any) -> bool:
    return key == "top" or (key in ("min", "max") and isinstance(value, str))


def seal_profile(
    profile: dict[str, Any] | None, cipher: FieldCipher, owner: str
) -> dict[str, Any] | None:
    """A copy of ``profile`` whose value-bearing statistics are sealed for ``owner``
    (``dataset:<name>@<version>``); counts, shares and numeric statistics stay readable."""
    if not profile:
        return profile
    sealed = copy.deepcopy(profile)
    for column, stats in (sealed.get("columns") or {}).items():
        for key, value in list(stats.items()):
            if _sensitive(key, value) and not is_sealed(value):
                stats[key] = cipher.seal(value, context=_context(owner, column, key))
    return sealed


def is_sealed_profile(profile: dict[str, Any] | None) -> bool:
    """True when some statistic of ``profile`` is sealed."""
    columns = (profile or {}).get("columns") or {}
    return any(is_sealed(v) for stats in columns.values() for v in stats.values())


def unseal_profile(
    profile: dict[str, Any] | None, cipher: CipherSource, owner: str
) -> dict[str, Any] | None:
    """``profile`` with its sealed statistics opened (the cipher is built only if needed).

    Raises:
        EncryptionKeyError: values are sealed and no (or another) master key is configured.
        IntegrityError: a sealed value was altered or copied from another field.
    """
    if not is_sealed_profile(profile):
        return profile
    assert profile is not None
    opened = copy.deepcopy(profile)
    field_cipher = cipher()
    for column, stats in opened["columns"].items():
        for key, value in list(stats.items()):
            if is_sealed(value):
                stats[key] = field_cipher.open(value, context=_context(owner, column, key))
    return opened
