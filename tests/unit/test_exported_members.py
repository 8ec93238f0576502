"""Each package's ``__all__`` is sorted and names what it exports; ``import conveyor`` is cheap."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = [
    "conveyor",
    "conveyor.core",
    "conveyor.config",
    "conveyor.errors",
    "conveyor.store",
    "conveyor.artifacts",
    "conveyor.data",
    "conveyor.workspace",
    "conveyor.tracking",
    "conveyor.pipelines",
    "conveyor.pipelines.materializers",
    "conveyor.tuning",
    "conveyor.registry",
    "conveyor.registry.flavors",
    "conveyor.predictions",
    "conveyor.explain",
    "conveyor.serving",
    "conveyor.checks",
    "conveyor.checks.data",
    "conveyor.checks.model",
    "conveyor.ci",
    "conveyor.deployments",
    "conveyor.deploy",
    "conveyor.notify",
    "conveyor.monitoring",
    "conveyor.automation",
    "conveyor.cli",
    "conveyor.demo",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolvable(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert list(exported) == sorted(exported)
    for member in exported:
        assert getattr(module, member) is not None


def test_import_conveyor_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, conveyor; "
        "heavy = [m for m in ('pandas', 'pyarrow', 'sqlalchemy', 'fsspec') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
