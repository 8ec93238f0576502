"""``conveyor config show | validate``.

Both print the configuration with secrets redacted (passwords in URLs, credential query
parameters, secret fields such as ``storage_options.secret``): the output is meant to be
pasted into issues and CI logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from conveyor.cli._output import console, print_json

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.errors import ConfigError

app = typer.Typer(help="Show or validate the project configuration.", no_args_is_help=True)


@app.command("show")
def show(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective configuration (defaults < conveyor.yaml < CONVEYOR_* variables).

    Secrets are shown as ***. Outside a project it prints the defaults and says so.
    """
    import yaml

    from conveyor.config import find_root, load_settings

    settings = load_settings(find_root("."))
    config = _redacted_config(settings)
    if json_out:
        print_json(_summary(settings) | {"config": config})
        return
    out = console()
    source = settings.config_file or "defaults (no conveyor.yaml found)"
    out.print(f"# from {source}", markup=False)
    if settings.env_overrides:
        out.print(f"# overridden by the environment: {', '.join(settings.env_overrides)}")
    out.print(yaml.safe_dump(config, sort_keys=False), markup=False, end="")


@app.command("validate")
def validate(
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON (errors too, exit 1).")
    ] = False,
) -> None:
    """Check conveyor.yaml, CONVEYOR_* variables, gate checks and metric names.

    Exits 1 naming each bad key and the closest valid one; outside a project it exits 1
    with a hint to run `conveyor init`.
    """
    from conveyor.checks import validate_config
    from conveyor.config import find_project, load_settings
    from conveyor.errors import ConfigError

    try:
        settings = load_settings(find_project("."))
        specs = validate_config(settings.config)  # gate check names, params and metrics
    except ConfigError as exc:
        if not json_out:
            raise
        _print_invalid(exc)
        raise typer.Exit(1) from None
    if json_out:
        print_json(
            _summary(settings)
            | {"valid": True, "gates": [spec.check for spec in specs], "problems": []}
        )
        return
    console().print(f"Configuration is valid: {settings.config_file}", markup=False)


def _summary(settings: Settings) -> dict[str, Any]:
    return {
        "root": str(settings.root),
        "config_file": str(settings.config_file) if settings.config_file else None,
        "env_overrides": list(settings.env_overrides),
    }


def _redacted_config(settings: Settings) -> dict[str, Any]:
    from conveyor.core import redact_value

    document: dict[str, Any] = redact_value(settings.config.model_dump(mode="json"))
    return document


def _print_invalid(exc: ConfigError) -> None:
    from conveyor.core import redact, redact_value

    problems = exc.fields.get("problems") or [exc.message]
    print_json(
        {
            "valid": False,
            "error": redact(exc.message),
            "code": exc.code,
            "hint": redact(exc.hint) if exc.hint else None,
            "problems": [redact(str(problem)) for problem in problems],
            "suggestions": redact_value(exc.fields.get("suggestions") or {}),
        }
    )
