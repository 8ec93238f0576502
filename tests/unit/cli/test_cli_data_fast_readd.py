"""An unchanged ``conveyor data add`` imports no SQLAlchemy, Alembic, pandas or pyarrow.

The re-add runs in a fresh interpreter (this test process has imported everything
already) that drives the CLI as the console script does, then lists ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.cli._quick_add import STORE_REVISION, quick_unchanged
from conveyor.store._migrate import HEAD_REVISION

_SETUP = """
import sys
from pathlib import Path

from conveyor.workspace import init_project

project = Path(sys.argv[1])
init_project(project, name="fast")
(project / "images" / "nested").mkdir(parents=True)
for i in range(30):
    (project / "images" / ("nested" if i % 2 else "") / f"{i}.txt").write_text(f"image {i}\\n")
(project / "model.bin").write_bytes(bytes(range(256)) * 8)
"""

_ADD = """
import json, os, sys

os.chdir(sys.argv[1])
from conveyor.cli._app import main

code = main(["data", "add", sys.argv[2], sys.argv[3]])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _add(project: Path, name: str, source: str) -> tuple[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _ADD, str(project), name, source],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    *lines, last = done.stdout.strip().splitlines()
    result = json.loads(last)
    assert result["code"] == 0, done.stderr
    return "\n".join(lines), result["modules"]


@pytest.mark.parametrize(("name", "source"), [("images", "images"), ("model", "model.bin")])
def test_unchanged_readd_imports_no_orm_alembic_pandas_or_pyarrow(
    tmp_path: Path, name: str, source: str
) -> None:
    project = tmp_path / "project"
    subprocess.run([sys.executable, "-c", _SETUP, str(project)], check=True, timeout=240)
    added, first = _add(project, name, source)
    assert added.startswith(f"Added {name}@1")
    assert "sqlalchemy" in {m.split(".")[0] for m in first}  # the probe sees the normal path
    out, modules = _add(project, name, source)
    assert out.startswith(f"{name}@1 unchanged (content ")
    loaded = {m.split(".")[0] for m in modules}
    assert not loaded & {"sqlalchemy", "alembic", "pandas", "pyarrow", "numpy"}
    assert "conveyor.store" not in modules
    assert "conveyor.workspace" not in modules


def test_the_store_revision_read_is_the_shipped_head() -> None:
    assert STORE_REVISION == HEAD_REVISION


@pytest.mark.parametrize(
    "name", ["", "../x", "a" * 200, "naïve", "x\x00y", "x;DROP TABLE datasets"]
)
def test_hostile_names_and_paths_outside_a_project_give_no_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.txt").write_text("x", encoding="utf-8")
    assert quick_unchanged(name, tmp_path / "f.txt", {}) is None
    assert quick_unchanged("ok", tmp_path / "f.txt", {}) is None  # no conveyor.yaml
    assert quick_unchanged("ok", Path("\udcff"), {}) is None
