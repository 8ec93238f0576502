"""Project-level commands: ``init`` and ``gc``."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from conveyor.cli._output import console, fmt_bytes, open_workspace, print_json
from conveyor.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Attach the project-level commands to the root app."""
    app.command("init")(init)
    app.command("gc")(gc)


def init(
    directory: Annotated[Path, typer.Argument(help="Project folder (created if missing).")] = Path(
        "."
    ),
    name: Annotated[str | None, typer.Option(help="Project name (default: folder name).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing conveyor.yaml.")
    ] = False,
    ci: Annotated[
        str | None,
        typer.Option(
            "--ci",
            help="Also write a CI workflow running `conveyor ci` on pull requests: "
            "github (.github/workflows/conveyor.yml) or gitlab (.gitlab-ci.yml). "
            "In an existing project only the workflow is written.",
        ),
    ] = None,
    server_url: Annotated[
        str | None,
        typer.Option(
            "--server-url",
            help="The team server (`conveyor server`) the CI workflow works through, so "
            "`conveyor ci` compares against the real champion; default: the CI system's "
            "CONVEYOR_SERVER_URL variable. The token comes from its CONVEYOR_TOKEN secret.",
        ),
    ] = None,
) -> None:
    """Scaffold a conveyor project: conveyor.yaml, pipelines.py and .gitignore."""
    from conveyor.workspace import init_project

    written = init_project(directory, name=name, force=force, ci=ci, server_url=server_url)
    out = console()
    out.print(f"Initialised conveyor project in [bold]{directory.resolve()}[/]")
    for path in written:
        out.print(f"  wrote {path.relative_to(directory.resolve()).as_posix()}")
    out.print("Next: [bold]conveyor data add NAME PATH[/] to version your first dataset.")


_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """Parse ``30m``, ``1h``, ``2d`` or ``0s`` into a timedelta.

    Raises:
        ConfigError: naming the value and the expected form.
    """
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ConfigError(
            f"Invalid duration {text!r}: expected a number and a unit (s, m, h or d).",
            hint="For example --grace 1h or --grace 30m.",
            value=text,
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would be removed.")
    ] = False,
    grace: Annotated[
        str, typer.Option(help="Never remove objects younger than this (e.g. 1h, 30m).")
    ] = "1h",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Remove artifacts that no record references."""
    window = parse_duration(grace)
    with open_workspace() as ws:
        result = ws.gc(grace=window, dry_run=dry_run)
    if json_out:
        print_json(result)
        return
    verb = "Would remove" if dry_run else "Removed"
    console().print(
        f"{verb} {len(result.removed)} unreferenced object(s), "
        f"{fmt_bytes(result.bytes_freed)}; kept {result.kept}."
    )
