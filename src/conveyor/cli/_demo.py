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
        bool, typer.Option("--fast", help="Less data, fewer trials, shorter canary steps.")
    ] = False,
    keep_serving: Annotated[
        bool, typer.Option("--keep-serving", help="Leave the prediction server running.")
    ] = False,
    walkthrough: Annotated[
        bool, typer.Option("--walkthrough", help="Only the short data-versioning tour.")
    ] = False,
) -> None:
    """Play conveyor's case study end to end and check its own outcome (exit 1 if not).

    A fresh shop project: versioned data, a gated model, the real server with simulated
    traffic, drift, a retraining promoted by a canary, a broken model rolled back; then a
    timeline, the headline figures and an HTML report.
    """
    if walkthrough:
        from conveyor.demo import run_walkthrough

        run_walkthrough(directory, rows=5_000 if fast else 50_000, console=console())
        return
    from conveyor.demo import run_demo

    run_demo(directory, fast=fast, keep_serving=keep_serving, console=console())
