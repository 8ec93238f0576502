"""``conveyor demo``: play the case study on the embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from conveyor.cli._output import console


def register(app: typer.Typer) -> None:
    """Attach ``demo`` to the root app."""
    app.command("demo")(demo)


def demo(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Folder to play in (default: a new temp folder).")
    ] = None,
    fast: Annotated[
        bool, typer.Option("--fast", help="Smaller data, for tests and a quick look.")
    ] = False,
) -> None:
    """Play conveyor's case study end to end and check its own outcome (exit 1 if not)."""
    from conveyor.demo import run_walkthrough

    run_walkthrough(directory, rows=5_000 if fast else 50_000, console=console())
