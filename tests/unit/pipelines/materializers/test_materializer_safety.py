"""Loading never runs code named by a stored file; bad values fail with clear errors."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import materializer_samples
import numpy as np
import pytest
import skops.io as sio
import torch
from materializer_samples import FlagTransformer, NeedsArgsNet, PickleBomb
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from conveyor.artifacts import ArtifactStore, open_artifact_store
from conveyor.pipelines.materializers import (
    MaterializerError,
    UnsupportedTypeError,
    UntrustedTypeError,
    load_value,
    save_value,
)

X = np.arange(12, dtype=float).reshape(6, 2)
Y = np.array([0, 1, 0, 1, 0, 1])


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return open_artifact_store(str(tmp_path / "artifacts"))


@pytest.fixture(autouse=True)
def triggered() -> Iterator[list[str]]:
    materializer_samples.TRIGGERED.clear()
    yield materializer_samples.TRIGGERED
    materializer_samples.TRIGGERED.clear()


def test_skops_refuses_a_file_with_a_custom_class_and_builds_nothing(
    store: ArtifactStore, triggered: list[str]
) -> None:
    estimator = make_pipeline(FlagTransformer(), LogisticRegression()).fit(X, Y)
    digest = store.put_bytes(sio.dumps(estimator)).hash
    with pytest.raises(
        UntrustedTypeError, match=r"Refusing .*materializer_samples\.FlagTransformer"
    ) as info:
        load_value(store, digest, "sklearn.skops", {})
    assert info.value.fields["types"] == ["materializer_samples.FlagTransformer"]
    assert info.value.hint is not None
    assert "Nothing was loaded" in info.value.hint
    assert triggered == []


def test_skops_refuses_a_file_naming_builtins_eval(store: ArtifactStore) -> None:
    estimator = make_pipeline(FunctionTransformer(eval), LogisticRegression())
    digest = store.put_bytes(sio.dumps(estimator)).hash
    with pytest.raises(UntrustedTypeError, match=r"builtins\.eval"):
        load_value(store, digest, "sklearn.skops", {})


def test_saving_an_estimator_with_untrusted_types_fails_early(
    store: ArtifactStore, triggered: list[str]
) -> None:
    estimator = make_pipeline(FlagTransformer(), LogisticRegression()).fit(X, Y)
    with pytest.raises(UntrustedTypeError, match="could not be loaded safely") as info:
        save_value(store, estimator)
    assert info.value.hint is not None
    assert "register a materializer" in info.value.hint
    assert list(store.iter_objects()) == []


def test_skops_reports_a_file_that_is_not_an_estimator(store: ArtifactStore) -> None:
    digest = store.put_bytes(b"not a zip").hash
    with pytest.raises(MaterializerError, match="not a readable skops file"):
        load_value(store, digest, "sklearn.skops", {})


def test_torch_refuses_a_pickle_bomb_state_file(store: ArtifactStore, triggered: list[str]) -> None:
    buffer = io.BytesIO()
    torch.save({"layer.weight": torch.zeros(3, 4), "bomb": PickleBomb()}, buffer)
    digest = store.put_bytes(buffer.getvalue()).hash
    meta = {"class": "materializer_samples:TinyNet", "init_kwargs": {}}
    with pytest.raises(UntrustedTypeError, match="holds more than tensors") as info:
        load_value(store, digest, "torch.module", meta)
    assert info.value.hint is not None
    assert "Nothing was executed" in info.value.hint
    assert triggered == []


def test_torch_module_that_needs_arguments_explains_conveyor_init_kwargs(
    store: ArtifactStore,
) -> None:
    saved = save_value(store, NeedsArgsNet(3))
    with pytest.raises(
        MaterializerError, match="Cannot build materializer_samples:NeedsArgsNet"
    ) as info:
        load_value(store, saved.hash, saved.materializer, saved.meta)
    assert info.value.hint is not None
    assert "conveyor_init_kwargs" in info.value.hint


def test_torch_refuses_a_recorded_class_that_is_not_a_module(store: ArtifactStore) -> None:
    saved = save_value(store, torch.nn.Linear(2, 1))
    meta = {**saved.meta, "class": "subprocess:Popen"}
    with pytest.raises(MaterializerError, match=r"'subprocess:Popen' is not a torch\.nn\.Module"):
        load_value(store, saved.hash, saved.materializer, meta)


def test_torch_module_defined_in_a_function_is_refused_at_save(store: ArtifactStore) -> None:
    class Local(torch.nn.Module):
        pass

    with pytest.raises(MaterializerError, match="defined inside a function"):
        save_value(store, Local())


def test_numpy_object_arrays_are_refused(store: ArtifactStore) -> None:
    with pytest.raises(UnsupportedTypeError, match="dtype object"):
        save_value(store, np.array([{"a": 1}, None], dtype=object))


def test_path_to_a_folder_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(MaterializerError, match="it is a folder, not a file"):
        save_value(store, tmp_path)


def test_path_output_loads_as_a_verified_copy_with_its_name(
    store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(b"weights")
    saved = save_value(store, source)
    source.unlink()
    loaded = load_value(store, saved.hash, saved.materializer, saved.meta, workdir=tmp_path / "w")
    assert loaded.name == "model.onnx"
    assert loaded.read_bytes() == b"weights"
    assert loaded.is_relative_to(tmp_path / "w")


def test_path_name_from_metadata_cannot_escape_the_folder(
    store: ArtifactStore, tmp_path: Path
) -> None:
    digest = store.put_bytes(b"x").hash
    loaded = load_value(store, digest, "path", {"name": "../../evil"}, workdir=tmp_path / "w")
    assert loaded.is_relative_to(tmp_path / "w")
    assert loaded.read_bytes() == b"x"
