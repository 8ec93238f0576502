"""Shared rendering for CLI commands: consoles, JSON output, progress bars, exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from conveyor.core import ProgressCallback, isoformat

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

#: Exit codes of every command (also listed in ``conveyor --help`` and docs/cli.md).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_VERIFY_FAILED = 3
EXIT_GATE_REJECT = 4
EXIT_GATE_HOLD = 5
EXIT_PORT_IN_USE = 6
EXIT_INTERRUPTED = 130

#: The exit-code table, one line per code, as ``conveyor --help`` shows it.
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_ERROR, "error: one line saying what failed and a hint on stderr (configuration, "
     "not a project, store busy/full/read-only/disconnected, not found, refused)"),
    (EXIT_USAGE, "usage error (unknown option, missing argument)"),
    (EXIT_VERIFY_FAILED, "verification failed: stored data, a model or the audit trail was "
     "corrupted or tampered with (`monitor run`: drift detected)"),
    (EXIT_GATE_REJECT, "a gate decided REJECT (`ci`, `check`; `monitor run`: degraded)"),
    (EXIT_GATE_HOLD, "a gate decided HOLD (`ci`, `check`; `monitor run`: too little data)"),
    (EXIT_PORT_IN_USE, "the port `serve` was asked to bind is already in use"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)  # fmt: skip


class State:
    """Process-wide CLI flags set once by :func:`conveyor.cli.main`."""

    verbose: bool = False


def open_workspace(path: str | Path = ".") -> Workspace:
    """Open the project containing ``path`` for a command, refusing outside a project.

    Commands use this instead of ``Workspace.open`` so that running one in the wrong
    folder says so (``conveyor init`` hint) instead of creating ``.conveyor/`` there.

    Raises:
        ProjectNotFoundError: No ``conveyor.yaml`` in ``path`` or any parent folder.
    """
    from conveyor.workspace import Workspace

    return Workspace.open(path, require_project=True)


def console() -> Console:
    """The console for human output (stdout)."""
    return Console(highlight=False, soft_wrap=False)


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, datetimes and paths into JSON-able values."""
    if hasattr(value, "to_dict") and not isinstance(value, type):
        return to_jsonable(value.to_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(value: Any) -> None:
    """Write ``value`` as strict JSON (no NaN) to stdout."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, allow_nan=False) + "\n")


def fmt_time(value: datetime | None) -> str:
    """A short local-agnostic timestamp for tables."""
    if value is None:
        return "-"
    return isoformat(value)[:19].replace("T", " ")


def fmt_bytes(size: int | None) -> str:
    """Human-readable size (binary units)."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[ProgressCallback]:
    """Yield a :data:`ProgressCallback` that drives a rich progress bar on stderr.

    Disabled (a no-op callback) when ``enabled`` is false or stderr is not a terminal,
    so piped output and CI logs stay clean.
    """
    err = Console(stderr=True)
    if not enabled or not err.is_terminal:
        yield _noop
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(description: str, completed: int, total: int) -> None:
            task = tasks.get(description)
            if task is None:
                task = bar.add_task(description, total=total or None)
                tasks[description] = task
            bar.update(task, completed=completed, total=total or None)

        yield update


def _noop(description: str, completed: int, total: int) -> None:
    return None
