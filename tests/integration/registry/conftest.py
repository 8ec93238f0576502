"""Fixtures: a model registry on a fresh metadata store and a local artifact store."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conveyor.artifacts import ArtifactStore, open_artifact_store
from conveyor.core import Actor
from conveyor.registry import ModelRegistry, PreparedModel, prepare_files
from conveyor.store import MetadataStore, open_store


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    with open_store(metadata_url) as opened:
        yield opened


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return open_artifact_store(str(tmp_path / "artifacts"))


@pytest.fixture
def registry(store: MetadataStore, artifacts: ArtifactStore, tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(store, artifacts, actor=Actor("alice"), root=tmp_path)


def saved_model(
    artifacts: ArtifactStore, folder: Path, payload: bytes = b"weights"
) -> PreparedModel:
    """Store a model folder as the (flavor-free) "raw" flavor would have written it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.bin").write_bytes(payload)
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "extra.txt").write_text("extra")
    return prepare_files(
        artifacts,
        folder,
        flavor="raw",
        flavor_meta={"file": "model.bin"},
        signature={"inputs": [{"name": "x", "type": "double", "nullable": False}], "outputs": None},
        input_example={"x": [1.0, 2.0]},
    )


@pytest.fixture
def make_saved(artifacts: ArtifactStore, tmp_path: Path) -> Callable[[bytes], PreparedModel]:
    """A factory of stored flavor-free models, one fresh folder per call."""
    counter = itertools.count()
    return lambda payload=b"weights": saved_model(
        artifacts, tmp_path / f"saved{next(counter)}", payload
    )
