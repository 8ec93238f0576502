"""The quick answer of ``conveyor data add NAME PATH`` when nothing changed.

Opening a workspace imports SQLAlchemy, pydantic and the store's models (about a second)
before an add can tell that PATH is unchanged. This module tells it with the standard
library and BLAKE3 alone: it lists PATH, takes every file's hash from the stat cache,
reads the dataset's latest version with a read-only ``sqlite3`` query and its manifest
straight from the local artifact folder, and checks that ``conveyor.lock`` already pins
that version. It answers only when all of that holds; anything else (a file not in the
cache, a table, a link, another store, a newer schema, a lock to rewrite) returns ``None``
and the command takes the normal path, which gives the authoritative answer.

The settings are not validated here: after each add through the normal path, the command
records (in ``.conveyor/cache/quick-add.json``) where the validated settings put the
metadata database and the artifact folder, with fingerprints of ``conveyor.yaml`` and of
the ``CONVEYOR_*`` environment they came from. The quick path is taken only while both
fingerprints still match, so a configuration or environment change always goes through
the normal path first.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import stat
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from blake3 import blake3

from conveyor.core import is_hash, validate_name
from conveyor.errors import InvalidNameError

#: Where the settings of the last normal add are kept, under the project root.
MARKER = Path(".conveyor") / "cache" / "quick-add.json"
_MARKER_FORMAT = 1
#: The store schema this module's queries are written for; equal to
#: ``conveyor.store._migrate.HEAD_REVISION`` (a unit test checks it). A store at another
#: revision goes through the normal path, which migrates it.
STORE_REVISION = "0017"
_VERSION_TABLE = "conveyor_schema_version"
_STATE_DB = Path(".conveyor") / "cache" / "state.db"
_STATE_TABLE = "file_hashes_v2"
#: Keys looked up with one ``IN (...)`` list; more (a folder) are read by one range scan.
_IN_LIMIT = 900
_TMP_DIR = Path(".conveyor") / "tmp"
_TEMP_BOUND_S = 24 * 3600.0
_LOCK_FILE = "conveyor.lock"
_CONFIG_FILE = "conveyor.yaml"
_SKIPPED_DIRS = frozenset({".conveyor", ".git"})
_TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
#: Environment variables that do not change where records and artifacts are.
_NEUTRAL_ENV = frozenset({"CONVEYOR_ACTOR"})
_ODD_NAME = re.compile("[\x00-\x1f\x7f\\\\\ud800-\udfff]")


def _env_fingerprint(env: Mapping[str, str]) -> str:
    """A hash of the ``CONVEYOR_*`` variables that may change the settings (values too,
    hashed: the master key or a token never reach the marker file)."""
    items = sorted(
        (key, value)
        for key, value in env.items()
        if key.startswith("CONVEYOR_") and key not in _NEUTRAL_ENV
    )
    return blake3(json.dumps(items).encode("utf-8", "surrogateescape")).hexdigest()


def _find_root(start: Path) -> Path | None:
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / _CONFIG_FILE).is_file():
            return folder
    return None


def remember_settings(settings: Any) -> None:
    """Record where the (validated) ``settings`` keep records and artifacts, for
    :func:`quick_unchanged`; a store the quick path cannot read removes the record.

    Args:
        settings: The :class:`conveyor.config.Settings` a workspace was opened with.
    """
    root = Path(settings.root)
    marker = root / MARKER
    config = settings.config
    store = config.store
    url: str = settings.metadata_url
    artifacts: str = settings.artifact_url
    local = (
        not store.server_url
        and not store.encryption.enabled
        and settings.master_key is None
        and url.startswith("sqlite:////")
        and "?" not in url
        and "://" not in artifacts
        and Path(artifacts).is_absolute()
        and settings.config_file is not None
    )
    if not local:
        with contextlib.suppress(OSError):
            marker.unlink()
        return
    try:
        config_bytes = Path(settings.config_file).read_bytes()
        record = {
            "format": _MARKER_FORMAT,
            "config": blake3(config_bytes).hexdigest(),
            "env": _env_fingerprint(settings.environ),
            "database": url[len("sqlite:///") :],
            "artifacts": artifacts,
        }
        marker.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".quick-add.", suffix=".tmp", dir=marker.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            os.replace(tmp, marker)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        # Only an optimisation: without the record the next add takes the normal path.
        with contextlib.suppress(OSError):
            marker.unlink()


def _settings(root: Path, env: Mapping[str, str]) -> tuple[Path, Path] | None:
    """``(database, artifact folder)`` recorded for the current configuration, or None."""
    try:
        record = json.loads((root / MARKER).read_text(encoding="utf-8"))
        config_bytes = (root / _CONFIG_FILE).read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != _MARKER_FORMAT:
        return None
    if record.get("config") != blake3(config_bytes).hexdigest():
        return None
    if record.get("env") != _env_fingerprint(env):
        return None
    database, artifacts = record.get("database"), record.get("artifacts")
    if not isinstance(database, str) or not isinstance(artifacts, str):
        return None
    return Path(database), Path(artifacts)


def _plain_name(name: str) -> bool:
    """Names a stored manifest path may have: UTF-8 (no undecodable byte, which Python
    holds as a surrogate), no backslash or control character."""
    return _ODD_NAME.search(name) is None


def _list(path: Path) -> list[tuple[str, str, os.stat_result]] | None:
    """``(relpath, abspath, stat)`` of every file of PATH, sorted; None when PATH holds
    anything the quick path does not handle (a link, a special file, an odd name)."""
    if os.path.islink(path):
        return None
    if path.is_file():
        if path.suffix.lower() in _TABLE_SUFFIXES or not _plain_name(path.name):
            return None
        return [(path.name, os.path.abspath(path), path.stat())]
    if not path.is_dir():
        return None
    files: list[tuple[str, str, os.stat_result]] = []
    # From the normalised folder, each entry's path is already the cache's key (the
    # absolute, normalised path the normal path computes for it).
    stack: list[tuple[str, str]] = [(os.path.abspath(path), "")]
    while stack:
        current, prefix = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if not _plain_name(entry.name) or entry.is_symlink():
                    return None
                rel = f"{prefix}{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _SKIPPED_DIRS:
                        stack.append((entry.path, rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    files.append((rel, entry.path, entry.stat()))
                else:
                    return None
    files.sort(key=lambda item: item[0])
    return files or None


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5.0)


def _cached_hashes(
    root: Path, files: list[tuple[str, str, os.stat_result]]
) -> dict[str, dict[str, Any]] | None:
    """The manifest ``files`` of ``files`` from the stat cache; None on any miss."""
    state = root / _STATE_DB
    if not state.is_file():
        return None
    keys = [key for _rel, key, _stat in files]
    query = f"SELECT path, size, mtime_ns, ctime_ns, inode, hash FROM {_STATE_TABLE} WHERE "
    with contextlib.closing(_read_only(state)) as conn:
        if len(keys) > _IN_LIMIT:
            # Every key of a folder starts with "<folder>/": one range scan of the primary
            # key instead of a statement per 900 keys ("0" is the character after "/").
            folder = keys[0][: len(keys[0]) - len(files[0][0])]
            found = {
                row[0]: row
                for row in conn.execute(
                    query + "path >= ? AND path < ?", (folder, folder[:-1] + "0")
                )
            }
        else:
            marks = ",".join("?" * len(keys))
            found = {row[0]: row for row in conn.execute(query + f"path IN ({marks})", keys)}
    # A hash here need not be checked: it is only compared with the verified manifest's.
    out: dict[str, dict[str, Any]] = {}
    for rel, key, st in files:
        row = found.get(key)
        if row is None or row[1:5] != (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino):
            return None
        out[rel] = {"hash": row[5], "size": st.st_size}
    return out


def _latest(database: Path, name: str) -> tuple[int, str, str] | None:
    """``(version, content_hash, kind)`` of the newest version of ``name``, or None."""
    if not database.is_file():
        return None
    with contextlib.closing(_read_only(database)) as conn:
        revisions = [row[0] for row in conn.execute(f"SELECT version_num FROM {_VERSION_TABLE}")]
        if revisions != [STORE_REVISION]:
            return None
        row = conn.execute(
            "SELECT v.version, v.content_hash, v.kind FROM dataset_versions v "
            "JOIN datasets d ON d.id = v.dataset_id WHERE d.name = ? "
            "ORDER BY v.version DESC LIMIT 1",
            (name,),
        ).fetchone()
    if row is None:
        return None
    version, content_hash, kind = row
    if not isinstance(version, int) or not isinstance(content_hash, str):
        return None
    return version, content_hash, str(kind)


def _manifest_files(artifacts: Path, content_hash: str, name: str, version: int, kind: str) -> Any:
    """The ``files`` of manifest ``content_hash``, read from the local artifact folder and
    verified; None when it is absent, linked, encrypted, not a manifest, or not one the
    full path would accept as ``name@version`` of ``kind`` (see :func:`_well_formed`)."""
    if not is_hash(content_hash):
        return None
    current = artifacts
    for part in ("objects", content_hash[:2], content_hash[2:]):
        current = current / part
        if stat.S_ISLNK(os.lstat(current).st_mode):
            return None
    if os.path.islink(artifacts):
        return None
    data = current.read_bytes()
    if blake3(data).hexdigest() != content_hash:
        return None
    manifest = json.loads(data.decode("utf-8"))
    if not _well_formed(manifest, name, version, kind):
        return None
    return manifest["files"]


def _is_count(value: object, below: int | None = None) -> bool:
    """A positive int (not a bool), less than ``below`` when given."""
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= 1
        and (below is None or value < below)
    )


def _well_formed(manifest: Any, name: str, version: int, kind: str) -> bool:
    """The structural checks ``parse_manifest`` makes on the full path (format, name,
    version, kind, parent, original), so a manifest the full path refuses is never taken for
    unchanged content here. The files are compared with the listing by the caller."""
    if not isinstance(manifest, dict) or manifest.get("format") != 1:
        return False
    if manifest.get("name") != name or manifest.get("version") != version:
        return False
    if manifest.get("kind") != kind:
        return False
    if not isinstance(manifest.get("files"), dict):
        return False
    parent = manifest.get("parent", None)
    if parent is not None:
        if not isinstance(parent, dict) or not _is_count(parent.get("version"), version):
            return False
        digest = parent.get("content_hash")
        if not isinstance(digest, str) or not is_hash(digest):
            return False
    # Only tables keep an original file, and the quick path never answers for tables.
    return manifest.get("original") is None


def _valid_name(name: object) -> bool:
    try:
        validate_name(name, kind="dataset name")
    except InvalidNameError:
        return False
    return True


def _lock_pins(root: Path, name: str, version: int, content_hash: str) -> bool:
    """Whether ``conveyor.lock`` pins ``name@version`` and is exactly as the normal path
    would write it again (so that path would leave its bytes as they are)."""
    try:
        # Bytes, not read_text: newline translation would hide a "\r\n" file that the
        # normal path rewrites with "\n".
        text = (root / _LOCK_FILE).read_bytes().decode("utf-8")
        data = json.loads(text)
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or set(data) != {"format", "datasets"}:
        return False
    datasets = data["datasets"]
    if data["format"] != 1 or not isinstance(datasets, dict):
        return False
    for key, entry in datasets.items():
        if not _valid_name(key):
            return False
        if not isinstance(entry, dict) or set(entry) != {"version", "content_hash"}:
            return False
        number, digest = entry["version"], entry["content_hash"]
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            return False
        if not isinstance(digest, str) or not is_hash(digest):
            return False
    if datasets.get(name) != {"version": version, "content_hash": content_hash}:
        return False
    # What LockFile.save would write (its own format number, the entries as parsed).
    again = {
        "format": 1,
        "datasets": {
            key: {"version": entry["version"], "content_hash": entry["content_hash"]}
            for key, entry in datasets.items()
        },
    }
    return text == json.dumps(again, indent=2, sort_keys=True) + "\n"


def _reap_stale_temp(tmp_dir: Path) -> None:
    """What every add does first: remove leftovers of killed adds older than a day."""
    cutoff = time.time() - _TEMP_BOUND_S
    try:
        entries = list(os.scandir(tmp_dir))
    except FileNotFoundError:
        return
    for entry in entries:
        if not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(FileNotFoundError):
            info = entry.stat(follow_symlinks=False)
            if info.st_mtime < cutoff:
                os.unlink(entry.path)


def quick_unchanged(name: str, path: Path, env: Mapping[str, str]) -> tuple[int, str] | None:
    """``(version, content_hash)`` when adding ``path`` as ``name`` would change nothing.

    Returns None whenever the answer needs the normal path (which then decides,
    including every error message); it never raises for a hostile or odd input.

    Args:
        name: The dataset name given on the command line.
        path: The file or folder given on the command line.
        env: The process environment (:func:`conveyor.config.process_env`).
    """
    try:
        return _quick_unchanged(name, path, env)
    except (OSError, ValueError, sqlite3.Error, UnicodeError, KeyError, TypeError):
        return None


def _quick_unchanged(name: str, path: Path, env: Mapping[str, str]) -> tuple[int, str] | None:
    if not _valid_name(name):
        return None
    root = _find_root(Path.cwd())
    if root is None:
        return None
    where = _settings(root, env)
    if where is None:
        return None
    database, artifacts = where
    files = _list(path.expanduser().absolute())
    if files is None:
        return None
    kind = "file" if len(files) == 1 and path.expanduser().absolute().is_file() else "folder"
    hashed = _cached_hashes(root, files)
    if hashed is None:
        return None
    latest = _latest(database, name)
    if latest is None:
        return None
    version, content_hash, recorded_kind = latest
    if (
        recorded_kind != kind
        or _manifest_files(artifacts, content_hash, name, version, kind) != hashed
    ):
        return None
    if not _lock_pins(root, name, version, content_hash):
        return None
    _reap_stale_temp(root / _TMP_DIR)
    return version, content_hash


def answer(argv: Sequence[str]) -> int | None:
    """Answer ``conveyor data add NAME PATH`` (nothing else on the line) when nothing
    changed, before the command line's own modules (Typer, rich, pydantic: most of the
    command's start-up) are imported.

    Returns:
        0 after printing what the full command prints for unchanged content, or None
        when the full command must run (any other command or option, or any doubt).
    """
    if len(argv) != 4 or argv[0] != "data" or argv[1] != "add":
        return None
    name, path = argv[2], argv[3]
    if name.startswith("-") or path.startswith("-"):
        return None
    from conveyor.core import process_env

    quick = quick_unchanged(name, Path(path), process_env())
    if quick is None:
        return None
    sys.stdout.write(f"{name}@{quick[0]} unchanged (content {quick[1][:12]}).\n")
    sys.stdout.flush()
    return 0


def run() -> None:  # pragma: no cover - console-script shim
    """The ``conveyor`` console script: the quick answer when it applies, else the CLI."""
    code = answer(sys.argv[1:])
    if code is None:
        from conveyor.cli._app import main

        code = main()
    sys.exit(code)
