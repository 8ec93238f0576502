"""Sealing a version's input example and descriptions before they reach the records.

An input example holds real rows of data and a description may say more than it should;
both live in the metadata database, not in the artifact store. With encryption at rest
they are sealed with the artifact store's field cipher (see ``conveyor.artifacts``),
bound to the model and the version's content hash (the version number is given by the
records backend only as it writes, so it cannot be bound), and opened again on every
read. Rotating the master key re-wraps the field key only: sealed values stay valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from conveyor.artifacts import ArtifactStore, FieldCipher
from conveyor.artifacts._fields import is_sealed
from conveyor.registry._models import ModelSummary, ModelVersion

CipherSource = Callable[[], FieldCipher]


def version_context(name: str, content_hash: str, field: str) -> str:
    """The sealing context of a version field (``model:<name>:<content_hash>:<field>``)."""
    return f"model:{name}:{content_hash}:{field}"


def model_context(name: str) -> str:
    """The sealing context of a model's own description (``model:<name>:description``)."""
    return f"model:{name}:description"


class Sealer:
    """Seals the sensitive fields of new records and opens them on read.

    Sealing happens only when the artifact store encrypts; opening happens whenever a
    value is sealed (so a workspace that turned encryption off still reads its records).

    Args:
        artifacts: The artifact store whose field cipher is used.
    """

    def __init__(self, artifacts: ArtifactStore) -> None:
        self._artifacts = artifacts

    def _cipher(self) -> FieldCipher | None:
        return self._artifacts.field_cipher() if self._artifacts.encrypts else None

    def seal_fields(
        self, name: str, content_hash: str, input_example: Any, description: str | None
    ) -> tuple[Any, str | None, str | None]:
        """``(input_example, description, model_description)`` as they are to be stored."""
        cipher = self._cipher()
        if cipher is None:
            return input_example, description, description
        example = (
            None
            if input_example is None
            else cipher.seal(
                input_example, context=version_context(name, content_hash, "input_example")
            )
        )
        if description is None:
            return example, None, None
        return (
            example,
            cipher.seal(description, context=version_context(name, content_hash, "description")),
            cipher.seal(description, context=model_context(name)),
        )

    def open_version(self, version: ModelVersion) -> ModelVersion:
        """``version`` with its sealed input example and description opened.

        Raises:
            EncryptionKeyError: values are sealed and no (or another) master key is set.
            IntegrityError: a sealed value was altered or copied from another field.
        """
        if not (is_sealed(version.input_example) or is_sealed(version.description)):
            return version
        cipher = self._artifacts.field_cipher()
        name, digest = version.name, version.content_hash
        example, description = version.input_example, version.description
        if is_sealed(example):
            example = cipher.open(example, context=version_context(name, digest, "input_example"))
        if description is not None and is_sealed(description):
            description = cipher.open(
                description, context=version_context(name, digest, "description")
            )
        return replace(version, input_example=example, description=description)

    def open_summary(self, summary: ModelSummary) -> ModelSummary:
        """``summary`` with its sealed description opened."""
        if summary.description is None or not is_sealed(summary.description):
            return summary
        cipher = self._artifacts.field_cipher()
        opened = cipher.open(summary.description, context=model_context(summary.name))
        return replace(summary, description=opened)
