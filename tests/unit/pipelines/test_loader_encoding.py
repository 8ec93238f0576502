"""Pipeline files that are not UTF-8: a definition error naming the file and the byte."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.cli import main
from conveyor.pipelines import PipelineDefinitionError, load_pipeline
from conveyor.workspace import init_project

PIPELINE = """
from conveyor import pipeline, step


@step
def load() -> str:
    return "{text}"


@pipeline
def p() -> None:
    load()
"""


@pytest.fixture(autouse=True)
def clean_imports() -> Iterator[None]:
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def test_a_non_utf8_file_names_the_file_and_the_byte(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_bytes(b"x\xff")
    with pytest.raises(PipelineDefinitionError) as info:
        load_pipeline("bad.py:p", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "bad.py") in message
    assert "byte 1" in message
    assert "0xff" in message
    assert "UTF-8" in info.value.hint
    assert info.value.fields["offset"] == 1


def test_a_declared_latin1_file_loads(tmp_path: Path) -> None:
    text = "# -*- coding: latin-1 -*-\n" + PIPELINE.format(text="café")
    (tmp_path / "latin.py").write_bytes(text.encode("latin-1"))
    assert load_pipeline("latin.py:p", root=tmp_path).name == "p"


@pytest.mark.parametrize("command", [["run"], ["export", "airflow", "-o", "dags"]])
def test_cli_reports_a_non_utf8_file_in_one_line(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "project"
    init_project(root, name="encoding")
    (root / "bad.py").write_bytes(PIPELINE.format(text="caf\xe9").encode("latin-1"))
    monkeypatch.chdir(root)
    assert main([*command, "bad.py:p"]) == 1
    captured = capsys.readouterr()
    err = captured.err + captured.out
    assert "bad.py" in err
    assert "not valid UTF-8" in err
    assert "unexpected" not in err.lower()
    assert "UnicodeDecodeError" not in err
