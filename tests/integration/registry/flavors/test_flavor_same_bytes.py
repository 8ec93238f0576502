"""One model, one set of bytes: a pipeline output and a registered version of the same
object hold the same file, and registering it twice gives the same content hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.artifacts import ArtifactStore
from conveyor.pipelines.materializers import save_value
from conveyor.registry import ModelRegistry
from conveyor.registry.flavors import get_flavor

RNG = np.random.default_rng(3)
X = pd.DataFrame(RNG.normal(size=(80, 3)), columns=["a", "b", "c"])
Y = (X["a"] + X["b"] > 0).astype(int).to_numpy()


@pytest.fixture(params=["sqlite"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite is enough here: the bytes are the flavor's concern, not the store's."""
    return f"sqlite:///{tmp_path / 'meta' / 'conveyor.db'}"


def _models() -> dict[str, object]:
    return {
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y),
        "forest": RandomForestClassifier(n_estimators=4, random_state=0).fit(X, Y),
    }


@pytest.mark.parametrize("name", ["pipeline", "forest"])
def test_the_flavor_and_the_materializer_write_byte_identical_skops_files(
    name: str, artifacts: ArtifactStore, tmp_path: Path
) -> None:
    model = _models()[name]
    saved = [get_flavor("sklearn").save(model, _empty(tmp_path / f"f{i}")) for i in range(2)]
    files = [(tmp_path / f"f{i}" / meta["file"]).read_bytes() for i, meta in enumerate(saved)]
    output = save_value(artifacts, model)
    assert files[0] == files[1] == artifacts.get_bytes(output.hash)


def test_registering_the_same_model_twice_gives_the_same_content_hash(
    registry: ModelRegistry,
) -> None:
    model = _models()["pipeline"]
    first = registry.register("churn", model, onnx=False, explain=False)
    second = registry.register("churn", model, onnx=False, explain=False)
    assert (first.version, second.version) == (1, 2)
    assert first.content_hash == second.content_hash


def _empty(folder: Path) -> Path:
    folder.mkdir()
    return folder
