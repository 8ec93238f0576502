"""Version manifests: the canonical JSON document whose hash identifies a dataset version.

A manifest lists every file of a version (relative path -> content hash and size) with the
version's schema, profile, parent link and provenance. It is stored in the artifact store
like any object, so its hash is the version's ``content_hash``; push and pull move
manifests, and a fresh clone rebuilds its metadata records from them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from conveyor.core import hash_bytes, is_hash, validate_name
from conveyor.errors import IntegrityError, InvalidNameError

MANIFEST_FORMAT = 1
KINDS = ("table", "file", "folder")


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """Canonical encoding: sorted keys, no whitespace, UTF-8, no NaN.

    Equal manifests give equal bytes whatever their key order, so the hash is stable.
    """
    text = json.dumps(
        manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def manifest_hash(manifest: Mapping[str, Any]) -> str:
    """The content hash of a manifest (BLAKE3 of its canonical bytes)."""
    return hash_bytes(manifest_bytes(manifest))


def check_relpath(relpath: object) -> str:
    """Return ``relpath`` if it is a safe relative POSIX path, else raise.

    Manifests may arrive from a remote, so a path is checked before it is joined to a
    destination folder: no absolute paths, ``..``, ``.``, empty parts, backslashes or NUL.

    Raises:
        IntegrityError: naming the offending path.
    """
    if isinstance(relpath, str) and _is_safe(relpath):
        return relpath
    raise IntegrityError(
        f"Unsafe file path {relpath!r} in a dataset manifest: paths must be relative "
        "and stay inside the dataset.",
        hint="The manifest was not written by conveyor or was altered; do not use it.",
        path=repr(relpath),
    )


def _is_safe(relpath: str) -> bool:
    if not relpath or "\\" in relpath or "\x00" in relpath or relpath.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in relpath.split("/"))


def parse_manifest(data: bytes, expected_hash: str) -> dict[str, Any]:
    """Decode and check a manifest fetched by hash.

    Raises:
        IntegrityError: The bytes do not hash to ``expected_hash``, are not a manifest of
            format 1, or hold an unsafe path or bad hash.
    """
    actual = hash_bytes(data)
    if actual != expected_hash:
        raise IntegrityError(
            f"Manifest {expected_hash} has content hash {actual}.",
            hint="The stored object is corrupt; fetch it again with `conveyor data pull`.",
            hash=expected_hash,
            actual=actual,
        )
    try:
        manifest = json.loads(data.decode("utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError("not a format-1 manifest object")
        validate_name(manifest["name"], kind="dataset name")
        version = manifest["version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(f"bad version {version!r}")
        if manifest["kind"] not in KINDS:
            raise ValueError(f"bad kind {manifest['kind']!r}")
        files = manifest["files"]
        if not isinstance(files, dict):
            raise ValueError("'files' is not an object")
        _check_entries(files)
        original_of(manifest)
        parent = manifest.get("parent")
        if parent is not None:
            number = parent["version"]
            if not is_hash(parent["content_hash"]):
                raise ValueError("bad parent content hash")
            if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < version:
                raise ValueError(f"bad parent version {number!r}")
    except (ValueError, KeyError, TypeError, InvalidNameError) as exc:
        raise IntegrityError(
            f"Object {expected_hash} is not a valid dataset manifest: {exc}.",
            hint="Check that the content hash names a dataset version (see "
            "`conveyor data log <name>`).",
            hash=expected_hash,
        ) from exc
    return manifest


def _check_entries(files: Mapping[str, Any]) -> None:
    for relpath, entry in files.items():
        check_relpath(relpath)
        if not isinstance(entry, dict) or not is_hash(entry["hash"]) or not _is_size(entry["size"]):
            raise ValueError(f"bad entry for {relpath!r}")


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def original_of(manifest: Mapping[str, Any]) -> tuple[str, str, int] | None:
    """``(file name, hash, size)`` of the file a table was added from, or ``None``.

    Tables added from a CSV or Parquet file keep those exact bytes next to the canonical
    Parquet object (manifest key ``original``), so a checkout restores the file as it
    was added. Tables from DataFrames, and versions recorded before this key existed,
    have none.

    Raises:
        ValueError: the entry is malformed (its name must be one safe path component).
    """
    entry = manifest.get("original")
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ValueError("'original' is not an object")
    name, digest, size = entry.get("name"), entry.get("hash"), entry.get("size")
    if (
        not isinstance(name, str)
        or "/" in name
        or not isinstance(digest, str)
        or not is_hash(digest)
        or not isinstance(size, int)
        or not _is_size(size)
    ):
        raise ValueError(f"bad 'original' entry {entry!r:.120}")
    check_relpath(name)
    return name, digest, size


def object_hashes(manifest: Mapping[str, Any]) -> set[str]:
    """Every data object a version references: its files and, for tables, the original."""
    hashes = {h for h, _ in files_of(manifest).values()}
    original = original_of(manifest)
    if original is not None:
        hashes.add(original[1])
    return hashes


def files_of(manifest: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
    """``relpath -> (hash, size)`` of a manifest."""
    return {rel: (e["hash"], int(e["size"])) for rel, e in manifest["files"].items()}
