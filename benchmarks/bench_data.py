"""Data versioning speed.

1. ``data add`` of one large file (1 GiB at scale 1) in MB/s, beside ``sha256sum``,
   ``b3sum`` (when installed) and BLAKE3 hashing in process (multi-threaded, the same Rust
   implementation b3sum uses) of the same file in the same run. Hashing is the limit:
   ``data add`` must also copy the bytes into the store.
2. ``data add`` of a folder of 10,000 small files, then a second ``data add`` with nothing
   changed, beside a plain directory listing with ``os.stat`` of every file (the floor for
   noticing that nothing changed).
3. The same from the command line, as users run it (a new process each time, imports
   included): ``conveyor data add`` of the large file, of the folder, and unchanged
   re-adds of the folder and of the file (and of the folder with ``--json``, which opens
   the workspace), beside ``dvc add`` of the same paths in the same run when DVC is
   installed (``dvc`` on ``PATH`` or ``CONVEYOR_BENCH_DVC``; ``pip install dvc``). Targets:
   the large file in at most 1.0 s and at least 4x DVC, the folder at least 4x DVC, the
   unchanged re-add under 0.3 s. The section runs twice, like for like: with each tool's
   default (conveyor's ``data.link: reflink``, DVC's ``cache.type: reflink,copy``; a
   copy on file systems without reflinks) and with hard links (``data.link: hardlink``,
   ``dvc config cache.type hardlink``); each table says which.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from conveyor.core import hash_file
from conveyor.workspace import Workspace, init_project

MIB = 1024 * 1024


def _scale() -> float:
    return float(os.environ.get("CONVEYOR_BENCH_SCALE", "1.0"))


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _warm_cache(path: Path) -> None:
    # Every tool reads the file from the page cache: dropping it needs root and would
    # measure the disk, not the tools. Warming it first makes the comparison fair.
    with path.open("rb") as fh:
        while fh.read(64 * MIB):
            pass


def bench_large_file(work: Path, console: Console) -> None:
    size = max(int(1024 * MIB * _scale()), 16 * MIB)
    big = work / "big.bin"
    chunk = os.urandom(16 * MIB)
    with big.open("wb") as fh:
        for _ in range(size // len(chunk)):
            fh.write(chunk)
    _warm_cache(big)
    mb = size / 1e6
    rows: list[tuple[str, float]] = []
    rows.append(
        (
            "sha256sum",
            _timed(
                lambda: subprocess.run(["sha256sum", str(big)], check=True, capture_output=True)
            ),
        )
    )
    if shutil.which("b3sum"):
        rows.append(
            (
                "b3sum",
                _timed(
                    lambda: subprocess.run(["b3sum", str(big)], check=True, capture_output=True)
                ),
            )
        )
    rows.append(("BLAKE3 in process (all cores)", _timed(lambda: hash_file(big))))

    project = work / "project"
    init_project(project, name="bench")
    with Workspace.open(project) as ws:
        rows.append(("conveyor data add", _timed(lambda: ws.datasets.add("big", big))))
    table = Table(title=f"data add of one {size / MIB:,.0f} MiB file")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    table.add_column("MB/s", justify="right")
    table.add_column("vs BLAKE3 hashing", justify="right")
    blake = dict(rows)["BLAKE3 in process (all cores)"]
    for name, seconds in rows:
        table.add_row(name, f"{seconds:.2f}", f"{mb / seconds:,.0f}", f"{blake / seconds:.2f}x")
    console.print(table)


def bench_small_files(work: Path, console: Console) -> None:
    count = max(int(10_000 * _scale()), 100)
    folder = work / "images"
    for i in range(count):
        sub = folder / f"part-{i % 100:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"file-{i:05d}.txt").write_bytes(f"sample {i}\n".encode() * 8)

    def listing() -> int:
        n = 0
        for root, _dirs, files in os.walk(folder):
            for name in files:
                os.stat(os.path.join(root, name))
                n += 1
        return n

    baseline = _timed(listing)
    project = work / "project-small"
    init_project(project, name="bench-small")
    with Workspace.open(project) as ws:
        first = _timed(lambda: ws.datasets.add("images", folder))
        second = _timed(lambda: ws.datasets.add("images", folder))
    table = Table(title=f"data add of a folder of {count:,} small files")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    table.add_column("files/s", justify="right")
    table.add_column("vs listing", justify="right")
    for name, seconds in (
        ("os.walk + stat (baseline)", baseline),
        ("conveyor data add (new)", first),
        ("conveyor data add (unchanged)", second),
    ):
        table.add_row(
            name, f"{seconds:.3f}", f"{count / seconds:,.0f}", f"{seconds / baseline:.1f}x"
        )
    console.print(table)


def _write_large(path: Path, size: int) -> None:
    chunk = os.urandom(16 * MIB)
    with path.open("wb") as fh:
        for _ in range(max(size // len(chunk), 1)):
            fh.write(chunk)


def _write_small(folder: Path, count: int) -> None:
    for i in range(count):
        sub = folder / f"part-{i % 100:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"file-{i:05d}.txt").write_bytes(f"sample {i}\n".encode() * 8)


def _dvc() -> str | None:
    return os.environ.get("CONVEYOR_BENCH_DVC") or shutil.which("dvc")


def _run(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


#: How files enter each tool's cache, like for like: conveyor's ``data.link`` and DVC's
#: ``cache.type`` (DVC's default tries reflink, then copy).
_LINK_MODES = (
    ("reflink", "reflink,copy", "default: reflink where possible, else copy"),
    ("hardlink", "hardlink", "hardlink: read-only links, no bytes copied"),
)


def bench_cli(work: Path, console: Console) -> None:
    """``conveyor data add`` in a new process (imports included), beside ``dvc add``,
    once per way of entering the cache (each tool set to the same one)."""
    size = max(int(1024 * MIB * _scale()), 16 * MIB)
    count = max(int(10_000 * _scale()), 100)
    dvc = _dvc()
    for link, dvc_cache, label in _LINK_MODES:
        rows = _cli_rows(work / f"cli-{link}", size, count, dvc, link=link, dvc_cache=dvc_cache)
        _print_cli_rows(console, rows, f"From the command line, {label}", dvc)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    python_start = time.perf_counter() - start
    if not dvc:
        console.print("DVC is not installed (pip install dvc, or set CONVEYOR_BENCH_DVC).")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(f"Python start-up alone: {python_start:.2f} s; load average: {load}")
    console.print(f"By default, large files enter the store by {_store_copy_mode(work)}.")


_Row = tuple[str, float, float | None, str]


def conveyor_cmd() -> list[str]:
    """The command line as a user starts it (``python -m conveyor`` runs the same entry)."""
    return [sys.executable, "-m", "conveyor"]


def _cli_rows(
    work: Path, size: int, count: int, dvc: str | None, *, link: str, dvc_cache: str
) -> list[_Row]:
    """The command-line timings of one cache mode, each tool in its own project."""
    conveyor = conveyor_cmd()
    # Each tool gets its own copy of the data, inside its own project (DVC adds only
    # paths inside its repository), so neither benefits from the other's caches.
    projects: dict[str, Path] = {}
    for tool in ("conveyor", "dvc") if dvc else ("conveyor",):
        project = work / tool
        project.mkdir(parents=True)
        _write_large(project / "big.bin", size)
        _write_small(project / "images", count)
        _warm_cache(project / "big.bin")
        projects[tool] = project
    init_project(projects["conveyor"], name="bench-cli")
    with (projects["conveyor"] / "conveyor.yaml").open("a", encoding="utf-8") as handle:
        handle.write(f"\ndata:\n  link: {link}\n")
    # The first command creates and migrates the metadata store, as `dvc init` creates its
    # repository: done here, untimed, so the adds below measure adding.
    _run([*conveyor_cmd(), "data", "list"], projects["conveyor"])
    if dvc:
        _run(["git", "init", "-q"], projects["dvc"])
        _run([dvc, "init", "-q"], projects["dvc"])
        _run([dvc, "config", "core.analytics", "false"], projects["dvc"])
        _run([dvc, "config", "cache.type", dvc_cache], projects["dvc"])

    def conveyor_add(name: str, path: str, *, json_out: bool = True) -> float:
        flags = ["--json"] if json_out else []
        return _run([*conveyor, "data", "add", name, path, *flags], projects["conveyor"])

    def dvc_add(path: str) -> float:
        assert dvc is not None
        return _run([dvc, "add", "-q", path], projects["dvc"])

    rows: list[_Row] = [
        (
            f"add one {size / MIB:,.0f} MiB file",
            conveyor_add("big", "big.bin"),
            dvc_add("big.bin") if dvc else None,
            "<= 1.0 s and >= 4x DVC",
        ),
        (
            f"add a folder of {count:,} small files",
            conveyor_add("images", "images"),
            dvc_add("images") if dvc else None,
            ">= 4x DVC",
        ),
        (
            "re-add the unchanged folder",
            conveyor_add("images", "images", json_out=False),
            dvc_add("images") if dvc else None,
            "< 0.3 s",
        ),
        (
            "re-add the unchanged file",
            conveyor_add("big", "big.bin", json_out=False),
            dvc_add("big.bin") if dvc else None,
            "< 0.3 s",
        ),
        # --json reports the whole version record, so it opens the workspace: the
        # full path's figure, for comparison with the quick answer above.
        (
            "re-add the unchanged folder, --json",
            conveyor_add("images", "images"),
            None,
            "-",
        ),
    ]
    shutil.rmtree(work, ignore_errors=True)  # read-only files are removed with their folder
    return rows


def _print_cli_rows(console: Console, rows: list[_Row], title: str, dvc: str | None) -> None:
    table = Table(title=f"{title} (a new process per command)")
    table.add_column("what")
    table.add_column("conveyor s", justify="right")
    table.add_column("dvc s", justify="right")
    table.add_column("dvc / conveyor", justify="right")
    table.add_column("target")
    for what, ours, theirs, target in rows:
        table.add_row(
            what,
            f"{ours:.2f}",
            "-" if theirs is None else f"{theirs:.2f}",
            "-" if theirs is None else f"{theirs / ours:.1f}x",
            target,
        )
    console.print(table)


def _store_copy_mode(work: Path) -> str:
    """How this file system lets ``data add`` copy a large file into the store."""
    from conveyor.artifacts._writers import clone_file

    source, dest = work / "mode-probe.src", work / "mode-probe.dst"
    source.write_bytes(b"probe")
    dest.touch()
    try:
        return "reflink (no bytes copied)" if clone_file(source, dest) else "kernel copy"
    finally:
        source.unlink()
        dest.unlink()


def main() -> None:
    console = Console()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        work = Path(tmp)
        bench_large_file(work, console)
        bench_small_files(work, console)
        bench_cli(work, console)


if __name__ == "__main__":
    main()
