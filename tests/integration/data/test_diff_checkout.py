"""Diffs between versions and verified checkouts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from data_workspace import Workspace

from conveyor.data import CheckoutConflictError, NotATableError
from conveyor.errors import IntegrityError


def test_diff_of_table_versions_shows_mean_column_and_row_changes(ws: Workspace) -> None:
    a = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["u", "u", "v"]})
    b = pd.DataFrame({"x": [10.0, 20.0, 30.0, 40.0], "c": ["u", "v", "v", "v"], "y": [1, 2, 3, 4]})
    ws.registry.add("t", a)
    ws.registry.add("t", b)
    diff = ws.registry.diff("t@1", "t@2")
    assert diff.columns_added == ["y"]
    assert diff.columns_removed == []
    assert diff.row_counts == (3, 4)
    assert diff.row_count_delta == 1
    assert diff.stat_changes["x"]["mean"] == {"a": 2.0, "b": 25.0}
    assert diff.stat_changes["x"]["max"] == {"a": 3.0, "b": 40.0}
    assert diff.top_changes["c"]["v"] == {"a": pytest.approx(1 / 3), "b": 0.75}
    assert diff.files_changed == ["data.parquet"]
    json.dumps(diff.to_dict(), allow_nan=False)
    assert diff.to_dict()["row_count_delta"] == 1


def test_diff_reports_type_changes_and_removed_columns(ws: Workspace) -> None:
    ws.registry.add("t", pd.DataFrame({"x": [1, 2], "gone": [1, 1]}))
    ws.registry.add("t", pd.DataFrame({"x": [1.5, 2.5]}))
    diff = ws.registry.diff("t@1", "t@latest")
    assert diff.type_changes == {"x": ("int64", "double")}
    assert diff.columns_removed == ["gone"]


def test_diff_of_folder_versions_lists_added_removed_and_changed_files(
    ws: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "keep.txt").write_text("same")
    (folder / "edit.txt").write_text("old")
    (folder / "drop.txt").write_text("bye")
    ws.registry.add("f", folder)
    (folder / "edit.txt").write_text("new")
    (folder / "drop.txt").unlink()
    (folder / "new.txt").write_text("hi")
    ws.registry.add("f", folder)
    diff = ws.registry.diff("f@1", "f@2")
    assert (diff.files_added, diff.files_removed, diff.files_changed) == (
        ["new.txt"],
        ["drop.txt"],
        ["edit.txt"],
    )
    assert diff.stat_changes == {}
    assert not diff.is_empty
    assert ws.registry.diff("f@2", "f@2").is_empty


def test_checkout_of_a_folder_restores_every_file(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    (folder / "a" / "b").mkdir(parents=True)
    (folder / "top.txt").write_text("top")
    (folder / "a" / "b" / "deep.bin").write_bytes(bytes(range(256)))
    ws.registry.add("f", folder)
    dest = ws.registry.checkout("f", tmp_path / "out")
    assert dest == tmp_path / "out"
    assert (dest / "top.txt").read_text() == "top"
    assert (dest / "a" / "b" / "deep.bin").read_bytes() == bytes(range(256))
    # A second checkout over identical files is a no-op, not a conflict.
    ws.registry.checkout("f", tmp_path / "out")


def test_checkout_of_a_table_writes_parquet_to_a_file_or_into_a_folder(
    ws: Workspace, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3]})
    ws.registry.add("t", frame)
    path = ws.registry.checkout("t@1", tmp_path / "t.parquet")
    assert pq.read_table(path).to_pandas().equals(frame)
    (tmp_path / "dir").mkdir()
    inside = ws.registry.checkout("t", tmp_path / "dir")
    assert inside == tmp_path / "dir" / "t.parquet"
    assert inside.is_file()


def test_checkout_refuses_to_overwrite_different_files_unless_forced(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("recorded")
    ws.registry.add("notes", source)
    dest = tmp_path / "dest.txt"
    dest.write_text("local edits")
    with pytest.raises(CheckoutConflictError, match=r"would overwrite 1 existing") as info:
        ws.registry.checkout("notes", dest)
    assert "force" in (info.value.hint or "")
    assert dest.read_text() == "local edits"
    ws.registry.checkout("notes", dest, force=True)
    assert dest.read_text() == "recorded"


def test_checkout_verifies_bytes_and_writes_nothing_from_a_corrupt_object(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"A" * 1000)
    v = ws.registry.add("blob", source)
    digest = ws.registry.manifest(v)["files"]["data.bin"]["hash"]
    stored = ws.root / ".conveyor" / "artifacts" / "objects" / digest[:2] / digest[2:]
    raw = bytearray(stored.read_bytes())
    raw[500] ^= 0xFF
    stored.chmod(0o644)
    stored.write_bytes(bytes(raw))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IntegrityError, match=digest):
        ws.registry.checkout("blob", out)
    assert list(out.iterdir()) == []


def test_load_of_a_folder_version_is_a_clear_error(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x").write_text("x")
    ws.registry.add("f", tmp_path / "f")
    with pytest.raises(NotATableError, match=r"f@1 is a folder, not a table"):
        ws.registry.load("f")
