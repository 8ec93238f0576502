"""Copying one model version, with its number, into another workspace's registry.

A serving image holds a minimal project with exactly the version it serves; the copy
keeps what identifies the version (name, number, flavor, content hash, signature, input
example, lineage, gate decision, signatures) so that ``conveyor serve --model NAME@V``
works there unchanged. The files are copied object by object, each one read verified
against its hash and stored under the same hash; the record is written as one audited
``model.import`` transaction that references every object, like a registration. Only a
registry whose model has no version at or above the copied number accepts it, so numbers
never clash (versions below it are simply absent from the target). Signatures are copied
as they are: they cover name, number, content hash and objects, which the copy keeps, so
they verify in the target too.
"""

from __future__ import annotations

from conveyor.errors import IntegrityError
from conveyor.registry._errors import TransferError
from conveyor.registry._model_registry import ModelRegistry
from conveyor.registry._models import ModelVersion
from conveyor.registry._refs import ModelRef
from conveyor.registry._signing import NewSignature, manifest_objects
from conveyor.registry._sql import SqlModelRecords

__all__ = ["copy_version"]


def copy_version(source: ModelRegistry, ref: str | ModelRef, target: ModelRegistry) -> ModelVersion:
    """Copy the version ``ref`` of ``source`` into ``target`` under the same name and number.

    Args:
        source: The registry to read from.
        ref: The version (``churn@3``, ``churn@champion``).
        target: A local registry (SQL records) whose model has no version numbered at or
            above the copied one; typically one just created.

    Returns:
        The version as ``target`` now holds it (no aliases).

    Raises:
        TransferError: either workspace encrypts at rest (the copy would hold the model's
            files and input example in clear, or need the master key), ``target`` is not a
            local SQL registry, or it already has a version at or above the number.
        IntegrityError: a file does not match its recorded hash.
        ModelNotFoundError, ModelVersionNotFoundError, AliasNotFoundError: unknown ref.

    Example:
        >>> copy_version(ws.models, "churn@champion", image_ws.models).ref  # doctest: +SKIP
        'churn@4'
    """
    version = source.get(ref)
    for side, registry in (("source", source), ("target", target)):
        if registry.artifacts.encrypts:
            raise TransferError(
                f"Cannot copy {version.ref}: the {side} workspace encrypts its artifacts at "
                "rest, and a copy cannot keep them sealed without carrying the master key.",
                hint="Build from a workspace without store.encryption, or serve the model "
                "from the encrypted workspace itself (`conveyor serve`).",
                model=version.name,
                version=version.version,
            )
    records = target.records
    if not isinstance(records, SqlModelRecords):
        raise TransferError(
            f"Cannot copy {version.ref} into {records!r}: only a local metadata store takes a "
            "version with a given number.",
            hint="Copy into a local workspace (a folder with conveyor.yaml).",
            model=version.name,
        )
    objects = _copy_objects(source, target, version)
    copied = records.import_version(target.actor, version, objects)
    exact = ModelRef(version.name, version=version.version)
    for signature in source.signatures(exact):
        records.add_signature(
            target.actor,
            exact,
            NewSignature(
                key_name=signature.key_name,
                public_key=signature.public_key,
                signature=signature.signature,
                statement_hash=signature.statement_hash,
            ),
        )
    return copied


def _copy_objects(source: ModelRegistry, target: ModelRegistry, version: ModelVersion) -> list[str]:
    """Copy the manifest and every file it lists (twin included); return their hashes."""
    objects = manifest_objects(version.content_hash, source.manifest(version))
    with target.artifacts.deferred_sync():
        for digest in objects:
            data = source.artifacts.get_bytes(digest)  # raises IntegrityError on a mismatch
            stored = target.artifacts.put_bytes(data).hash
            if stored != digest:
                raise IntegrityError(
                    f"Object {digest} of {version.ref} was stored as {stored}: the two "
                    "workspaces hash differently.",
                    hint="Copy between workspaces of the same conveyor release.",
                    hash=digest,
                )
    return objects
