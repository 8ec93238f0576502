"""`conveyor models import-mlflow` as a user runs it: a crafted skops file is refused with
exit 1 and nothing registered, while an honest model directory imports."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

CONVEYOR = str(Path(sys.executable).parent / "conveyor")
MLMODEL = "flavors:\n  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n"


def _crafted_skops(marker: Path) -> bytes:
    """A skops file whose reduce node calls numpy's ``runstring`` (it ``exec``s a string)."""
    code = {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(f"open({str(marker)!r}, 'w').write('ran')"),
        "is_json": True,
    }
    scope = {
        "__class__": "dict",
        "__module__": "builtins",
        "__loader__": "DictNode",
        "content": {},
        "key_types": {
            "__class__": "list",
            "__module__": "builtins",
            "__loader__": "ListNode",
            "content": [],
        },
    }
    node = {
        "__class__": "runstring",
        "__module__": "numpy.testing._private.utils",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [code, scope],
        },
        "protocol": 2,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(node))
    return buffer.getvalue()


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [CONVEYOR, *args],
        check=False,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


@pytest.mark.slow
def test_a_crafted_skops_file_is_refused_by_the_cli_and_an_honest_one_imports(
    tmp_path: Path,
) -> None:
    assert _run(tmp_path, "init", "project").returncode == 0
    project = tmp_path / "project"
    marker = tmp_path / "ran.txt"
    evil = project / "evil"
    evil.mkdir()
    (evil / "model.skops").write_bytes(_crafted_skops(marker))
    (evil / "MLmodel").write_text(MLMODEL, encoding="utf-8")

    refused = _run(project, "models", "import-mlflow", "evil", "evil")
    assert refused.returncode == 1
    assert "numpy.testing._private.utils.runstring" in refused.stdout + refused.stderr
    assert not marker.exists()

    honest = project / "honest"
    honest.mkdir()
    x, y = load_diabetes(return_X_y=True)
    (honest / "model.skops").write_bytes(sio.dumps(Ridge().fit(np.asarray(x), y)))
    (honest / "MLmodel").write_text(MLMODEL, encoding="utf-8")
    imported = _run(project, "models", "import-mlflow", "honest", "diabetes", "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["flavor"] == "sklearn"

    listed = _run(project, "models", "list", "--json")
    assert [m["name"] for m in json.loads(listed.stdout)] == ["diabetes"]
