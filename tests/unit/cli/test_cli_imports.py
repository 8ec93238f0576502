"""``conveyor data add`` imports only what adding files needs.

Each check runs in a fresh interpreter (this test process has imported everything
already) that drives the CLI as the console script does, then lists ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

_SCRIPT = """
import json, os, sys
from pathlib import Path

from conveyor.workspace import init_project

project = Path(sys.argv[1])
init_project(project, name="imports")
folder = project / "images"
folder.mkdir()
for i in range(20):
    (folder / f"{i}.txt").write_text(f"image {i}\\n")
os.chdir(project)
from conveyor.cli._app import main

codes = [main(["data", "add", "images", "images"]), main(["data", "add", "images", "images"])]
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def _modules_of_two_adds(tmp_path: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "project")],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    lines = done.stdout.strip().splitlines()
    assert "images@1 unchanged" in done.stdout
    result = json.loads(lines[-1])
    assert result["codes"] == [0, 0]
    modules: list[str] = result["modules"]
    assert "conveyor.cli._data" in modules  # the probe saw the command's imports
    return modules


def _top_level(modules: list[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_data_add_imports_no_pandas_pyarrow_or_numpy(tmp_path: Path) -> None:
    loaded = _top_level(_modules_of_two_adds(tmp_path))
    assert not loaded & {"pandas", "pyarrow", "numpy"}
    # Nor the model registry, the prediction log, the web UI or the HTTP client.
    modules = set(_modules_of_two_adds(tmp_path / "again"))
    assert not modules & {
        "conveyor.registry",
        "conveyor.predictions",
        "conveyor.ui",
        "conveyor.cli._predictions",
        "httpx",
    }


@pytest.mark.xfail(
    strict=True,
    reason="conveyor.store loads alembic to read the schema revision on every open",
)
def test_data_add_does_not_import_alembic(tmp_path: Path) -> None:
    assert "alembic" not in _top_level(_modules_of_two_adds(tmp_path))
