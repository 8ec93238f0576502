"""Paths from a manifest are references: checkout never writes outside its destination."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from data_workspace import Workspace
from sqlalchemy import update

from conveyor.data import CheckoutConflictError, CheckoutPathError
from conveyor.data._manifest import manifest_bytes
from conveyor.errors import IntegrityError
from conveyor.store._data_models import DatasetVersionRow


def _add_folder(ws: Workspace, tmp_path: Path) -> str:
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    (folder / "top.txt").write_bytes(b"top")
    (folder / "sub" / "deep.txt").write_bytes(b"deep")
    return ws.registry.add("images", folder).ref


def _tamper(ws: Workspace, ref: str, files: dict[str, Any]) -> None:
    """Store a well-formed manifest naming ``files`` and point the version's record at it
    (what an attacker with write access to the database and the store could do)."""
    manifest = ws.registry.manifest(ref)
    entry = next(iter(manifest["files"].values()))
    manifest["files"] = dict.fromkeys(files, entry)
    digest = ws.artifacts.put_bytes(manifest_bytes(manifest)).hash
    with ws.store.engine.begin() as conn:
        conn.execute(update(DatasetVersionRow).values(content_hash=digest))


@pytest.mark.parametrize(
    "path",
    [
        "../escape.txt",
        "sub/../../escape.txt",
        "/tmp/escape.txt",
        "sub\\..\\..\\escape.txt",
        "a\x00b",
    ],
)
def test_a_tampered_manifest_with_escaping_paths_writes_nothing(
    ws: Workspace, tmp_path: Path, path: str
) -> None:
    ref = _add_folder(ws, tmp_path)
    _tamper(ws, ref, {path: None})
    dest = tmp_path / "out" / "inner"
    with pytest.raises(IntegrityError, match="Unsafe file path") as info:
        ws.registry.checkout(ref, dest)
    assert repr(path) in str(info.value)
    assert not (tmp_path / "out" / "escape.txt").exists()
    assert not dest.exists()


def test_checkout_refuses_to_write_through_a_symlinked_subfolder(
    ws: Workspace, tmp_path: Path
) -> None:
    ref = _add_folder(ws, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CheckoutPathError, match=r"symbolic link .*sub.*outside") as info:
        ws.registry.checkout(ref, dest, force=True)
    assert "Nothing was written" in str(info.value)
    assert list(outside.iterdir()) == []
    assert not (dest / "top.txt").exists()


def test_an_existing_link_in_place_of_a_file_is_a_conflict_and_force_replaces_the_link(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "notes.txt"
    source.write_bytes(b"recorded")
    ref = ws.registry.add("notes", source).ref
    target = tmp_path / "target.txt"
    target.write_bytes(b"recorded")  # same bytes: a link must still not count as restored
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "notes.txt").symlink_to(target)
    with pytest.raises(CheckoutConflictError):
        ws.registry.checkout(ref, dest)
    ws.registry.checkout(ref, dest, force=True)
    assert not (dest / "notes.txt").is_symlink()
    assert (dest / "notes.txt").read_bytes() == b"recorded"
    assert target.read_bytes() == b"recorded"
