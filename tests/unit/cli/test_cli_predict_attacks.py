"""``conveyor predict`` attacked from the command line: what it prints stays inert (a
terminal escape in a file or column name is shown as its escape), every refusal is one
line plus a hint with exit code 1, and a run stopped by SIGTERM leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from test_cli_predict import built_project, project

from conveyor.cli import main

__all__ = ["built_project", "project"]  # the fixtures, shared with the CLI tests

ESC = "\x1b[2J"


def _one_error(err: str) -> None:
    """Exactly ``error: ...`` and ``hint: ...``, no traceback, no control character."""
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["error", "hint"], err
    assert "Traceback" not in err
    assert all(line.isprintable() for line in lines), err


def test_the_summary_shows_a_hostile_output_name_inert(
    project: tuple[Path, Pipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = project
    name = f"out{ESC}\x07.parquet"
    capsys.readouterr()
    assert main(["predict", "penguins@1", "-i", "penguins.parquet", "-o", name]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "out\\x1b[2J\\x07.parquet" in out.replace("\n", "")
    assert (root / name).exists()


def test_an_error_shows_hostile_file_and_column_names_inert(
    project: tuple[Path, Pipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = project
    frame = pd.read_parquet(root / "penguins.parquet").assign(**{f"c{ESC}\nx": 1})
    frame.to_parquet(root / f"in{ESC}.parquet")
    capsys.readouterr()
    code = main(["predict", "penguins@1", "-i", f"in{ESC}.parquet", "-o", "o.parquet",
                 "--keep", f"k{ESC}"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    _one_error(err)
    assert "in\\x1b[2J.parquet: k\\x1b[2J." in err
    assert "c\\x1b[2J\\x0ax" in err
    assert not (root / "o.parquet").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--batch-rows", str(10**30)], "batch_rows must be a whole number from 1 to"),
        (["--batch-rows", str(2**63)], "batch_rows must be a whole number from 1 to"),
        (["-i", os.fsdecode(b"caf\xe9.parquet")], "caf\\udce9.parquet is not a valid UTF-8"),
        (["-o", os.fsdecode(b"caf\xe9.csv")], "caf\\udce9.csv is not a valid UTF-8"),
        (["-i", "/dev/zero"], "/dev/zero is not a regular file"),
    ],
    ids=["batch rows 10**30", "batch rows 2**63", "input not utf-8", "output not utf-8", "device"],
)
def test_hostile_arguments_exit_1_with_one_line(
    project: tuple[Path, Pipeline],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    said: str,
) -> None:
    root, _ = project
    base = {"-i": "penguins.parquet", "-o": "out.parquet"}
    options = dict(zip(args[::2], args[1::2], strict=True))
    merged = [*(x for k, v in {**base, **options}.items() for x in (k, v))]
    capsys.readouterr()
    assert main(["predict", "penguins@1", *merged]) == 1
    err = capsys.readouterr().err
    assert said in err
    _one_error(err)
    assert not (root / "out.parquet").exists()


@pytest.mark.parametrize(
    "ref", ["../penguins@1", "a/b@1", "penguins@../1", "x" * 5000, f"pen{ESC}@1", "penguins@1@2"]
)
def test_a_hostile_reference_exits_1_with_one_inert_line(
    project: tuple[Path, Pipeline], capsys: pytest.CaptureFixture[str], ref: str
) -> None:
    root, _ = project
    capsys.readouterr()
    assert main(["predict", ref, "-i", "penguins.parquet", "-o", "out.parquet"]) == 1
    _one_error(capsys.readouterr().err)
    assert not (root / "out.parquet").exists()


def _writing(folder: Path) -> bool:
    """Whether a temporary output holds bytes (the writer started; not the empty probe)."""
    try:
        return any(p.stat().st_size > 0 for p in folder.glob(".*.tmp"))
    except FileNotFoundError:  # removed while looking
        return False


def test_a_terminated_run_leaves_no_output_and_no_temporary_file(
    project: tuple[Path, Pipeline],
) -> None:
    """``conveyor predict`` stopped by SIGTERM mid-file (a scheduler's timeout) removes
    its temporary file and exits 143."""
    root, _ = project
    frame = pd.read_parquet(root / "penguins.parquet")
    pd.concat([frame] * 400, ignore_index=True).to_parquet(root / "big.parquet")
    out = root / "scores"
    out.mkdir()
    with subprocess.Popen(
        [sys.executable, "-m", "conveyor", "predict", "penguins@1", "-i", "big.parquet",
         "-o", "scores/out.parquet", "--batch-rows", "200"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:  # fmt: skip
        try:
            deadline = time.monotonic() + 240
            while not _writing(out) and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _writing(out), process.communicate()
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=120)
            assert process.returncode == 128 + signal.SIGTERM, err
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert os.listdir(out) == []
