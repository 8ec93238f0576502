"""Fixtures of the artifact-store tests: every backend, plain and encrypted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from artifact_backends import Backend, make_backend

_PLAIN = ["local", "memory", "s3"]
_ENCRYPTED = ["local-encrypted", "s3-encrypted"]


@pytest.fixture(params=_PLAIN + _ENCRYPTED)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Every built-in backend, plain and (local, S3) with encryption at rest."""
    yield from make_backend(request, tmp_path, str(request.param))


@pytest.fixture(params=_ENCRYPTED)
def encrypted_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The backends that encrypt at rest."""
    yield from make_backend(request, tmp_path, str(request.param))


@pytest.fixture
def local_backend(tmp_path: Path) -> Backend:
    """A plain local-folder store."""
    return Backend("local", str(tmp_path / "artifacts"), {}, encrypt=False)
