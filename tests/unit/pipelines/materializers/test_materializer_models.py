"""Model outputs go through the registry flavors: one error tree, one format, old outputs load."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
import torch
from materializer_samples import TinyNet

import conveyor.pipelines.materializers as materializers
from conveyor.artifacts import ArtifactStore, open_artifact_store
from conveyor.core import UntrustedContentError
from conveyor.errors import ConveyorError
from conveyor.pipelines.materializers import (
    MaterializerError,
    ModelMaterializerError,
    UntrustedTypeError,
    load_value,
    materializer_versions,
    save_value,
)
from conveyor.registry import flavors
from conveyor.registry.flavors import FlavorError, UntrustedModelError, get_flavor

X = np.random.default_rng(5).normal(size=(40, 4)).astype(np.float32)
Y = (X[:, 0] > 0).astype(int)


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return open_artifact_store(str(tmp_path / "artifacts"))


def test_model_errors_are_both_materializer_and_flavor_errors() -> None:
    assert issubclass(ModelMaterializerError, MaterializerError)
    assert issubclass(ModelMaterializerError, FlavorError)
    assert issubclass(UntrustedTypeError, ModelMaterializerError)
    assert issubclass(UntrustedTypeError, UntrustedModelError)
    assert issubclass(UntrustedTypeError, UntrustedContentError)


def test_error_codes_of_materializers_and_flavors_are_unique() -> None:
    classes = {
        value
        for module in (materializers, flavors)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ConveyorError)
    }
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), sorted(codes)


def test_a_torch_output_is_the_flavor_state_dict_file(store: ArtifactStore, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = TinyNet()
    saved = save_value(store, net)
    meta = get_flavor("pytorch").save(net, tmp_path)
    assert store.get_bytes(saved.hash) == (tmp_path / meta.pop("file")).read_bytes()
    assert saved.meta == meta


def test_a_torch_output_recorded_before_flavors_still_loads(store: ArtifactStore) -> None:
    """Outputs of materializer version 1 recorded only the class and its arguments."""
    torch.manual_seed(0)
    net = TinyNet()
    saved = save_value(store, net)
    old_meta = {"class": "materializer_samples:TinyNet", "init_kwargs": {}}
    loaded = load_value(store, saved.hash, "torch.module", old_meta)
    assert torch.equal(loaded.layer.weight, net.layer.weight)


def test_a_scripted_module_round_trips_as_torchscript(store: ArtifactStore) -> None:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.trace(TinyNet().eval(), torch.zeros(1, 4))
        saved = save_value(store, scripted)
        loaded = load_value(store, saved.hash, saved.materializer, saved.meta)
    assert saved.meta["format"] == "torchscript"
    inputs = torch.from_numpy(X[:3])
    assert torch.equal(loaded(inputs), scripted(inputs))


def test_the_torch_format_change_bumps_only_its_version() -> None:
    versions = materializer_versions()
    assert versions["torch.module"] == 2
    for unchanged in ("pandas.dataframe", "numpy.ndarray", "json", "sklearn.skops", "lightgbm"):
        assert versions[unchanged] == 1


def test_a_lightgbm_wrapper_with_unrecordable_parameters_is_refused(
    store: ArtifactStore, tmp_path: Path
) -> None:
    model = lgb.LGBMClassifier(n_estimators=3, verbose=-1, class_weight={0: 1.0, 1: 2.0})
    model.fit(X, Y)
    with pytest.raises(ModelMaterializerError, match="parameters cannot be recorded") as info:
        save_value(store, model)
    assert info.value.hint is not None
    assert "booster_" in info.value.hint
    # The registry still stores it: its booster predicts the same.
    flavor = get_flavor("lightgbm")
    meta = flavor.save(model, tmp_path)
    np.testing.assert_array_equal(flavor.load(tmp_path, meta).predict_array(X), model.predict(X))


def test_the_lightgbm_flavor_rebuilds_the_wrapper(tmp_path: Path) -> None:
    model = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, Y)
    flavor = get_flavor("lightgbm")
    loaded = flavor.load_model(tmp_path, flavor.save(model, tmp_path))
    assert type(loaded) is lgb.LGBMClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
