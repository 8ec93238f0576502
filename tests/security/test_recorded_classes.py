"""Class paths recorded with a stored model are checked before anything is imported:
boosting classes against an exact list, PyTorch module classes against the list, the
caller's trust, or the project's own already-imported code."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from conveyor.artifacts import open_artifact_store
from conveyor.core import TORCH_CLASSES, UntrustedContentError
from conveyor.pipelines.materializers import UntrustedTypeError, load_value, save_value
from conveyor.registry.flavors import FlavorError, UntrustedModelError, get_flavor

X = np.random.default_rng(0).normal(size=(60, 3))
Y = (X[:, 0] > 0).astype(int)


@pytest.fixture
def payload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An importable module ``payload_recorded`` that creates a marker file when imported."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "payload_recorded.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\nclass Evil:\n    pass\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("payload_recorded", None)  # a trusted load imported it


@pytest.mark.parametrize("flavor", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("recorded", ["payload_recorded:Evil", "subprocess:Popen"])
def test_a_tampered_flavor_class_is_refused_before_import(
    flavor: str, recorded: str, payload: Path, tmp_path: Path
) -> None:
    model = (
        xgb.XGBClassifier(n_estimators=2)
        if flavor == "xgboost"
        else lgb.LGBMClassifier(n_estimators=2, verbose=-1)
    ).fit(X, Y)
    folder = tmp_path / "m"
    folder.mkdir()
    loader = get_flavor(flavor)
    meta = loader.save(model, folder)
    assert loader.load(folder, meta).predict_array(X[:2]).shape == (2,)
    with pytest.raises(UntrustedModelError, match=recorded):
        loader.load(folder, {**meta, "class": recorded})
    assert not payload.exists()
    assert "payload_recorded" not in sys.modules


@pytest.mark.parametrize("name", ["xgboost", "lightgbm"])
def test_a_tampered_materializer_class_is_refused_before_import(
    name: str, payload: Path, tmp_path: Path
) -> None:
    store = open_artifact_store(str(tmp_path / "artifacts"))
    model = (
        xgb.XGBRegressor(n_estimators=2)
        if name == "xgboost"
        else lgb.LGBMRegressor(n_estimators=2, verbose=-1)
    ).fit(X, Y)
    saved = save_value(store, model)
    assert type(load_value(store, saved.hash, saved.materializer, saved.meta)) is type(model)
    with pytest.raises(UntrustedTypeError, match="payload_recorded:Evil"):
        load_value(
            store, saved.hash, saved.materializer, {**saved.meta, "class": "payload_recorded:Evil"}
        )
    assert not payload.exists()


# --- PyTorch: the recorded nn.Module class is under the load policy -------------------

TORCH_PAYLOAD = (
    "import pathlib\n"
    "pathlib.Path({marker!r}).write_text('imported')\n"
    "import torch\n"
    "class Evil(torch.nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.layer = torch.nn.Linear(2, 1)\n"
)


@pytest.fixture
def torch_payload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``payload_torch.py`` next to the model folder, importable; importing it writes a marker."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "payload_torch.py").write_text(
        TORCH_PAYLOAD.format(marker=str(marker)), encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return marker


def _torch_state(folder: Path) -> dict[str, Any]:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    flavor = get_flavor("pytorch")
    return flavor.save(torch.nn.Linear(2, 1), folder)


def _load_torch_via(loader: str, folder: Path, meta: dict[str, Any], trusted: bool) -> Any:
    if loader == "flavor":
        return get_flavor("pytorch").load(folder, meta, trusted=trusted).model
    store = open_artifact_store(str(folder / "artifacts"))
    digest = store.put_file(folder / meta["file"]).hash
    return load_value(store, digest, "torch.module", meta, trusted=trusted)


CRAFTED_TORCH_CLASSES = ["payload_torch:Evil", "antigravity:Fly", "this:Zen", "subprocess:Popen"]


@pytest.mark.parametrize("loader", ["flavor", "materializer"])
@pytest.mark.parametrize("recorded", CRAFTED_TORCH_CLASSES)
def test_a_crafted_torch_class_is_refused_without_importing_its_module(
    loader: str, recorded: str, torch_payload: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    meta = {**_torch_state(folder), "class": recorded}
    before = set(sys.modules)
    with pytest.raises(UntrustedContentError, match=re.escape(recorded)) as info:
        _load_torch_via(loader, folder, meta, trusted=False)
    assert set(sys.modules) - before == set()
    assert not torch_payload.exists()
    assert info.value.fields["types"] == [recorded]
    assert info.value.hint is not None
    assert "trusted=True" in info.value.hint
    expected = UntrustedModelError if loader == "flavor" else UntrustedTypeError
    assert isinstance(info.value, expected)


@pytest.mark.parametrize("loader", ["flavor", "materializer"])
def test_an_installed_module_class_not_on_the_list_is_refused(loader: str, tmp_path: Path) -> None:
    """``torch.nn.ReLU`` is imported already but lives in an installed package, not the
    project, and is not on the exact list."""
    folder = tmp_path / "model"
    meta = {**_torch_state(folder), "class": "torch.nn.modules.activation:ReLU"}
    with pytest.raises(UntrustedContentError, match="installed package"):
        _load_torch_via(loader, folder, meta, trusted=False)


@pytest.mark.parametrize("loader", ["flavor", "materializer"])
def test_a_trusted_version_imports_the_recorded_class(
    loader: str, torch_payload: Path, tmp_path: Path
) -> None:
    """Trust is the caller's word (the version or output was recorded trusted=True)."""
    folder = tmp_path / "model"
    meta = {**_torch_state(folder), "class": "payload_torch:Evil"}
    meta["file"] = "state.pt"
    import torch

    weights = {"layer.weight": torch.ones(1, 2), "layer.bias": torch.zeros(1)}
    torch.save(weights, folder / "state.pt")
    try:
        module = _load_torch_via(loader, folder, meta, trusted=True)
        assert type(module).__name__ == "Evil"
        assert torch_payload.exists()
    finally:
        sys.modules.pop("payload_torch", None)


@pytest.mark.parametrize("loader", ["flavor", "materializer"])
def test_a_project_class_already_imported_loads_without_trust(
    loader: str, torch_payload: Path, tmp_path: Path
) -> None:
    """A class the running project imported itself (outside installed packages) loads."""
    import importlib

    importlib.import_module("payload_torch")
    torch_payload.unlink()
    try:
        folder = tmp_path / "model"
        meta = {**_torch_state(folder), "class": "payload_torch:Evil"}
        meta["file"] = "state.pt"
        import torch

        weights = {"layer.weight": torch.ones(1, 2), "layer.bias": torch.zeros(1)}
        torch.save(weights, folder / "state.pt")
        module = _load_torch_via(loader, folder, meta, trusted=False)
        assert type(module).__module__ == "payload_torch"
        assert not torch_payload.exists()  # nothing was imported again
    finally:
        sys.modules.pop("payload_torch", None)


def test_exact_list_classes_load_without_trust(tmp_path: Path) -> None:
    import torch

    assert "torch.nn.modules.linear:Linear" in TORCH_CLASSES
    torch.manual_seed(0)
    module = torch.nn.Linear(2, 1)
    module.conveyor_init_kwargs = {"in_features": 2, "out_features": 1}
    flavor = get_flavor("pytorch")
    meta = flavor.save(module, tmp_path)
    loaded = flavor.load(tmp_path, meta).model
    assert torch.equal(loaded.weight, module.weight)


class _Echo:
    """A pyfunc model of the project's own code: the test module is imported, not installed."""

    def save(self, folder: Path) -> None:
        (folder / "echo.txt").write_text("echo", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> _Echo:
        return cls()

    def predict(self, frame: Any) -> Any:
        return np.zeros(len(frame))


@pytest.mark.parametrize("recorded", ["payload_recorded:Evil", "this:Zen", "subprocess:Popen"])
def test_a_crafted_pyfunc_class_is_refused_without_importing_its_module(
    recorded: str, payload: Path, tmp_path: Path
) -> None:
    sys.modules.pop("this", None)
    loader = get_flavor("pyfunc")
    folder = tmp_path / "m"
    folder.mkdir()
    meta = loader.save(_Echo(), folder)
    assert loader.load(folder, meta).predict(pd.DataFrame(X[:2])).shape == (2,)
    with pytest.raises(UntrustedModelError, match=re.escape(recorded)):
        loader.load(folder, {**meta, "class": recorded})
    assert not payload.exists()
    assert "payload_recorded" not in sys.modules
    assert "this" not in sys.modules


def test_a_trusted_pyfunc_version_imports_its_class(payload: Path, tmp_path: Path) -> None:
    loader = get_flavor("pyfunc")
    folder = tmp_path / "m"
    folder.mkdir()
    meta = loader.save(_Echo(), folder)
    with pytest.raises(FlavorError, match="save/load/predict"):
        loader.load(folder, {**meta, "class": "payload_recorded:Evil"}, trusted=True)
    assert payload.exists()  # trusted: imported, as the author asked
