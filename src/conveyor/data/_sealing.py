"""Sealing the sensitive values of a dataset profile before it reaches the database.

A profile carries real values of the data: each column's most frequent values (``top``)
and, for strings and dates, its smallest and largest value. With encryption at rest the
manifest (an encrypted artifact) keeps them as they are, and the copy in the metadata
database gets them sealed with the artifact store's field cipher, bound to the version
and column, so the database file holds none of them in plaintext. Reads open them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from conveyor.artifacts import ArtifactStore, FieldCipher, seal_profile, unseal_profile
from conveyor.artifacts._fields import is_sealed_profile
from conveyor.data._models import DatasetVersion

CipherSource = Callable[[], FieldCipher]
Sealer = Callable[[DatasetVersion], DatasetVersion]


def _owner(version: DatasetVersion) -> str:
    return f"dataset:{version.name}@{version.version}"


def sealer_for(artifacts: ArtifactStore) -> Sealer:
    """What turns a version into the one the records get: its profile sealed when
    ``artifacts`` encrypts at rest (the field cipher is loaded once), else unchanged."""
    if not artifacts.encrypts:
        return lambda version: version
    cipher = artifacts.field_cipher()

    def seal(version: DatasetVersion) -> DatasetVersion:
        if version.profile is None:
            return version
        return replace(version, profile=seal_profile(version.profile, cipher, _owner(version)))

    return seal


def unsealed(version: DatasetVersion, cipher: CipherSource) -> DatasetVersion:
    """``version`` with its profile's sealed statistics opened."""
    if not is_sealed_profile(version.profile):
        return version
    return replace(version, profile=unseal_profile(version.profile, cipher, _owner(version)))
