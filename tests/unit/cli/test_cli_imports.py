"""``conveyor data add`` imports only what adding files needs.

Each check runs in a fresh interpreter (this test process has imported everything
already) that drives the CLI as the console script does, then lists ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import json, os, sys
from pathlib import Path

from conveyor.workspace import init_project

project = Path(sys.argv[1])
adds = int(sys.argv[2])
if not project.exists():
    init_project(project, name="imports")
    folder = project / "images"
    folder.mkdir()
    for i in range(20):
        (folder / f"{i}.txt").write_text(f"image {i}\\n")
os.chdir(project)
from conveyor.cli._app import main

codes = [main(["data", "add", "images", "images"]) for _ in range(adds)]
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def _run_adds(project: Path, adds: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(project), str(adds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )


def _modules(done: subprocess.CompletedProcess[str], adds: int) -> list[str]:
    assert "images@1 unchanged" in done.stdout
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0] * adds
    modules: list[str] = result["modules"]
    assert "conveyor.cli._data" in modules  # the probe saw the command's imports
    return modules


def _modules_of_two_adds(tmp_path: Path) -> list[str]:
    return _modules(_run_adds(tmp_path / "project", 2), 2)


def _modules_of_a_readd(tmp_path: Path) -> list[str]:
    """A re-add in a fresh interpreter, the workspace's store created by an earlier one."""
    _run_adds(tmp_path / "project", 1)
    return _modules(_run_adds(tmp_path / "project", 1), 1)


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


def test_readd_imports_no_alembic_pandas_or_pyarrow(tmp_path: Path) -> None:
    # The store's schema is checked by its version number; Alembic loads only to migrate
    # (creating the workspace's store did, in the first interpreter).
    assert not _top_level(_modules_of_a_readd(tmp_path)) & {"alembic", "pandas", "pyarrow"}


_ENTRY = """
import json, sys
sys.argv = ["conveyor", *sys.argv[1:]]
from conveyor.cli._quick_add import run

try:
    run()
except SystemExit as done:
    print(json.dumps({"code": done.code, "modules": sorted(sys.modules)}))
"""


def test_the_console_script_answers_an_unchanged_readd_before_loading_the_cli(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    _run_adds(project, 1)
    done = subprocess.run(
        [sys.executable, "-c", _ENTRY, "data", "add", "images", "images"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    assert done.stdout.startswith("images@1 unchanged (content ")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    loaded = _top_level(result["modules"])
    assert not loaded & {"typer", "click", "rich", "pydantic", "sqlalchemy", "alembic"}
    # Anything it cannot prove unchanged goes to the full command line (and loads it).
    (project / "images" / "new.txt").write_text("new\n")
    changed = subprocess.run(
        [sys.executable, "-c", _ENTRY, "data", "add", "images", "images"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    result = json.loads(changed.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert "images@2" in changed.stdout
    assert "typer" in _top_level(result["modules"])


def test_the_installed_console_script_is_the_quick_entry() -> None:
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="conveyor")
    assert script.value == "conveyor.cli._quick_add:run"
