"""One process, several projects: each project's pipelines come from its own folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.pipelines import load_pipeline

MODULE = """
from conveyor import pipeline, step


@step
def load(rows: int) -> int:
    return rows


@pipeline
def training({params}) -> None:
    load({first})
"""


@pytest.fixture(autouse=True)
def clean_imports() -> Iterator[None]:
    """Leave no project module or sys.path entry behind for other tests."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    for name in ("pipelines", "flows", "flows.train", "flows.common"):
        sys.modules.pop(name, None)


def project(root: Path, params: str, first: str) -> Path:
    root.mkdir()
    (root / "pipelines.py").write_text(MODULE.format(params=params, first=first))
    return root


def test_each_project_loads_its_own_module_of_the_same_name(tmp_path: Path) -> None:
    shop = project(tmp_path / "shop", "rows: int = 10", "rows")
    bank = project(tmp_path / "bank", "min_rows: int = 5, seed: int = 0", "min_rows")
    for root, params in ((shop, {"rows"}), (bank, {"min_rows", "seed"}), (shop, {"rows"})):
        found = load_pipeline("pipelines:training", root)
        assert set(found.bind()) == params
        assert found.source_file is not None
        assert found.source_file.parent == root.resolve()


def test_packages_and_their_relative_imports_come_from_the_project(tmp_path: Path) -> None:
    roots = []
    for name, rows in (("a", 1), ("b", 2)):
        root = tmp_path / name
        (root / "flows").mkdir(parents=True)
        (root / "flows" / "__init__.py").write_text("")
        (root / "flows" / "common.py").write_text(f"ROWS = {rows}\n")
        (root / "flows" / "train.py").write_text(
            "from conveyor import pipeline, step\n"
            "from .common import ROWS\n\n\n"
            "@step\ndef load(rows: int) -> int:\n    return rows\n\n\n"
            "@pipeline\ndef training(rows: int = ROWS) -> None:\n    load(rows)\n"
        )
        roots.append((root, rows))
    for root, rows in (*roots, roots[0]):
        found = load_pipeline("flows.train:training", root)
        assert found.bind() == {"rows": rows}


def test_an_installed_module_is_not_dropped_for_a_project_without_one(tmp_path: Path) -> None:
    shop = project(tmp_path / "shop", "rows: int = 10", "rows")
    import json

    load_pipeline("pipelines:training", shop)
    assert sys.modules["json"] is json
