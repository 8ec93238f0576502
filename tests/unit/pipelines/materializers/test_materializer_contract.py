"""Contract suite: every built-in materializer round-trips, hashes deterministically,
names the type, and never loads a tampered object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
import pytest
import torch
import xgboost as xgb
from materializer_samples import TinyNet, WideNet
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.artifacts import ArtifactStore, open_artifact_store
from conveyor.errors import IntegrityError
from conveyor.pipelines.materializers import (
    load_value,
    materializer_for,
    materializer_versions,
    save_value,
)

RNG = np.random.default_rng(7)
X = RNG.normal(size=(60, 4))
Y = (X[:, 0] + X[:, 1] > 0).astype(int)
MATRIX = RNG.normal(size=(3, 4)).astype("float32")


@dataclass(frozen=True)
class Case:
    make: Callable[[Path], Any]
    materializer: str
    type_name: str
    check: Callable[[Any, Any], None]


def _frame(_: Path) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.arange(5, dtype="int64"),
            "f": [0.5, np.nan, 2.0, -1.0, 3.25],
            "s": ["a", "b", None, "d", "e"],
            "c": pd.Categorical(["x", "y", "x", "z", "y"]),
            "t": pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC"),
            "b": [True, False, True, True, False],
            "n": pd.array([1, None, 3, 4, None], dtype="Int64"),
        },
        index=pd.Index(["r1", "r2", "r3", "r4", "r5"], name="row"),
    )


def _check_frame(original: pd.DataFrame, loaded: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(loaded, original, check_exact=True)
    assert list(loaded.dtypes) == list(original.dtypes)


def _check_series(original: pd.Series, loaded: pd.Series) -> None:
    pd.testing.assert_series_equal(loaded, original, check_exact=True)


def _check_polars(original: pl.DataFrame, loaded: pl.DataFrame) -> None:
    assert loaded.schema == original.schema
    assert loaded.equals(original)


def _check_array(original: Any, loaded: Any) -> None:
    assert type(loaded) is type(original)
    assert loaded.dtype == original.dtype
    assert np.shape(loaded) == np.shape(original)
    np.testing.assert_array_equal(loaded, original)


def _check_equal(original: Any, loaded: Any) -> None:
    assert type(loaded) is type(original)
    assert loaded == original


def _check_path(original: Path, loaded: Path) -> None:
    assert isinstance(loaded, Path)
    assert loaded.name == original.name
    assert loaded.read_bytes() == original.read_bytes()


def _check_predictions(original: Any, loaded: Any) -> None:
    assert type(loaded) is type(original)
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    if hasattr(original, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))


def _check_booster(original: Any, loaded: Any) -> None:
    assert type(loaded) is type(original)
    data = xgb.DMatrix(X) if isinstance(original, xgb.Booster) else X
    np.testing.assert_array_equal(loaded.predict(data), original.predict(data))


def _check_torch(original: torch.nn.Module, loaded: torch.nn.Module) -> None:
    assert type(loaded) is type(original)
    expected = original.state_dict()
    actual = loaded.state_dict()
    assert expected.keys() == actual.keys()
    for key, tensor in expected.items():
        assert torch.equal(actual[key], tensor), key
    width = 4 if isinstance(original, TinyNet) else original.conveyor_init_kwargs["width"]
    inputs = torch.arange(2 * width, dtype=torch.float32).reshape(2, width)
    with torch.no_grad():
        assert torch.equal(loaded(inputs), original(inputs))


def _file(folder: Path) -> Path:
    path = folder / "report.txt"
    path.write_bytes(b"accuracy 0.93\n")
    return path


def _xgb_classifier(_: Path) -> xgb.XGBClassifier:
    return xgb.XGBClassifier(n_estimators=5, max_depth=2, random_state=0).fit(X, Y)


def _xgb_booster(_: Path) -> xgb.Booster:
    return xgb.train({"max_depth": 2, "seed": 0}, xgb.DMatrix(X, label=Y), num_boost_round=4)


def _lgb_params() -> dict[str, Any]:
    return {"n_estimators": 5, "num_leaves": 4, "min_child_samples": 5, "verbose": -1}


def _lgb_classifier(_: Path) -> lgb.LGBMClassifier:
    labels = np.where(Y == 1, "yes", "no")
    return lgb.LGBMClassifier(random_state=0, **_lgb_params()).fit(X, labels)


def _lgb_multiclass(_: Path) -> lgb.LGBMClassifier:
    labels = np.digitize(X[:, 0], [-0.5, 0.5])
    return lgb.LGBMClassifier(random_state=0, **_lgb_params()).fit(X, labels)


def _lgb_regressor(_: Path) -> lgb.LGBMRegressor:
    return lgb.LGBMRegressor(random_state=0, **_lgb_params()).fit(X, X[:, 2])


def _lgb_booster(_: Path) -> lgb.Booster:
    params = {"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1}
    return lgb.train(params, lgb.Dataset(X, label=Y), num_boost_round=4)


def _tiny_net(_: Path) -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


def _wide_net(_: Path) -> WideNet:
    torch.manual_seed(1)
    return WideNet(width=3, depth=2)


CASES: dict[str, Case] = {
    "pandas-frame": Case(_frame, "pandas.dataframe", "pandas.DataFrame", _check_frame),
    "pandas-frame-range-index": Case(
        lambda _: pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]}),
        "pandas.dataframe",
        "pandas.DataFrame",
        _check_frame,
    ),
    "pandas-series": Case(
        lambda _: pd.Series([1.0, 2.5, None], index=[10, 20, 30], name="target"),
        "pandas.series",
        "pandas.Series",
        _check_series,
    ),
    "pandas-series-unnamed": Case(
        lambda _: pd.Series(["a", "b"]), "pandas.series", "pandas.Series", _check_series
    ),
    "polars-frame": Case(
        lambda _: pl.DataFrame(
            {"a": [1, 2, None], "b": ["x", None, "z"], "c": [0.5, 1.5, 2.5]},
            schema={"a": pl.Int32, "b": pl.String, "c": pl.Float64},
        ),
        "polars.dataframe",
        "polars.DataFrame",
        _check_polars,
    ),
    "numpy-array": Case(
        lambda _: np.asfortranarray(MATRIX),
        "numpy.ndarray",
        "numpy.ndarray",
        _check_array,
    ),
    "numpy-strings": Case(
        lambda _: np.array(["a", "bc"]), "numpy.ndarray", "numpy.ndarray", _check_array
    ),
    "numpy-scalar": Case(lambda _: np.int16(7), "numpy.ndarray", "numpy.int16", _check_array),
    "json-nested": Case(
        lambda _: {"lr": 0.1, "layers": (64, 32), "tags": ["a", ("b", None)], "ok": True},
        "json",
        "builtins.dict",
        _check_equal,
    ),
    "json-tuple": Case(lambda _: (1, "two", [3.0]), "json", "builtins.tuple", _check_equal),
    "json-str": Case(lambda _: "héllo", "json", "builtins.str", _check_equal),
    "json-none": Case(lambda _: None, "json", "builtins.NoneType", _check_equal),
    "json-bool": Case(lambda _: False, "json", "builtins.bool", _check_equal),
    "bytes": Case(lambda _: b"\x00\x01raw", "bytes", "builtins.bytes", _check_equal),
    "bytearray": Case(lambda _: bytearray(b"abc"), "bytes", "builtins.bytearray", _check_equal),
    "path": Case(_file, "path", "pathlib.PosixPath", _check_path),
    "sklearn-pipeline": Case(
        lambda _: make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y),
        "sklearn.skops",
        "sklearn.pipeline.Pipeline",
        _check_predictions,
    ),
    "sklearn-forest": Case(
        lambda _: RandomForestClassifier(n_estimators=3, random_state=0).fit(X, Y),
        "sklearn.skops",
        "sklearn.ensemble.RandomForestClassifier",
        _check_predictions,
    ),
    "xgboost-classifier": Case(
        _xgb_classifier, "xgboost", "xgboost.XGBClassifier", _check_predictions
    ),
    "xgboost-booster": Case(_xgb_booster, "xgboost", "xgboost.Booster", _check_booster),
    "lightgbm-classifier": Case(
        _lgb_classifier, "lightgbm", "lightgbm.LGBMClassifier", _check_predictions
    ),
    "lightgbm-multiclass": Case(
        _lgb_multiclass, "lightgbm", "lightgbm.LGBMClassifier", _check_predictions
    ),
    "lightgbm-regressor": Case(
        _lgb_regressor, "lightgbm", "lightgbm.LGBMRegressor", _check_predictions
    ),
    "lightgbm-booster": Case(_lgb_booster, "lightgbm", "lightgbm.Booster", _check_booster),
    "torch-module": Case(_tiny_net, "torch.module", "materializer_samples.TinyNet", _check_torch),
    "torch-module-kwargs": Case(
        _wide_net, "torch.module", "materializer_samples.WideNet", _check_torch
    ),
}


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return open_artifact_store(str(tmp_path / "artifacts"))


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


def test_every_builtin_materializer_has_a_case() -> None:
    assert {c.materializer for c in CASES.values()} == set(materializer_versions())


def test_value_round_trips_through_the_artifact_store(
    case: Case, store: ArtifactStore, tmp_path: Path
) -> None:
    value = case.make(tmp_path)
    saved = save_value(store, value)
    loaded = load_value(store, saved.hash, saved.materializer, saved.meta, workdir=tmp_path / "w")
    case.check(value, loaded)


def test_saved_value_records_materializer_and_type(
    case: Case, store: ArtifactStore, tmp_path: Path
) -> None:
    value = case.make(tmp_path)
    saved = save_value(store, value)
    assert materializer_for(value).name == case.materializer
    assert saved.materializer == case.materializer
    assert saved.materializer_version == materializer_versions()[case.materializer]
    assert saved.type_name == case.type_name
    assert saved.size == store.info(saved.hash).size > 0


def test_saving_the_same_value_twice_gives_the_same_hash(
    case: Case, store: ArtifactStore, tmp_path: Path
) -> None:
    value = case.make(tmp_path)
    first = save_value(store, value)
    second = save_value(store, value)
    rebuilt = save_value(store, case.make(tmp_path))  # an equal value built again
    assert first.hash == second.hash == rebuilt.hash
    assert first.meta == second.meta == rebuilt.meta


def test_loading_a_tampered_object_raises_integrity_error(
    case: Case, store: ArtifactStore, tmp_path: Path
) -> None:
    saved = save_value(store, case.make(tmp_path))
    stored = tmp_path / "artifacts" / "objects" / saved.hash[:2] / saved.hash[2:]
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=saved.hash):
        load_value(store, saved.hash, saved.materializer, saved.meta, workdir=tmp_path / "w")
