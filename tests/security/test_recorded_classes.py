"""Class paths recorded with a stored boosting model are checked exactly before import."""

from __future__ import annotations

import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

from conveyor.artifacts import open_artifact_store
from conveyor.pipelines.materializers import UntrustedTypeError, load_value, save_value
from conveyor.registry.flavors import UntrustedModelError, get_flavor

X = np.random.default_rng(0).normal(size=(60, 3))
Y = (X[:, 0] > 0).astype(int)


@pytest.fixture
def payload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable module ``payload_recorded`` that creates a marker file when imported."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "payload_recorded.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nclass Evil:\n    pass\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return marker


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
