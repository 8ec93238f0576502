"""Adding tables, files and folders; versions, parents, the lock file and the state cache."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_workspace import Workspace

from conveyor.data import LockFile
from conveyor.errors import (
    DatasetNotFoundError,
    DataSourceError,
    InvalidNameError,
    VersionNotFoundError,
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "amount": [10.0, 20.5, 31.0], "city": ["a", "b", "a"]})


def test_add_csv_records_a_table_with_schema_profile_and_lock_entry(
    ws: Workspace, tmp_path: Path
) -> None:
    csv = tmp_path / "orders.csv"
    csv.write_text("id,amount,city\n1,10.0,a\n2,20.5,b\n3,31.0,a\n")
    v = ws.registry.add("orders", csv, message="first cut")
    assert (v.name, v.version, v.kind, v.unchanged) == ("orders", 1, "table", False)
    assert v.row_count == 3
    assert v.schema == {"id": "int64", "amount": "double", "city": "string"}
    assert v.profile is not None
    assert v.profile["columns"]["amount"]["mean"] == pytest.approx(20.5)
    assert v.parent_version is None
    assert v.message == "first cut"
    assert v.created_by == "tester"
    assert LockFile.load(ws.root).get("orders") == (1, v.content_hash)
    pd.testing.assert_frame_equal(ws.registry.load("orders"), _frame(), check_dtype=False)


def test_add_records_the_version_its_refs_and_an_audit_event(ws: Workspace) -> None:
    v = ws.registry.add("orders", _frame())
    events = ws.store.audit_log(action="data.add")
    assert [e.target for e in events] == ["dataset:orders@1"]
    assert events[0].details["content_hash"] == v.content_hash
    manifest = ws.registry.manifest("orders@1")
    data_hash = manifest["files"]["data.parquet"]["hash"]
    assert {v.content_hash, data_hash} <= ws.store.referenced_hashes()
    assert manifest["name"] == "orders"
    assert manifest["version"] == 1
    assert manifest["parent"] is None


def test_add_parquet_and_dataframe_of_the_same_data_give_the_same_content(
    ws: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.Table.from_pandas(_frame()), path)
    first = ws.registry.add("orders", path)
    again = ws.registry.add("orders", _frame())
    assert again.unchanged
    assert again.version == first.version == 1
    pd.testing.assert_frame_equal(ws.registry.load("orders@1"), _frame(), check_dtype=False)


def test_adding_the_same_data_twice_makes_no_new_version(ws: Workspace) -> None:
    first = ws.registry.add("orders", _frame())
    second = ws.registry.add("orders", _frame().copy())
    assert second.unchanged is True
    assert second.version == 1
    assert second.content_hash == first.content_hash
    assert [v.version for v in ws.registry.log("orders")] == [1]


def test_changed_data_makes_the_next_version_with_a_parent_link(ws: Workspace) -> None:
    v1 = ws.registry.add("orders", _frame())
    v2 = ws.registry.add("orders", _frame().assign(amount=[1.0, 2.0, 3.0]), message="fix")
    assert (v2.version, v2.parent_version, v2.unchanged) == (2, 1, False)
    assert ws.registry.manifest(v2.ref)["parent"] == {"version": 1, "content_hash": v1.content_hash}
    assert [v.version for v in ws.registry.log("orders")] == [2, 1]
    assert ws.registry.get("orders").version == 2
    assert ws.registry.get("orders@1").content_hash == v1.content_hash
    assert ws.registry.get("orders", 1).version == 1
    assert LockFile.load(ws.root).get("orders") == (2, v2.content_hash)


def test_list_summarises_every_dataset(ws: Workspace, tmp_path: Path) -> None:
    ws.registry.add("orders", _frame())
    ws.registry.add("orders", _frame().head(2))
    (tmp_path / "notes.txt").write_text("hello")
    ws.registry.add("notes", tmp_path / "notes.txt")
    summary = [(s.name, s.latest_version, s.versions, s.kind) for s in ws.registry.list()]
    assert summary == [("notes", 1, 1, "file"), ("orders", 2, 2, "table")]


def test_add_single_file_versions_it_as_opaque_bytes(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00\x01binary")
    v = ws.registry.add("weights", path)
    assert (v.kind, v.file_count, v.size_bytes, v.row_count) == ("file", 1, 8, None)
    assert list(ws.registry.manifest(v.ref)["files"]) == ["model.bin"]


def _make_folder(root: Path, count: int) -> Path:
    for i in range(count):
        sub = root / f"part{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"file{i}.txt").write_text(f"content {i}\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / ".conveyor").mkdir()
    (root / ".conveyor" / "x").write_text("x")
    return root


def test_folder_add_lists_every_file_by_relative_posix_path(ws: Workspace, tmp_path: Path) -> None:
    folder = _make_folder(tmp_path / "images", 6)
    os.symlink("/etc/hostname", folder / "outside-link")
    os.symlink("part0/file0.txt", folder / "inside-link")
    v = ws.registry.add("images", folder)
    assert v.stats is not None
    files = ws.registry.manifest(v.ref)["files"]
    assert sorted(files) == [
        "inside-link",
        "part0/file0.txt",
        "part0/file3.txt",
        "part1/file1.txt",
        "part1/file4.txt",
        "part2/file2.txt",
        "part2/file5.txt",
    ]
    assert files["inside-link"] == files["part0/file0.txt"]
    assert v.stats.skipped_links == 1
    assert v.kind == "folder"
    assert v.file_count == 7


def test_re_adding_an_unchanged_folder_reads_no_file(ws: Workspace, tmp_path: Path) -> None:
    folder = _make_folder(tmp_path / "images", 30)
    first = ws.registry.add("images", folder)
    assert first.stats is not None
    assert first.stats.hashed_files == 30
    again = ws.registry.add("images", folder)
    assert again.unchanged
    assert again.version == 1
    stats = again.stats
    assert stats is not None
    assert (stats.hashed_files, stats.cached_files, stats.uploaded_objects) == (0, 30, 0)
    # Touching one file's content makes exactly that file be read again.
    (folder / "part0" / "file0.txt").write_text("changed\n")
    v2 = ws.registry.add("images", folder)
    assert v2.version == 2
    assert v2.stats is not None
    assert v2.stats.hashed_files == 1
    assert ws.registry.get("images@2") == v2  # the statistics are not part of equality
    assert ws.registry.get("images@2").stats is None
    assert (ws.root / ".conveyor" / "cache" / "state.db").is_file()


def test_missing_path_is_a_data_source_error(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="no such file or folder") as info:
        ws.registry.add("orders", tmp_path / "nope.csv")
    assert info.value.fields["path"].endswith("nope.csv")
    assert info.value.hint


def test_broken_symlink_is_a_data_source_error_naming_the_target(
    ws: Workspace, tmp_path: Path
) -> None:
    link = tmp_path / "orders.csv"
    os.symlink(tmp_path / "gone.csv", link)
    with pytest.raises(DataSourceError, match=r"symbolic link to .*gone\.csv"):
        ws.registry.add("orders", link)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_a_data_source_error(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "secret.bin"
    path.write_bytes(b"x")
    path.chmod(0)
    try:
        with pytest.raises(DataSourceError, match=r"(?i)permission denied"):
            ws.registry.add("secret", path)
    finally:
        path.chmod(0o600)


def test_malformed_csv_names_the_line(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6,7\n")
    with pytest.raises(DataSourceError, match="at line 4") as info:
        ws.registry.add("bad", path)
    assert info.value.fields["line"] == 4
    with pytest.raises(DatasetNotFoundError):
        ws.registry.get("bad")


def test_empty_csv_is_a_data_source_error(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataSourceError, match="is empty"):
        ws.registry.add("empty", path)


def test_folder_without_files_is_a_data_source_error(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "nothing"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("x")
    with pytest.raises(DataSourceError, match="has no files to version"):
        ws.registry.add("nothing", folder)


@pytest.mark.parametrize("name", ["a/b", "..", "bad\x00name", "with space", ""])
def test_invalid_dataset_names_are_refused(ws: Workspace, name: str) -> None:
    with pytest.raises(InvalidNameError, match="Invalid dataset name"):
        ws.registry.add(name, _frame())


def test_get_unknown_dataset_lists_known_names(ws: Workspace) -> None:
    ws.registry.add("orders", _frame())
    ws.registry.add("customers", _frame())
    with pytest.raises(DatasetNotFoundError, match="Known datasets: customers, orders") as info:
        ws.registry.get("ordres")
    assert "conveyor data list" in (info.value.hint or "")


def test_get_unknown_version_says_which_versions_exist(ws: Workspace) -> None:
    for n in range(1, 4):
        ws.registry.add("orders", _frame().head(n))
    with pytest.raises(
        VersionNotFoundError, match=r"Dataset 'orders' has no version 7\. Versions: 1-3\."
    ) as info:
        ws.registry.get("orders@7")
    assert "conveyor data log orders" in (info.value.hint or "")
