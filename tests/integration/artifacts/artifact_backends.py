"""Backends for the artifact-store tests: a local folder, memory:// and S3 (moto).

Each backend opens stores by URL exactly as users do, and can reach the stored bytes
directly (to damage them) through its own fsspec filesystem.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import fsspec
import pytest

from conveyor.artifacts import ArtifactStore, MasterKey, open_artifact_store


@dataclass
class Backend:
    """One place to keep artifacts, plus raw access to what is stored there."""

    name: str
    url: str
    options: dict[str, Any]
    encrypt: bool
    key: MasterKey | None = None
    fs: Any = field(init=False)
    root: str = field(init=False)

    def __post_init__(self) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **self.options)

    def open(self, **kwargs: Any) -> ArtifactStore:
        """Open the store as configured (encryption on if the backend says so)."""
        kwargs.setdefault("master_key", self.key)
        kwargs.setdefault("encrypt", self.encrypt)
        return open_artifact_store(self.url, storage_options=self.options, **kwargs)

    def object_path(self, digest: str) -> str:
        return f"{self.root.rstrip('/')}/objects/{digest[:2]}/{digest[2:]}"

    def read_raw(self, digest: str) -> bytes:
        return bytes(self.fs.cat_file(self.object_path(digest)))

    def write_raw(self, digest: str, data: bytes) -> None:
        self.fs.pipe_file(self.object_path(digest), data)
        self.fs.invalidate_cache()

    def damage(self, digest: str, change: Callable[[bytes], bytes]) -> None:
        """Replace the stored bytes of ``digest`` by ``change(stored)``."""
        self.write_raw(digest, change(self.read_raw(digest)))

    def make_old(self, digest: str) -> timedelta:
        """Age an object for gc; returns the grace to use so it counts as old.

        Local files get their mtime set back two hours; S3 and memory cannot be
        backdated, so the returned grace is zero.
        """
        if self.name.startswith("local"):
            old = (Path(self.object_path(digest)).stat().st_mtime) - 7200
            os.utime(self.object_path(digest), (old, old))
            return timedelta(hours=1)
        return timedelta(0)


def flip_byte(offset: int) -> Callable[[bytes], bytes]:
    """A damage that flips the bits of one byte (negative offsets count from the end)."""

    def change(data: bytes) -> bytes:
        out = bytearray(data)
        out[offset] ^= 0xFF
        return bytes(out)

    return change


def make_backend(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> Iterator[Backend]:
    encrypt = name.endswith("-encrypted")
    key = MasterKey.generate() if encrypt else None
    if name.startswith("local"):
        yield Backend(name, str(tmp_path / "artifacts"), {}, encrypt, key)
    elif name.startswith("memory"):
        backend = Backend(name, f"memory://conveyor-test-{uuid.uuid4().hex}", {}, encrypt, key)
        try:
            yield backend
        finally:
            if backend.fs.exists(backend.root):
                backend.fs.rm(backend.root, recursive=True)
    else:
        url, options = request.getfixturevalue("s3_bucket")
        yield Backend(name, url, dict(options), encrypt, key)
