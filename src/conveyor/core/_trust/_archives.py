"""Archives bounded before they are inflated, and skops files loaded by exact type name."""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from conveyor.core._trust._errors import (
    ArchiveLimitError,
    LoadPolicyError,
    UnreadableArchiveError,
    UntrustedContentError,
)
from conveyor.core._trust._lists import SKOPS_TRUSTED_TYPES
from conveyor.core._trust._skops import (
    exact_names,
    is_default_estimator,
    named_types,
    skops_io,
)

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_SCHEMA = "schema.json"


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds checked on an archive before anything in it is inflated.

    Attributes:
        max_bytes: Total declared uncompressed size of all members.
        max_members: Number of members (nested archives count theirs too).
        max_ratio: Largest compression ratio of a member bigger than ``ratio_floor``.
        ratio_floor: Members up to this size are not ratio-checked (small files of
            zeros compress extremely well and are harmless).
        max_nodes: Objects described by a skops schema.
        max_depth: Nesting depth of a skops schema.
    """

    max_bytes: int = 1 << 30
    max_members: int = 100_000
    max_ratio: float = 200.0
    ratio_floor: int = 1 << 20
    max_nodes: int = 2_000_000
    max_depth: int = 200


def untrusted_types(
    named: Iterable[str], allowed: Collection[str] = SKOPS_TRUSTED_TYPES
) -> list[str]:
    """The names in ``named`` that are not exactly in ``allowed``, sorted.

    Example:
        >>> untrusted_types(["sklearn.tree._tree.Tree", "numpy.testing.runstring"])
        ['numpy.testing.runstring']
    """
    return sorted({str(name) for name in named} - set(allowed))


def check_archive(data: bytes, *, source: str, limits: ArchiveLimits | None = None) -> None:
    """Refuse a zip archive that would inflate past ``limits``, reading only headers.

    Checks the member count, the total declared size, each large member's compression
    ratio, the array sizes numpy ``.npy`` headers claim against their member's size, and
    nested archives (a scipy ``.npz`` inside a skops file) the same way.

    Raises:
        ArchiveLimitError: A limit is exceeded; the message names it and the value.
        UnreadableArchiveError: ``data`` is not a readable zip archive.
    """
    _check_zip(data, source=source, limits=limits or ArchiveLimits(), nested=False)


def _check_zip(data: bytes, *, source: str, limits: ArchiveLimits, nested: bool) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_totals(infos, source=source, limits=limits)
            for info in infos:
                head = _member_head(archive, info)
                if head.startswith(_NPY_MAGIC):
                    _check_npy(head, info, source=source)
                elif head.startswith(_ZIP_MAGIC):
                    if nested:
                        raise ArchiveLimitError(
                            f"{source} nests archives more than one level deep "
                            f"(member {info.filename!r}).",
                            hint="Nothing was loaded. The file was crafted; do not load it.",
                            limit="nesting",
                            value=2,
                        )
                    inner = archive.read(info)  # bounded by the totals checked above
                    _check_zip(
                        inner, source=f"{source}:{info.filename}", limits=limits, nested=True
                    )
    except LoadPolicyError:
        raise
    except Exception as exc:  # zipfile reports crafted headers with many exception types
        raise _unreadable(source, exc) from exc


def _check_totals(infos: list[zipfile.ZipInfo], *, source: str, limits: ArchiveLimits) -> None:
    if len(infos) > limits.max_members:
        raise ArchiveLimitError(
            f"{source} has {len(infos)} members, more than the limit of {limits.max_members}.",
            hint="Nothing was loaded. Raise ArchiveLimits.max_members only for a file you trust.",
            limit="max_members",
            value=len(infos),
        )
    total = sum(info.file_size for info in infos)
    if total > limits.max_bytes:
        raise ArchiveLimitError(
            f"{source} would inflate to {total} bytes, more than the limit of "
            f"{limits.max_bytes} bytes (max_bytes).",
            hint="Nothing was loaded. Raise ArchiveLimits.max_bytes only for a file you trust.",
            limit="max_bytes",
            value=total,
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor and ratio > limits.max_ratio:
            raise ArchiveLimitError(
                f"{source} member {info.filename!r} inflates {info.compress_size} bytes to "
                f"{info.file_size} (ratio {ratio:.0f}), more than the limit of "
                f"{limits.max_ratio:.0f} (max_ratio): a decompression bomb.",
                hint="Nothing was loaded. The file was crafted or is damaged; do not load it.",
                limit="max_ratio",
                value=ratio,
            )


def _member_head(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with archive.open(info) as handle:
        return handle.read(4096)


def _check_npy(head: bytes, info: zipfile.ZipInfo, *, source: str) -> None:
    """A numpy header must not claim more data than its member holds."""
    from numpy.lib import format as npy

    stream = io.BytesIO(head)
    try:
        version = npy.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = npy.read_array_header_1_0(stream, max_header_size=4000)
        else:
            shape, _, dtype = npy.read_array_header_2_0(stream, max_header_size=4000)
    except Exception as exc:  # numpy parses the header dict with ast: many failure types
        raise _unreadable(f"{source}:{info.filename}", exc) from exc
    claimed = math.prod(int(n) for n in shape) * int(dtype.itemsize)
    if claimed > info.file_size:
        raise ArchiveLimitError(
            f"{source} member {info.filename!r} claims an array of {claimed} bytes "
            f"(shape {tuple(shape)}) but holds {info.file_size} bytes.",
            hint="Nothing was loaded. The file was crafted or is damaged; do not load it.",
            limit="array_size",
            value=claimed,
        )


def _unreadable(source: str, exc: BaseException) -> UnreadableArchiveError:
    return UnreadableArchiveError(
        f"{source} is not a readable archive: {exc or type(exc).__name__}.",
        hint="The stored model is damaged or was not written by conveyor; register it again.",
        source=source,
    )


def _check_schema(data: bytes, *, source: str, limits: ArchiveLimits) -> None:
    """Parse skops' ``schema.json`` and bound its node count and depth."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read(_SCHEMA).decode("utf-8"))
    except Exception as exc:  # no member, bad JSON or UTF-8, absurd nesting, ...
        raise _unreadable(source, exc) from exc
    if not isinstance(schema, dict):
        raise _unreadable(source, ValueError("schema.json does not describe an object"))
    nodes = 0
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limits.max_depth:
            raise ArchiveLimitError(
                f"{source} nests objects deeper than the limit of {limits.max_depth} (max_depth).",
                hint="Nothing was loaded. The file was crafted or is damaged; do not load it.",
                limit="max_depth",
                value=depth,
            )
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, dict | list):
                nodes += 1
                stack.append((child, depth + 1))
        if nodes > limits.max_nodes:
            raise ArchiveLimitError(
                f"{source} describes more than {limits.max_nodes} objects (max_nodes).",
                hint="Nothing was loaded. Raise ArchiveLimits.max_nodes only for a file you trust.",
                limit="max_nodes",
                value=nodes,
            )


def skops_types(data: bytes, *, source: str, limits: ArchiveLimits | None = None) -> list[str]:
    """Every type a skops archive names beyond skops' defaults, after the archive checks.

    Raises:
        ArchiveLimitError: The archive exceeds ``limits``.
        UnreadableArchiveError: It is not a skops archive skops can read.
    """
    _, beyond = _named(data, source=source, limits=limits, allowed=SKOPS_TRUSTED_TYPES)
    return beyond


def _named(
    data: bytes, *, source: str, limits: ArchiveLimits | None, allowed: Collection[str]
) -> tuple[list[str], list[str]]:
    """The types a checked archive names that skops must be told to trust, and those of
    them beyond skops' defaults.

    Whether a name is a public scikit-learn estimator skops trusts by default is decided
    only for names outside ``allowed``: the names on the exact lists are not estimators.
    """
    limits = limits or ArchiveLimits()
    check_archive(data, source=source, limits=limits)
    _check_schema(data, source=source, limits=limits)
    try:
        named = named_types(data)
    except Exception as exc:
        raise _unreadable(source, exc) from exc
    return named, [name for name in named if name in allowed or not is_default_estimator(name)]


def load_skops(
    data: bytes,
    *,
    source: str,
    trusted: bool = False,
    allowed: Collection[str] = SKOPS_TRUSTED_TYPES,
    limits: ArchiveLimits | None = None,
) -> Any:
    """Rebuild the object in a skops archive under the load policy.

    Args:
        data: The archive's bytes (read once, so what is checked is what is loaded).
        source: A name for messages (a file name, never its content).
        trusted: Load whatever types it names (only for a version registered trusted).
        allowed: Types trusted beyond skops' defaults, by exact name.
        limits: Bounds checked before anything is inflated.

    Returns:
        The rebuilt object.

    Raises:
        UntrustedContentError: It names types outside ``allowed`` and ``trusted`` is
            false; ``fields["types"]`` lists them. Nothing was built.
        ArchiveLimitError: It exceeds ``limits`` (checked even when trusted).
        UnreadableArchiveError: It is not a readable skops archive.

    Example:
        >>> import skops.io as sio
        >>> from sklearn.preprocessing import StandardScaler
        >>> type(load_skops(sio.dumps(StandardScaler()), source="x.skops")).__name__
        'StandardScaler'
    """
    named, beyond = _named(data, source=source, limits=limits, allowed=allowed)
    refused = untrusted_types(beyond, allowed)
    if refused and not trusted:
        raise UntrustedContentError(
            f"Refusing to load {source}: it names types outside the trusted list: "
            f"{', '.join(refused)}.",
            hint="Nothing was loaded. Register the model again from code you trust, or "
            "mark the version trusted only if you trust its author.",
            source=source,
            types=refused,
        )
    sio = skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        # Exactly the names this file uses, each already checked above; skops' own list
        # of estimators counts for nothing here, so it is never made.
        with exact_names():
            return sio.loads(data, trusted=named)
    except UntrustedTypesFoundException as exc:
        raise UntrustedContentError(
            f"Refusing to load {source}: skops found untrusted types: {exc}.",
            hint="Nothing was loaded. The file was crafted; do not load it.",
            source=source,
            types=refused,
        ) from exc
    except Exception as exc:
        raise _unreadable(source, exc) from exc
