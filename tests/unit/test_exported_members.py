"""Public packages' ``__all__`` are sorted, resolvable and complete; ``import conveyor`` is cheap.

Complete means every public name a package's namespace holds is in its ``__all__`` (as
httpx checks for its own): a helper imported for the package's own use is imported under a
private name or only for type checking. The packages are found by walking ``conveyor``, so
a new subpackage is checked without being listed here.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

import conveyor

#: Names every ``__init__.py`` may hold that are not exports.
NOT_EXPORTS = frozenset({"annotations", "TYPE_CHECKING"})


def _public_packages() -> list[str]:
    found = ["conveyor"]
    for info in pkgutil.walk_packages(conveyor.__path__, "conveyor."):
        parts = info.name.split(".")
        private = any(part.startswith("_") for part in parts) or "migrations" in parts
        if info.ispkg and not private:
            found.append(info.name)
    return sorted(found)


PACKAGES = _public_packages()


def test_every_public_package_is_found() -> None:
    wanted = {"conveyor.pipelines.executors", "conveyor.tuning.automl", "conveyor.rollout.analysis"}
    assert wanted <= set(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolvable(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert list(exported) == sorted(exported)
    assert len(set(exported)) == len(exported)
    for member in exported:
        assert getattr(module, member) is not None


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_every_public_member(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        key
        for key, value in vars(module).items()
        if not key.startswith("_")
        and key not in NOT_EXPORTS
        and not isinstance(value, types.ModuleType)
    }
    assert sorted(public - set(module.__all__)) == []


def test_import_conveyor_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, conveyor; "
        "heavy = [m for m in ('pandas', 'pyarrow', 'sqlalchemy', 'fsspec') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
