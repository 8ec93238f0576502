"""Turn an artifact-store URL into an :class:`ArtifactStore` over the right filesystem."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from conveyor.artifacts._keys import ENV_VAR, GENERATE_COMMAND, MasterKey
from conveyor.artifacts._store import ArtifactStore, StorageKind
from conveyor.errors import ConfigError, EncryptionKeyError

# Backends whose Python package is an optional extra of conveyor-ml.
_EXTRAS = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3")}


def open_artifact_store(
    url: str,
    *,
    storage_options: dict[str, Any] | None = None,
    master_key: MasterKey | None = None,
    encrypt: bool = False,
) -> ArtifactStore:
    """Open (creating if needed) the artifact store at ``url``.

    Args:
        url: An absolute local folder (``/data/artifacts`` or ``file:///data/artifacts``),
            ``memory://name`` (for tests), ``s3://bucket/prefix`` or another fsspec URL.
        storage_options: Passed to the fsspec filesystem (credentials, ``endpoint_url``).
        master_key: Key for encrypted objects; with it, encrypted objects can be read even
            when ``encrypt`` is off.
        encrypt: Encrypt new objects at rest (needs ``master_key``).

    Raises:
        ConfigError: the URL is relative, unknown, or its backend is not installed.
        EncryptionKeyError: ``encrypt`` without ``master_key``.

    Example:
        >>> store = open_artifact_store("memory://doc-example")
        >>> store.get_bytes(store.put_bytes(b"hi").hash)
        b'hi'
    """
    if encrypt and master_key is None:
        raise EncryptionKeyError(
            f"Encryption is on for the artifact store {url}, but no master key is configured.",
            hint=f"Set {ENV_VAR} to 64 hex digits (generate one with: {GENERATE_COMMAND}), "
            "or turn artifact encryption off.",
            url=url,
        )
    options = dict(storage_options or {})
    fs, root, kind = _filesystem(url, options)
    return ArtifactStore(
        fs, root, url=url.rstrip("/"), kind=kind, master_key=master_key, encrypt=encrypt
    )


def _filesystem(url: str, options: dict[str, Any]) -> tuple[Any, str, StorageKind]:
    import fsspec

    protocol, sep, rest = url.partition("://")
    if not sep or protocol == "file":
        path = rest if sep else url
        if not os.path.isabs(path):
            raise ConfigError(
                f"Artifact store path {url!r} is not absolute.",
                hint="Use an absolute folder path, e.g. /srv/conveyor/artifacts.",
                url=url,
            )
        folder = Path(path).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return fsspec.filesystem("file", **options), folder.as_posix(), "local"
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ImportError as exc:
        module, extra = _EXTRAS.get(protocol, (protocol, None))
        install = f"pip install 'conveyor-ml[{extra}]'" if extra else "install its fsspec backend"
        raise ConfigError(
            f"Artifact store {url!r} needs the Python package {module!r}, which is not installed.",
            hint=f"Run: {install}",
            url=url,
            package=module,
        ) from exc
    except ValueError as exc:
        raise ConfigError(
            f"Artifact store {url!r} uses an unknown protocol {protocol!r}.",
            hint="Use an absolute folder, file://, s3:// or memory:// URL.",
            url=url,
        ) from exc
    fs = cls(**options)
    root = str(cls._strip_protocol(url)).rstrip("/")
    kind: StorageKind = "memory" if protocol == "memory" else "remote"
    return fs, root, kind
