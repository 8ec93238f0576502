"""``conveyor config show | validate``."""

from __future__ import annotations

from typing import Annotated

import typer

from conveyor.cli._output import console, print_json

app = typer.Typer(help="Show or validate the project configuration.", no_args_is_help=True)


@app.command("show")
def show(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective configuration (defaults < conveyor.yaml < CONVEYOR_* variables)."""
    from conveyor.config import dump_config, find_root, load_settings

    settings = load_settings(find_root("."))
    if json_out:
        print_json(
            {
                "root": str(settings.root),
                "config_file": str(settings.config_file) if settings.config_file else None,
                "env_overrides": list(settings.env_overrides),
                "config": settings.config.model_dump(mode="json"),
            }
        )
        return
    out = console()
    source = settings.config_file or "defaults (no conveyor.yaml found)"
    out.print(f"# from {source}", markup=False)
    if settings.env_overrides:
        out.print(f"# overridden by the environment: {', '.join(settings.env_overrides)}")
    out.print(dump_config(settings.config), markup=False, end="")


@app.command("validate")
def validate() -> None:
    """Check conveyor.yaml, CONVEYOR_* variables and gate checks; exit 1 naming each bad key."""
    from conveyor.checks import validate_config
    from conveyor.config import find_root, load_settings

    settings = load_settings(find_root("."))
    validate_config(settings.config)  # gate check names and their parameters
    where = settings.config_file or "defaults (no conveyor.yaml found)"
    console().print(f"Configuration is valid: {where}", markup=False)
