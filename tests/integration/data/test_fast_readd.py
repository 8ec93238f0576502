"""``conveyor data add`` of unchanged content answers without opening the workspace, with
exactly the normal path's output and effects; every other case takes the normal path."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sklearn
from blake3 import blake3

from conveyor.cli import _data as cli_data
from conveyor.cli._app import main
from conveyor.cli._quick_add import MARKER, STORE_REVISION, answer, quick_unchanged
from conveyor.core import process_env
from conveyor.data._manifest import manifest_bytes
from conveyor.workspace import init_project

_SKLEARN_DATA = Path(sklearn.__file__).parent / "datasets" / "data"


class _Calls:
    """Counts the workspace openings of the add command (the normal path)."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> _Calls:
    seen = _Calls()
    real = cli_data._workspace

    def counting() -> object:
        seen.count += 1
        return real()

    monkeypatch.setattr(cli_data, "_workspace", counting)
    return seen


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    init_project(root, name="quick")
    folder = root / "data"
    (folder / "nested" / "deeper").mkdir(parents=True)
    # Real packaged data of mixed kinds: CSV tables, gzipped CSV and a text description.
    shutil.copy(_SKLEARN_DATA / "iris.csv", folder / "iris.csv")
    shutil.copy(_SKLEARN_DATA / "wine_data.csv", folder / "nested" / "wine.csv")
    shutil.copy(_SKLEARN_DATA / "diabetes_data_raw.csv.gz", folder / "nested" / "deeper" / "d.gz")
    (folder / "nested" / "notes.txt").write_text("measured 2024\n", encoding="utf-8")
    (root / "single.bin").write_bytes(bytes(range(256)) * 40)
    monkeypatch.chdir(root)
    return root


def _add(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["data", "add", *args]) == 0
    return capsys.readouterr().out


def _effects(root: Path) -> tuple[bytes, int, list[tuple[object, ...]]]:
    """Lock file bytes, audit event count and the stat cache rows."""
    with sqlite3.connect(root / ".conveyor" / "conveyor.db") as conn:
        events = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    with sqlite3.connect(root / ".conveyor" / "cache" / "state.db") as conn:
        rows = conn.execute("SELECT * FROM file_hashes_v2 ORDER BY path").fetchall()
    return (root / "conveyor.lock").read_bytes(), events, rows


@pytest.mark.parametrize(("name", "source"), [("images", "data"), ("blob", "single.bin")])
def test_unchanged_readd_answers_as_the_normal_path(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls, name: str, source: str
) -> None:
    first = _add(capsys, name, source)
    assert first.startswith(f"Added {name}@1")
    assert calls.count == 1
    before = _effects(project)
    quick = _add(capsys, name, source)
    assert calls.count == 1  # answered without opening the workspace
    quick_effects = _effects(project)
    (project / MARKER).unlink()
    normal = _add(capsys, name, source)
    assert calls.count == 2
    assert quick == normal
    assert normal.startswith(f"{name}@1 unchanged (content ")
    assert quick_effects == before == _effects(project)
    # The normal path recorded the settings again: the next re-add is quick.
    assert _add(capsys, name, source) == normal
    assert calls.count == 2


def test_json_output_takes_the_normal_path(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls
) -> None:
    _add(capsys, "images", "data")
    out = _add(capsys, "images", "data", "--json")
    assert calls.count == 2
    assert '"unchanged": true' in out


def _normal_answer(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls, *args: str
) -> str:
    """Re-add after the change under test: the answer comes from the normal path."""
    count = calls.count
    out = _add(capsys, *args)
    assert calls.count == count + 1
    return out


def test_a_file_rewritten_with_its_size_and_mtime_restored_is_added(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls
) -> None:
    _add(capsys, "images", "data")
    target = project / "data" / "nested" / "notes.txt"
    info = target.stat()
    target.write_text("measured 2025\n", encoding="utf-8")
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert _normal_answer(project, capsys, calls, "images", "data").startswith("Added images@2")


def test_new_and_deleted_files_are_added(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls
) -> None:
    _add(capsys, "images", "data")
    (project / "data" / "new.txt").write_text("new\n", encoding="utf-8")
    assert _normal_answer(project, capsys, calls, "images", "data").startswith("Added images@2")
    (project / "data" / "new.txt").unlink()
    (project / "data" / "iris.csv").unlink()
    assert _normal_answer(project, capsys, calls, "images", "data").startswith("Added images@3")


def test_a_version_added_by_another_process_is_not_hidden(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls
) -> None:
    _add(capsys, "images", "data")
    saved_lock = (project / "conveyor.lock").read_bytes()
    (project / "data" / "other.txt").write_text("other\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "conveyor", "data", "add", "images", "data"],
        check=True,
        capture_output=True,
        cwd=project,
    )
    (project / "data" / "other.txt").unlink()
    # Another checkout's lock: still pins v1 although the store's latest is v2.
    (project / "conveyor.lock").write_bytes(saved_lock)
    out = _normal_answer(project, capsys, calls, "images", "data")
    assert out.startswith("Added images@3")


def test_an_unknown_or_renamed_dataset_is_added(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls
) -> None:
    _add(capsys, "images", "data")
    assert _normal_answer(project, capsys, calls, "pictures", "data").startswith("Added pictures@1")


def test_a_postgresql_store_is_never_read_by_the_quick_path(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls
) -> None:
    _add(capsys, "images", "data")
    assert (project / MARKER).exists()
    config = project / "conveyor.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "sqlite:///.conveyor/conveyor.db", "postgresql://postgres@127.0.0.1:1/none"
        ),
        encoding="utf-8",
    )
    # The normal path answers (here: the server cannot be reached), not the quick one.
    count = calls.count
    assert main(["data", "add", "images", "data"]) == 1
    assert calls.count == count + 1
    assert "unchanged" not in capsys.readouterr().out


def test_a_corrupt_stat_cache_takes_the_normal_path(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls
) -> None:
    first = _add(capsys, "images", "data")
    assert first.startswith("Added images@1")
    state = project / ".conveyor" / "cache" / "state.db"
    for extra in state.parent.glob("state.db-*"):
        extra.unlink()
    state.write_bytes(b"not a database" * 100)
    count = calls.count
    code = main(["data", "add", "images", "data"])
    assert calls.count == count + 1
    out = capsys.readouterr().out
    assert code != 0 or out.startswith("images@1 unchanged")


def test_hostile_paths_take_the_normal_path(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n", encoding="utf-8")
    _add(capsys, "images", "data")
    (project / "data" / "link.txt").symlink_to(outside)
    out = _normal_answer(project, capsys, calls, "images", "data")
    assert out.startswith("images@1 unchanged")  # the normal path skips the link
    _normal_answer(project, capsys, calls, "images", "data")
    (project / "data" / "link.txt").unlink()
    raw = os.fsencode(project / "data") + b"/bad-\xff.txt"
    with open(raw, "wb") as handle:
        handle.write(b"x")
    count = calls.count
    main(["data", "add", "images", "data"])
    assert calls.count == count + 1
    capsys.readouterr()


def test_a_store_at_another_schema_revision_takes_the_normal_path(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls
) -> None:
    _add(capsys, "images", "data")
    with sqlite3.connect(project / ".conveyor" / "conveyor.db") as conn:
        conn.execute("UPDATE conveyor_schema_version SET version_num = 'zz'")
    count = calls.count
    main(["data", "add", "images", "data"])
    assert calls.count == count + 1
    capsys.readouterr()
    with sqlite3.connect(project / ".conveyor" / "conveyor.db") as conn:
        conn.execute("UPDATE conveyor_schema_version SET version_num = ?", (STORE_REVISION,))


def test_an_environment_override_takes_the_normal_path(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    calls: _Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _add(capsys, "images", "data")
    monkeypatch.setenv("CONVEYOR_ARTIFACT_URL", str(project / "elsewhere"))
    out = _normal_answer(project, capsys, calls, "images", "data")
    assert out.startswith("images@1 unchanged") or out.startswith("Added")


def test_an_encrypted_store_is_never_read_by_the_quick_path(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    calls: _Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVEYOR_ENCRYPTION", "true")
    monkeypatch.setenv("CONVEYOR_MASTER_KEY", "ab" * 32)
    assert _add(capsys, "images", "data").startswith("Added images@1")
    assert not (project / MARKER).exists()
    out = _normal_answer(project, capsys, calls, "images", "data")
    assert out.startswith("images@1 unchanged")
    assert not (project / MARKER).exists()


@pytest.mark.parametrize(
    ("old", "new"),
    [(b"\n", b"\r\n"), (b'"format": 1', b'"format": 1.0')],  # a Windows checkout, a hand edit
)
def test_a_lock_file_the_normal_path_would_rewrite_takes_it(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls, old: bytes, new: bytes
) -> None:
    _add(capsys, "images", "data")
    lock = project / "conveyor.lock"
    canonical = lock.read_bytes()
    assert old in canonical
    lock.write_bytes(canonical.replace(old, new))
    out = _normal_answer(project, capsys, calls, "images", "data")
    assert out.startswith("images@1 unchanged")
    assert lock.read_bytes() == canonical


@pytest.mark.parametrize(
    ("field", "value", "refused"),
    [
        ("parent", {"version": 5, "content_hash": "0" * 64}, True),  # after version 1
        ("parent", {"version": 1, "content_hash": "not a hash"}, True),
        ("parent", [1], True),
        ("name", "someone-else", False),
        ("version", 2, False),
        ("kind", "file", False),
        ("original", {"name": "x.csv", "hash": "0" * 64, "size": 1}, False),
    ],
)
def test_a_crafted_manifest_gets_no_quick_answer(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    calls: _Calls,
    field: str,
    value: object,
    refused: bool,
) -> None:
    """Records and lock point at a manifest that verifies by its hash but is not the one
    an add would write: the quick path gives no answer, and the full path decides
    (refusing a malformed parent with exit 3)."""
    _add(capsys, "images", "data")
    db = project / ".conveyor" / "conveyor.db"
    with sqlite3.connect(db) as conn:
        (old,) = conn.execute("SELECT content_hash FROM dataset_versions").fetchone()
    objects = project / ".conveyor" / "artifacts" / "objects"
    manifest = json.loads((objects / old[:2] / old[2:]).read_bytes())
    manifest[field] = value
    data = manifest_bytes(manifest)
    new = blake3(data).hexdigest()
    (objects / new[:2]).mkdir(exist_ok=True)
    (objects / new[:2] / new[2:]).write_bytes(data)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE dataset_versions SET content_hash = ?", (new,))
    lock = {"format": 1, "datasets": {"images": {"version": 1, "content_hash": new}}}
    (project / "conveyor.lock").write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    assert quick_unchanged("images", Path("data"), process_env()) is None
    count = calls.count
    code = main(["data", "add", "images", "data"])
    assert calls.count == count + 1  # the full path answered
    if refused:
        assert code == 3
        assert "is not a valid dataset manifest" in " ".join(capsys.readouterr().err.split())
    else:
        assert code == 0


@pytest.mark.parametrize(("name", "source"), [("images", "data"), ("blob", "single.bin")])
def test_the_entry_answer_prints_what_the_command_prints(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls, name: str, source: str
) -> None:
    """``answer`` (run before the CLI's imports) says exactly what ``data add`` says, and
    leaves every other command line, and changed content, to the CLI."""
    _add(capsys, name, source)
    normal = _add(capsys, name, source)
    assert answer(["data", "add", name, source]) == 0
    assert capsys.readouterr().out == normal
    for argv in (
        ["data", "add", name, source, "--json"],
        ["data", "add", "-m", "why", name, source],
        ["data", "add", name],
        ["data", "list"],
        ["data", "add", "--verbose", source],
    ):
        assert answer(argv) is None
    (project / "data" / "nested" / "notes.txt").write_text("measured 2025\n", encoding="utf-8")
    (project / "single.bin").write_bytes(b"changed")
    assert answer(["data", "add", name, source]) is None
    assert capsys.readouterr().out == ""


def test_a_folder_beyond_one_lookup_statement_is_answered_and_changes_seen(
    project: Path, capsys: pytest.CaptureFixture[str], calls: _Calls
) -> None:
    """1,200 files (one per iris measurement row): the stat cache is read by one range
    scan; entries of a sibling folder sharing the name's prefix do not count."""
    rows = (_SKLEARN_DATA / "iris.csv").read_text(encoding="utf-8").splitlines()[1:]
    for folder in ("rows", "rows2", "rows-old"):
        for i in range(1200 if folder == "rows" else 50):
            part = project / folder / f"p{i % 12}"
            part.mkdir(parents=True, exist_ok=True)
            (part / f"{i:04d}.csv.txt").write_text(rows[i % len(rows)] + f",{i}\n")
    _add(capsys, "siblings", "rows2")
    _add(capsys, "older", "rows-old")
    assert _add(capsys, "rows", "rows").startswith("Added rows@1")
    count = calls.count
    assert _add(capsys, "rows", "rows").startswith("rows@1 unchanged")
    assert calls.count == count
    (project / "rows" / "p7" / "0007.csv.txt").write_text("9.9,9.9,9.9,9.9,0,7\n")
    assert _add(capsys, "rows", "rows").startswith("Added rows@2")
    assert calls.count == count + 1
