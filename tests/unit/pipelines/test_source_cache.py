"""Step sources are read once per process and read again when their file changes."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from conveyor.pipelines._cache import source_closure


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "helpers_mod.py").write_text("def helper(x):\n    return x + 1\n")
    (tmp_path / "steps_mod.py").write_text(
        "import helpers_mod\n\n\ndef body(x):\n    return helpers_mod.helper(x)\n"
    )
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in ("helpers_mod", "steps_mod"):
        sys.modules.pop(name, None)


def test_unchanged_files_give_the_kept_closure_and_a_changed_file_is_read_again(
    project: Path,
) -> None:
    _load(project / "helpers_mod.py", "helpers_mod")
    steps = _load(project / "steps_mod.py", "steps_mod")
    first = source_closure(steps.body, [project])
    assert sorted(first) == ["helpers_mod.helper", "steps_mod.body"]

    helper = project / "helpers_mod.py"
    stat = helper.stat()
    helper.write_text("def helper(x):\n    return x + 2\n")  # same size
    os.utime(helper, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # Same modification time and size: the kept closure answers, no file is read.
    assert source_closure(steps.body, [project]) == first

    os.utime(helper, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = source_closure(steps.body, [project])
    assert again["helpers_mod.helper"] == "def helper(x):\n    return x + 2\n"
    assert again["steps_mod.body"] == first["steps_mod.body"]


def test_other_roots_are_kept_apart(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _load(project / "helpers_mod.py", "helpers_mod")
    steps = _load(project / "steps_mod.py", "steps_mod")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert sorted(source_closure(steps.body, [project])) == ["helpers_mod.helper", "steps_mod.body"]
    assert sorted(source_closure(steps.body, [elsewhere])) == ["steps_mod.body"]
