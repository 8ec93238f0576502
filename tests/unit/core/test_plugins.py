"""The generic plug-in registry: lookup order, validation, entry points, lazy built-ins."""

from __future__ import annotations

import sys
import textwrap
import threading
from collections import OrderedDict
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.core import PluginRegistry, class_path, import_object
from conveyor.errors import ConveyorError

GROUP = "conveyor.test_shapes"


class Shape:
    name = "shape"


class Circle(Shape):
    name = "circle"


class Square(Shape):
    name = "square"


class OtherCircle(Shape):
    name = "circle"


class ShapeError(ConveyorError):
    """The package's own error, built by the factories below."""


def _validate(obj: Any, origin: str) -> type[Shape]:
    if not (isinstance(obj, type) and issubclass(obj, Shape)):
        raise ShapeError(f"{obj!r} (from {origin}) is not a Shape.", origin=origin)
    return obj


def _registry(builtins: dict[str, str] | None = None, **kwargs: Any) -> PluginRegistry[Shape]:
    return PluginRegistry(
        "shape",
        Shape,
        GROUP,
        {"circle": f"{__name__}:Circle"} if builtins is None else builtins,
        validate=_validate,
        not_found=lambda name, known: ShapeError(f"No shape {name!r}; known: {known}."),
        plugin_error=lambda point, exc: ShapeError(f"Plug-in {point.name!r} broke: {exc}."),
        **kwargs,
    )


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "shape_plugins.py").write_text(
        textwrap.dedent(
            f"""
            from {__name__} import Shape

            class Triangle(Shape):
                name = "triangle"

            class PluginCircle(Shape):
                name = "circle"

            NOT_A_SHAPE = 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "shape_plugins"


def test_import_object_resolves_nested_names() -> None:
    assert import_object("collections:OrderedDict") is OrderedDict
    assert import_object("collections:OrderedDict.fromkeys") == OrderedDict.fromkeys


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("collections", ValueError),
        (":OrderedDict", ValueError),
        ("collections:", ValueError),
        ("no_such_module_xyz:Thing", ImportError),
        ("collections:NoSuchThing", AttributeError),
    ],
)
def test_import_object_raises_the_standard_error_for_a_bad_path(
    path: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        import_object(path)


@given(st.sampled_from([dict, OrderedDict, Path, Shape, Circle, EntryPoint]))
def test_class_path_round_trips_through_import_object(cls: type) -> None:
    assert import_object(class_path(cls)) is cls


def test_class_path_names_module_and_qualified_name() -> None:
    assert class_path(Circle) == f"{__name__}:Circle"


def test_built_ins_are_listed_without_being_imported() -> None:
    registry = _registry({"lazy": "no_such_module_xyz:Lazy"})
    assert registry.names() == ["lazy"]
    assert "no_such_module_xyz" not in sys.modules


def test_lookup_prefers_user_then_plugin_then_builtin(plugin_module: str) -> None:
    point = EntryPoint("circle", f"{plugin_module}:PluginCircle", GROUP)
    plugins = _registry().load_entry_points([point])
    registry = _registry(plugin_source=lambda: plugins)
    assert registry.get("circle") is plugins["circle"]
    registry.register(OtherCircle)
    assert registry.get("circle") is OtherCircle
    registry.unregister("circle")
    assert registry.get("circle") is plugins["circle"]
    assert _registry().get("circle") is Circle


def test_register_returns_the_class_and_replaces_by_name() -> None:
    registry = _registry()
    assert registry.register(Square) is Square
    registry.register(Square)
    assert registry.user() == {"square": Square}
    assert registry.names() == ["circle", "square"]


def test_unregister_of_an_unknown_name_is_a_no_op() -> None:
    registry = _registry()
    registry.unregister("never_registered")
    assert registry.names() == ["circle"]


def test_register_runs_the_package_validator_with_the_origin() -> None:
    with pytest.raises(ShapeError, match=r"42 \(from register_shape\) is not a Shape") as info:
        _registry().register(42, origin="register_shape")  # type: ignore[arg-type]
    assert info.value.fields["origin"] == "register_shape"


def test_default_validator_requires_a_subclass_with_a_name() -> None:
    registry: PluginRegistry[Shape] = PluginRegistry("shape", Shape, GROUP, {})
    with pytest.raises(TypeError, match="is not a Shape subclass with a `name`"):
        registry.register(dict)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="No shape named 'nope'"):
        registry.get("nope")


def test_unknown_name_raises_the_package_error_listing_known_names() -> None:
    registry = _registry()
    registry.register(Square)
    with pytest.raises(ShapeError, match=r"No shape 'hexagon'; known: \['circle', 'square'\]"):
        registry.get("hexagon")


def test_builtin_import_failure_uses_the_builtin_error_factory() -> None:
    registry = _registry(
        {"ghost": "no_such_module_xyz:Ghost"},
        builtin_error=lambda name, target, exc: ShapeError(f"{name} from {target}: {exc}"),
    )
    with pytest.raises(ShapeError, match="ghost from no_such_module_xyz:Ghost") as info:
        registry.get("ghost")
    assert isinstance(info.value.__cause__, ImportError)


def test_builtin_import_failure_passes_through_without_a_factory() -> None:
    with pytest.raises(ImportError, match="no_such_module_xyz"):
        _registry({"ghost": "no_such_module_xyz:Ghost"}).get("ghost")


def test_builtins_mapping_is_read_live_not_copied() -> None:
    builtins = {"circle": f"{__name__}:Circle"}
    registry = _registry(builtins)
    builtins["square"] = f"{__name__}:Square"
    assert registry.get("square") is Square


def test_builtin_that_is_not_a_valid_class_is_refused() -> None:
    with pytest.raises(ShapeError, match=r"\(from collections:OrderedDict\) is not a Shape"):
        _registry({"odd": "collections:OrderedDict"}).get("odd")


def test_entry_points_are_keyed_by_class_name_and_validated(plugin_module: str) -> None:
    registry = _registry()
    found = registry.load_entry_points([EntryPoint("tri", f"{plugin_module}:Triangle", GROUP)])
    assert list(found) == ["triangle"]
    odd = EntryPoint("odd", f"{plugin_module}:NOT_A_SHAPE", GROUP)
    with pytest.raises(ShapeError, match=r"42 \(from entry point 'odd' \(shape_plugins:NOT_A"):
        registry.load_entry_points([odd])


def test_plugin_origin_format_is_configurable(plugin_module: str) -> None:
    registry = _registry(plugin_origin="plug-in {name}")
    odd = EntryPoint("odd", f"{plugin_module}:NOT_A_SHAPE", GROUP)
    with pytest.raises(ShapeError, match=r"from plug-in odd\)"):
        registry.load_entry_points([odd])


def test_foreign_plugins_are_skipped_when_asked(plugin_module: str) -> None:
    registry = _registry(skip_foreign_plugins=True)
    points = [
        EntryPoint("odd", f"{plugin_module}:NOT_A_SHAPE", GROUP),
        EntryPoint("tri", f"{plugin_module}:Triangle", GROUP),
    ]
    assert list(registry.load_entry_points(points)) == ["triangle"]


def test_plugin_that_fails_to_load_is_named_in_the_package_error() -> None:
    point = EntryPoint("ghost", "no_such_module_xyz:Ghost", GROUP)
    with pytest.raises(ShapeError, match="Plug-in 'ghost' broke") as info:
        _registry().load_entry_points([point])
    assert isinstance(info.value.__cause__, ImportError)


def test_installed_entry_points_are_read_once_until_reset(
    plugin_module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _registry()
    assert registry.names() == ["circle"]  # the group is read (empty) and cached
    info = tmp_path / "shape_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shape-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\ntri = {plugin_module}:Triangle\n")
    assert registry.names() == ["circle"]
    registry.reset_plugins()
    assert registry.names() == ["circle", "triangle"]
    assert registry.get("triangle").__name__ == "Triangle"
    assert list(registry.plugins()) == ["triangle"]


def test_concurrent_registrations_are_all_kept() -> None:
    registry = _registry({})
    classes = [type(f"Shape{i}", (Shape,), {"name": f"shape_{i:03d}"}) for i in range(200)]

    def register(chunk: list[type[Shape]]) -> None:
        for cls in chunk:
            registry.register(cls)
            registry.names()

    threads = [threading.Thread(target=register, args=(classes[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert registry.names() == sorted(cls.name for cls in classes)


@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=12))
def test_names_are_sorted_and_reflect_registrations(ops: list[str]) -> None:
    registry = _registry()
    present: set[str] = set()
    for name in ops:
        if name in present:
            registry.unregister(name)
            present.discard(name)
        else:
            registry.register(type(name.upper(), (Shape,), {"name": name}))
            present.add(name)
    assert registry.names() == sorted(present | {"circle"})
