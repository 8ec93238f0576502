"""Choosing a materializer: specificity, user registration, plug-ins, errors, laziness."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import lightgbm as lgb
import pandas as pd
import pytest
import xgboost as xgb

from conveyor.artifacts import open_artifact_store
from conveyor.pipelines.materializers import (
    Materializer,
    MaterializerError,
    MaterializerNotFoundError,
    MaterializerRegistry,
    UnsupportedTypeError,
    get_materializer,
    load_value,
    materializer_for,
    materializer_versions,
    register_materializer,
    save_value,
    unregister_materializer,
)


class Unknown:
    pass


class LabelledFrame(pd.DataFrame):
    pass


class CsvFrameMaterializer(Materializer):
    name: ClassVar[str] = "test.csv-frame"
    version: ClassVar[int] = 1
    media_type: ClassVar[str] = "text/csv"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return issubclass(value_type, pd.DataFrame)

    def save(self, value: Any, path: Path) -> dict[str, Any]:
        value.to_csv(path, index=False)
        return {"rows": len(value)}

    def load(self, path: Path, meta: dict[str, Any]) -> Any:
        return pd.read_csv(path)


class LabelledFrameMaterializer(CsvFrameMaterializer):
    name: ClassVar[str] = "test.labelled-frame"

    @classmethod
    def handles(cls, value_type: type) -> bool:
        return issubclass(value_type, LabelledFrame)


@pytest.fixture
def registered() -> Iterator[list[type[Materializer]]]:
    added: list[type[Materializer]] = []
    yield added
    for cls in added:
        unregister_materializer(cls.name)


def test_unsupported_type_error_names_the_type_and_shows_registration() -> None:
    with pytest.raises(
        UnsupportedTypeError, match=r"type test_materializer_registry\.Unknown"
    ) as info:
        materializer_for(Unknown())
    assert isinstance(info.value, TypeError)
    assert info.value.fields["type_name"] == "test_materializer_registry.Unknown"
    assert info.value.hint is not None
    assert "@register_materializer" in info.value.hint
    assert "class UnknownMaterializer(Materializer)" in info.value.hint


def test_saving_an_unsupported_value_stores_nothing(tmp_path: Path) -> None:
    store = open_artifact_store(str(tmp_path))
    with pytest.raises(UnsupportedTypeError, match="Unknown"):
        save_value(store, Unknown())
    assert list(store.iter_objects()) == []


def test_json_refuses_nested_unsupported_values_naming_where() -> None:
    store = open_artifact_store("memory://json-nested")
    with pytest.raises(UnsupportedTypeError, match=r"Unknown at value\['a'\]\[1\]"):
        save_value(store, {"a": [1, Unknown()]})
    with pytest.raises(UnsupportedTypeError, match="non-string key 3"):
        save_value(store, {3: "x"})


def test_user_materializer_wins_over_builtin_for_its_type(
    registered: list[type[Materializer]], tmp_path: Path
) -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    assert materializer_for(frame).name == "pandas.dataframe"
    registered.append(register_materializer(CsvFrameMaterializer))
    assert materializer_for(frame).name == "test.csv-frame"
    store = open_artifact_store(str(tmp_path))
    saved = save_value(store, frame)
    assert (saved.materializer, saved.meta) == ("test.csv-frame", {"rows": 2})
    pd.testing.assert_frame_equal(
        load_value(store, saved.hash, saved.materializer, saved.meta), frame
    )
    unregister_materializer("test.csv-frame")
    registered.clear()
    assert materializer_for(frame).name == "pandas.dataframe"


def test_materializer_for_a_subclass_beats_one_for_its_base(
    registered: list[type[Materializer]],
) -> None:
    registered.append(register_materializer(CsvFrameMaterializer))
    registered.append(register_materializer(LabelledFrameMaterializer))
    assert materializer_for(LabelledFrame({"a": [1]})).name == "test.labelled-frame"
    assert materializer_for(pd.DataFrame({"a": [1]})).name == "test.csv-frame"


def test_library_materializers_win_over_generic_sklearn_one() -> None:
    assert materializer_for(xgb.XGBRegressor()).name == "xgboost"
    assert materializer_for(lgb.LGBMRegressor()).name == "lightgbm"
    assert materializer_for(True).name == "json"


def test_registering_a_taken_name_with_another_class_is_refused(
    registered: list[type[Materializer]],
) -> None:
    registered.append(register_materializer(CsvFrameMaterializer))

    class Impostor(CsvFrameMaterializer):
        pass

    with pytest.raises(MaterializerError, match=r"'test\.csv-frame' is already registered"):
        register_materializer(Impostor)
    assert register_materializer(CsvFrameMaterializer) is CsvFrameMaterializer


def test_registering_something_that_is_not_a_materializer_is_refused() -> None:
    with pytest.raises(MaterializerError, match="not a Materializer subclass"):
        register_materializer(Unknown)  # type: ignore[type-var]


def test_unknown_materializer_name_lists_the_known_ones() -> None:
    with pytest.raises(MaterializerNotFoundError, match="No materializer named 'nope'") as info:
        get_materializer("nope")
    assert info.value.hint is not None
    assert "pandas.dataframe" in info.value.hint
    assert "torch.module" in info.value.hint


def test_versions_cover_every_builtin_and_user_materializer(
    registered: list[type[Materializer]],
) -> None:
    registered.append(register_materializer(CsvFrameMaterializer))
    versions = materializer_versions()
    assert versions["test.csv-frame"] == 1
    assert {"json", "bytes", "path", "numpy.ndarray", "sklearn.skops"} <= set(versions)
    assert list(versions) == sorted(versions)


def test_entry_point_plugins_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "demo_plugin.py").write_text(
        textwrap.dedent(
            """
            from conveyor.pipelines.materializers import Materializer

            class Point:
                def __init__(self, x, y):
                    self.x, self.y = x, y

            class PointMaterializer(Materializer):
                name, version, media_type = "demo.point", 3, "text/plain"

                @classmethod
                def handles(cls, value_type):
                    return issubclass(value_type, Point)

                def save(self, value, path):
                    path.write_text(f"{value.x},{value.y}")
                    return {}

                def load(self, path, meta):
                    return Point(*map(int, path.read_text().split(",")))
            """
        )
    )
    info = tmp_path / "demo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[conveyor.materializers]\npoint = demo_plugin:PointMaterializer\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import demo_plugin  # type: ignore[import-not-found]

    registry = MaterializerRegistry()
    assert registry.for_type(demo_plugin.Point).name == "demo.point"
    assert registry.get("demo.point").version == 3
    assert registry.versions()["demo.point"] == 3


def test_broken_plugin_fails_with_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "broken_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[conveyor.materializers]\nbroken = no_such_module_xyz:Thing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MaterializerError, match="plug-in 'broken'"):
        MaterializerRegistry().get("json")


def test_saving_plain_values_imports_no_heavy_library(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from conveyor.artifacts import open_artifact_store
        from conveyor.pipelines.materializers import (
            load_value, materializer_versions, save_value)
        store = open_artifact_store({str(tmp_path)!r})
        saved = save_value(store, {{"a": (1, 2)}})
        assert load_value(store, saved.hash, saved.materializer, saved.meta) == {{"a": (1, 2)}}
        save_value(store, b"raw")
        materializer_versions()
        heavy = ("torch", "sklearn", "xgboost", "lightgbm", "polars", "skops", "pandas")
        print(",".join(m for m in heavy if m in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
