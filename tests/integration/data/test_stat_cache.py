"""The state cache answers a re-add from stat facts and notices every rewrite it can see.

The facts are size, mtime, ctime and inode (as git's index keeps them): a touched file is
read again but makes no version; a file rewritten with its size and mtime put back is
caught by its ctime; a file replaced by another (same size and mtime) by its inode.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from data_workspace import Workspace


def _folder(root: Path) -> Path:
    folder = root / "images"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i}.txt").write_text(f"image {i}\n")
    return folder


def _rewrite_keeping_size_and_mtime(path: Path, text: str) -> None:
    """Write ``text`` (same length) into ``path`` and put its mtime back, in a later
    clock tick than its last change so that the ctime moves."""
    before = path.stat()
    assert len(text.encode()) == before.st_size
    deadline = time.monotonic() + 5
    while True:
        path.write_text(text)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        if path.stat().st_ctime_ns != before.st_ctime_ns or time.monotonic() > deadline:
            break
        time.sleep(0.005)


def test_touching_a_file_rehashes_it_but_makes_no_version(ws: Workspace, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    first = ws.registry.add("images", folder)
    target = folder / "3.txt"
    info = target.stat()
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    again = ws.registry.add("images", folder)
    assert again.unchanged
    assert again.version == first.version == 1
    assert again.stats is not None
    assert (again.stats.hashed_files, again.stats.cached_files) == (1, 4)
    # The new facts are remembered: the next add reads nothing.
    third = ws.registry.add("images", folder)
    assert third.stats is not None
    assert (third.stats.hashed_files, third.stats.cached_files) == (0, 5)


def test_a_rewrite_with_size_and_mtime_restored_is_caught_by_ctime(
    ws: Workspace, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    ws.registry.add("images", folder)
    target = folder / "2.txt"
    _rewrite_keeping_size_and_mtime(target, "IMAGE 2\n")
    after = target.stat()
    v2 = ws.registry.add("images", folder)
    assert not v2.unchanged
    assert v2.version == 2
    assert v2.stats is not None
    assert (v2.stats.hashed_files, v2.stats.cached_files) == (1, 4)
    restored = tmp_path / "restored"
    ws.registry.checkout("images@2", restored)
    assert (restored / "2.txt").read_text() == "IMAGE 2\n"
    assert after.st_size == len("IMAGE 2\n")


def test_a_file_replaced_by_another_of_same_size_and_mtime_is_caught_by_inode(
    ws: Workspace, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    ws.registry.add("images", folder)
    target = folder / "1.txt"
    info = target.stat()
    replacement = tmp_path / "new.txt"
    replacement.write_text("image X\n")
    os.utime(replacement, ns=(info.st_atime_ns, info.st_mtime_ns))
    os.replace(replacement, target)
    assert target.stat().st_ino != info.st_ino
    v2 = ws.registry.add("images", folder)
    assert v2.version == 2
    assert v2.stats is not None
    assert v2.stats.hashed_files == 1
    assert (
        ws.registry.manifest("images@2")["files"]["1.txt"]
        != ws.registry.manifest("images@1")["files"]["1.txt"]
    )


def test_a_cache_of_the_older_layout_is_dropped_not_trusted(ws: Workspace, tmp_path: Path) -> None:
    import sqlite3

    folder = _folder(tmp_path)
    cache = ws.root / ".conveyor" / "cache" / "state.db"
    cache.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(cache) as conn:
        conn.execute(
            "CREATE TABLE file_hashes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
            "inode INTEGER, hash TEXT)"
        )
        stat = (folder / "0.txt").stat()
        conn.execute(
            "INSERT INTO file_hashes VALUES (?, ?, ?, ?, ?)",
            (str(folder / "0.txt"), stat.st_size, stat.st_mtime_ns, stat.st_ino, "0" * 64),
        )
    conn.close()
    v = ws.registry.add("images", folder)
    assert v.stats is not None
    assert (v.stats.hashed_files, v.stats.cached_files) == (5, 0)
    assert ws.registry.manifest("images@1")["files"]["0.txt"]["hash"] != "0" * 64
