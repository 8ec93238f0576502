"""The load policy: crafted skops files never run code, bombs are refused before inflating,
and the models scikit-learn users really fit still load without ``trusted=True``."""

from __future__ import annotations

import datetime
import io
import json
import os
import resource
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import skops_crafting as craft
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from conveyor.artifacts import open_artifact_store
from conveyor.core import (
    LIGHTGBM_CLASSES,
    SKOPS_TRUSTED_TYPES,
    TORCH_CLASSES,
    XGBOOST_CLASSES,
    ArchiveLimitError,
    ArchiveLimits,
    UnreadableArchiveError,
    UntrustedContentError,
    load_skops,
    untrusted_types,
)
from conveyor.pipelines.materializers import UntrustedTypeError, load_value
from conveyor.registry.flavors import FlavorError, UntrustedModelError, get_flavor
from process_support import fresh_process_report
from server_support import cli_env

ATTACKS = sorted(craft.attacks("unused"))


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file that exists only if crafted code ran; a payload module that would create it."""
    path = tmp_path / "ran.txt"
    (tmp_path / "payload").mkdir()
    (tmp_path / "payload" / f"{craft.PAYLOAD_MODULE}.py").write_text(
        craft.payload_source(str(path)), encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "payload"))
    return path


def _via_flavor(data: bytes, folder: Path) -> Any:
    (folder / "model.skops").write_bytes(data)
    return get_flavor("sklearn").load(folder, {"file": "model.skops"})


def _via_materializer(data: bytes, folder: Path) -> Any:
    store = open_artifact_store(str(folder / "artifacts"))
    return load_value(store, store.put_bytes(data).hash, "sklearn.skops", {})


def _via_mlflow(data: bytes, folder: Path) -> Any:
    from conveyor.registry.flavors import read_mlflow_model

    (folder / "model.skops").write_bytes(data)
    (folder / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n",
        encoding="utf-8",
    )
    return read_mlflow_model(folder)


def _via_core(data: bytes, folder: Path) -> Any:
    return load_skops(data, source="model.skops")


LOADERS: dict[str, Callable[[bytes, Path], Any]] = {
    "core": _via_core,
    "flavor": _via_flavor,
    "materializer": _via_materializer,
    "mlflow": _via_mlflow,
}


@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize("callee", ATTACKS)
def test_a_reduce_node_naming_a_code_running_callable_is_refused_by_every_loader(
    callee: str, loader: str, marker: Path, tmp_path: Path
) -> None:
    data = craft.archive(craft.attacks(str(marker))[callee])
    with pytest.raises(UntrustedContentError, match=callee.replace(".", r"\.")) as info:
        LOADERS[loader](data, tmp_path)
    assert callee in info.value.fields["types"]
    assert not marker.exists()


def test_refusals_keep_each_package_error_class(marker: Path, tmp_path: Path) -> None:
    data = craft.archive(craft.attacks(str(marker))["numpy.testing._private.utils.runstring"])
    with pytest.raises(UntrustedModelError, match=r"Refusing to load model\.skops"):
        _via_flavor(data, tmp_path)
    with pytest.raises(UntrustedTypeError) as info:
        _via_materializer(data, tmp_path)
    assert info.value.hint is not None
    assert "Nothing was loaded" in info.value.hint


def test_a_function_transformer_naming_an_allowed_module_function_is_refused(
    marker: Path, tmp_path: Path
) -> None:
    """The function itself would only run at predict time; it is still refused at load."""
    x = np.arange(12.0).reshape(6, 2)
    estimator = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression())
    estimator.fit(x, [0, 1] * 3)
    with zipfile.ZipFile(io.BytesIO(sio.dumps(estimator))) as source:
        members = {name: source.read(name) for name in source.namelist()}
    schema = members.pop("schema.json").decode("utf-8")
    assert '"log1p"' in schema
    schema = schema.replace('"__module__": "numpy"', '"__module__": "numpy.testing._private.utils"')
    schema = schema.replace('"log1p"', '"runstring"')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        target.writestr("schema.json", schema)
        for name, data in members.items():
            target.writestr(name, data)
    with pytest.raises(UntrustedModelError, match=r"numpy\.testing\._private\.utils\.runstring"):
        _via_flavor(buffer.getvalue(), tmp_path)


def test_the_trusted_list_names_types_exactly_and_holds_no_string_evaluator() -> None:
    for name in SKOPS_TRUSTED_TYPES:
        module, _, attr = name.rpartition(".")
        assert module
        assert attr
        assert "*" not in name
    assert untrusted_types(["sklearn.tree._tree.Tree", "sklearn.utils._testing.check_output"]) == [
        "sklearn.utils._testing.check_output"
    ]
    for name in ("sklearn", "numpy", "scipy", "numpy.testing._private.utils.runstring"):
        assert name not in SKOPS_TRUSTED_TYPES


# --- models fitted on real data load without trust ----------------------------------


def _penguins() -> tuple[pd.DataFrame, pd.Series]:
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    return frame.drop(columns=["species"]), frame["species"]


def _penguin_pipeline(encoder: Any) -> Pipeline:
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    categorical = ["island", "sex"]
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), encoder), categorical),
        ]
    )
    return Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=2000))])


def _fitted_models() -> dict[str, tuple[Any, pd.DataFrame]]:
    px, py = _penguins()
    objects = px.astype({"island": object, "sex": object})  # as read by older pandas
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cx, cy = load_breast_cancer(return_X_y=True, as_frame=True)
        dx, dy = load_diabetes(return_X_y=True, as_frame=True)
    return {
        "penguins_onehot": (
            _penguin_pipeline(OneHotEncoder(handle_unknown="ignore")).fit(px, py),
            px,
        ),
        "penguins_ordinal": (
            _penguin_pipeline(
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
            ).fit(px, py),
            px,
        ),
        "cancer_forest": (RandomForestClassifier(n_estimators=5, random_state=0).fit(cx, cy), cx),
        "visit_dates_onehot": _dated(cx, cy),
        "penguins_selected": (_selected().fit(objects, py), objects),
        "diabetes_hgb": (HistGradientBoostingRegressor(max_iter=10).fit(dx, dy), dx),
    }


def _selected() -> Pipeline:
    """Columns chosen by dtype, as scikit-learn's docs show (make_column_selector)."""
    prep = ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                make_column_selector(dtype_include=object),
            ),
            (
                "num",
                make_pipeline(SimpleImputer(), StandardScaler()),
                make_column_selector(dtype_include=np.number),
            ),
        ]
    )
    return Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=2000))])


def _dated(x: pd.DataFrame, y: pd.Series) -> tuple[Any, pd.DataFrame]:
    """A date column read back from a table holds ``datetime.date`` objects; a pipeline
    that one-hot encodes it learns them as categories."""
    dated = x.iloc[:, :3].copy()
    start = datetime.date(2025, 1, 1)
    dated["visit"] = [start + datetime.timedelta(days=i % 60) for i in range(len(dated))]
    prep = ColumnTransformer(
        [("num", "passthrough", list(dated.columns[:3])),
         ("dates", OneHotEncoder(handle_unknown="ignore"), ["visit"])]
    )  # fmt: skip
    model = Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=2000))])
    return model.fit(dated, y), dated


@pytest.fixture(scope="module")
def fitted_models() -> dict[str, tuple[Any, pd.DataFrame]]:
    return _fitted_models()


@pytest.mark.parametrize(
    "name",
    [
        "penguins_onehot",
        "penguins_ordinal",
        "penguins_selected",
        "cancer_forest",
        "visit_dates_onehot",
        "diabetes_hgb",
    ],
)
def test_models_fitted_on_real_data_load_without_trust_and_predict_the_same(
    name: str, fitted_models: dict[str, tuple[Any, pd.DataFrame]], tmp_path: Path
) -> None:
    model, x = fitted_models[name]
    flavor = get_flavor("sklearn")
    meta = flavor.save(model, tmp_path)
    loaded = flavor.load(tmp_path, meta)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert type(_via_materializer(sio.dumps(model), tmp_path)) is type(model)


# --- bombs ---------------------------------------------------------------------------


def _zero_bomb(size: int) -> bytes:
    """A skops archive whose one array member inflates ``size`` bytes of zeros."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (size // 8,)}
    )
    buffer = io.BytesIO()
    root = {
        "__class__": "ndarray",
        "__module__": "numpy",
        "__loader__": "NdArrayNode",
        "type": "numpy",
        "file": "0.npy",
    }
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        target.writestr(
            "schema.json", json.dumps({**root, "protocol": 2, "_skops_version": "0.16.0"})
        )
        with target.open("0.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            chunk = bytes(1 << 24)
            for _ in range(size // len(chunk)):
                member.write(chunk)
    return buffer.getvalue()


@pytest.mark.slow
def test_a_small_archive_inflating_to_gigabytes_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = _zero_bomb(1_660_000_000)
    assert len(bomb) < 2_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for loader in ("flavor", "materializer", "mlflow"):
        folder = tmp_path / loader
        folder.mkdir()
        with pytest.raises(ArchiveLimitError, match=r"max_bytes|max_ratio") as info:
            LOADERS[loader](bomb, folder)
        assert info.value.fields["limit"] in {"max_bytes", "max_ratio"}
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 300_000  # nowhere near the 1.66 GB the archive would inflate to


def test_a_highly_compressed_member_is_refused_by_its_ratio() -> None:
    bomb = _zero_bomb(64 << 20)
    with pytest.raises(ArchiveLimitError, match=r"ratio .*max_ratio.*decompression bomb") as info:
        load_skops(bomb, source="bomb.skops")
    assert info.value.fields["limit"] == "max_ratio"
    assert "bomb.skops" in str(info.value)


def test_an_array_header_claiming_more_than_its_member_holds_is_refused() -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    root = {
        "__class__": "ndarray",
        "__module__": "numpy",
        "__loader__": "NdArrayNode",
        "type": "numpy",
        "file": "0.npy",
    }
    data = craft.archive(root, {"0.npy": header.getvalue()})
    with pytest.raises(ArchiveLimitError, match=r"claims an array of 8000000000000 bytes"):
        load_skops(data, source="m.skops")


def test_member_count_total_size_depth_and_nodes_are_bounded() -> None:
    model = craft.archive(craft.text(1), {f"{i}.bin": b"x" for i in range(11)})
    with pytest.raises(ArchiveLimitError, match="12 members, more than the limit of 10"):
        load_skops(model, source="m.skops", limits=ArchiveLimits(max_members=10))
    with pytest.raises(ArchiveLimitError, match=r"more than the limit of 100 bytes \(max_bytes\)"):
        load_skops(model, source="m.skops", limits=ArchiveLimits(max_bytes=100))
    deep: dict[str, Any] = craft.text(1)
    for _ in range(300):
        deep = craft.listing(deep)
    with pytest.raises(ArchiveLimitError, match="max_depth"):
        load_skops(craft.archive(deep), source="m.skops")
    wide = craft.listing(*[craft.text(i) for i in range(50)])
    with pytest.raises(ArchiveLimitError, match="max_nodes"):
        load_skops(craft.archive(wide), source="m.skops", limits=ArchiveLimits(max_nodes=20))


def test_absurdly_nested_json_is_an_unreadable_archive_not_a_crash() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        target.writestr("schema.json", "[" * 200_000)
    with pytest.raises(UnreadableArchiveError):
        load_skops(buffer.getvalue(), source="m.skops")


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04broken", bytes(range(256))])
def test_garbage_is_a_flavor_error_naming_the_file(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(FlavorError, match=r"model\.skops is not a readable skops file"):
        _via_flavor(data, tmp_path)


def _documented(section: str) -> dict[str, set[str]]:
    """``{first cell: names in backticks in the other cells}`` of a table in security.md."""
    doc = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    table = doc.split(f"### {section}", 1)[1].split("###", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    cells = [row.split("|")[1:-1] for row in rows]
    return {row[0].strip(): {n for cell in row[1:] for n in cell.split("`")[1::2]} for row in cells}


def test_docs_security_lists_exactly_the_trusted_types() -> None:
    listed = set().union(*_documented("The trusted list").values())
    assert listed == set(SKOPS_TRUSTED_TYPES)


def test_docs_security_lists_exactly_the_model_classes() -> None:
    listed = {row.split("`")[1]: names for row, names in _documented("Model classes").items()}
    assert listed == {
        "XGBOOST_CLASSES": set(XGBOOST_CLASSES),
        "LIGHTGBM_CLASSES": set(LIGHTGBM_CLASSES),
        "TORCH_CLASSES": set(TORCH_CLASSES),
    }


# --- skops' default trust without its walk of scikit-learn -------------------------------

# Loads files in a fresh process, as a server does: the first in argv must load, the others
# must be refused. Prints what was loaded, imported by then and refused, then asks skops'
# public API about the first file, which must still get skops' own full list of estimators.
FRESH_LOAD = """
import json, sys
from conveyor.core import UntrustedContentError, load_skops

first, *crafted = sys.argv[1:]
model = load_skops(open(first, "rb").read(), source="model.skops")
loaded_modules = sorted(sys.modules)
made_before = sys.modules["skops.io._trusted_types"].SKLEARN_ESTIMATOR_TYPE_NAMES._made
# A refused scikit-learn name no public module settles is looked up in skops' full list.
refused = {}
for path in crafted:
    try:
        load_skops(open(path, "rb").read(), source="crafted.skops")
    except UntrustedContentError as exc:
        refused[path] = exc.fields["types"]
trusted_types = sys.modules["skops.io._trusted_types"]
import skops.io as sio
print(json.dumps({
    "type": type(model).__name__,
    "refused": refused,
    "modules": loaded_modules,
    "made_before": made_before,
    "skops_untrusted": sio.get_untrusted_types(data=open(first, "rb").read()),
    "skops_estimators": len(trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES),
}))
"""

# Public scikit-learn modules a forest never imports, and all of which the walk imports.
WALKED = ("sklearn.semi_supervised", "sklearn.cross_decomposition", "sklearn.gaussian_process")


def _posing_estimator(module: str, name: str) -> bytes:
    """A skops object node naming ``module.name``, as a fitted estimator would be named."""
    node = {"__class__": name, "__module__": module, "__loader__": "ObjectNode"}
    return craft.archive({**node, "content": craft.empty_dict()})


@pytest.mark.slow
def test_a_fresh_process_loads_a_forest_without_the_estimator_walk_and_refuses_the_same(
    marker: Path, tmp_path: Path
) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(x, y)
    files = {"model": sio.dumps(forest)}
    files |= {callee: craft.archive(node) for callee, node in craft.attacks(str(marker)).items()}
    posing = {
        # The class exists, but not under this module: skops does not trust the name either.
        "sklearn.linear_model.LogisticRegression": ("sklearn.linear_model", "LogisticRegression"),
        "sklearn.tests.test_base.T": ("sklearn.tests.test_base", "T"),
        f"sklearn.{craft.PAYLOAD_MODULE}.Model": (f"sklearn.{craft.PAYLOAD_MODULE}", "Model"),
        f"{craft.PAYLOAD_MODULE}.Model": (craft.PAYLOAD_MODULE, "Model"),
    }
    files |= {name: _posing_estimator(*where) for name, where in posing.items()}
    paths = {}
    for index, (name, data) in enumerate(files.items()):
        paths[name] = tmp_path / f"{index}.skops"
        paths[name].write_bytes(data)
    env = cli_env()
    env["PYTHONPATH"] = os.pathsep.join([str(marker.parent / "payload"), env.get("PYTHONPATH", "")])
    report = fresh_process_report(FRESH_LOAD, *(str(path) for path in paths.values()), env=env)
    assert report["type"] == "RandomForestClassifier"
    refused = {name: report["refused"].get(str(path)) for name, path in paths.items()}
    assert refused == {"model": None} | {name: [name] for name in files if name != "model"}
    assert not marker.exists()
    imported = set(report["modules"])  # when the forest had loaded
    assert not {"torch", *WALKED, craft.PAYLOAD_MODULE} & imported
    assert report["made_before"] is False  # skops' estimator list was not made for it
    # skops' own API, asked afterwards in the same process, still trusts what skops trusts.
    assert report["skops_untrusted"] == ["sklearn.tree._tree.Tree"]
    assert report["skops_estimators"] > 100


def test_every_estimator_skops_trusts_is_settled_by_its_own_public_module() -> None:
    """No model of public scikit-learn estimators needs skops' walk to be trusted."""
    from skops.io import _trusted_types

    from conveyor.core._trust._skops import _exposed_estimator, is_default_estimator

    listed = list(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES)
    assert len(listed) > 100
    assert [name for name in listed if not _exposed_estimator(name)] == []
    others = [
        *SKOPS_TRUSTED_TYPES,
        *_trusted_types.SKLEARN_INTERNAL_TYPE_NAMES,
        "sklearn.base.BaseEstimator",
        "sklearn.linear_model.LogisticRegression",  # exported there, defined elsewhere
        "sklearn.linear_model._base.LinearModel",  # abstract
        "sklearn.utils._testing.MinimalClassifier",  # in a module the walk skips
        "numpy.ndarray",
    ]
    assert [name for name in others if is_default_estimator(name)] == []
    assert all(is_default_estimator(name) for name in listed)


@pytest.mark.slow
def test_a_fresh_process_trusts_numpy_and_scipy_ufuncs_as_skops_does(tmp_path: Path) -> None:
    """skops' ufunc lists, made only when a file names a function, are still its own."""
    from scipy.special import expit

    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(
        FunctionTransformer(np.log1p), FunctionTransformer(expit), LogisticRegression()
    ).fit(x, y)
    path = tmp_path / "model.skops"
    path.write_bytes(sio.dumps(model))
    report = fresh_process_report(FRESH_LOAD, str(path))
    assert report["type"] == "Pipeline"
    assert report["made_before"] is False
    assert not {"torch", *WALKED} & set(report["modules"])
    assert report["skops_untrusted"] == []
