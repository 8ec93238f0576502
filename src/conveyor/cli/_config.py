"""``conveyor config show | validate``.

Both print the configuration with secrets redacted (passwords in URLs, credential query
parameters, secret fields such as ``storage_options.secret``): the output is meant to be
pasted into issues and CI logs.
"""

from __future__ import annotations

from pathlib import Path
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

    When the data pinned in conveyor.lock is in the store, the columns named under
    evaluation (target, sensitive, slices, irrelevant) must exist in it. Exits 1 naming
    each bad key and the closest valid one; outside a project it exits 1 with a hint to
    run `conveyor init`.
    """
    from conveyor.checks import validate_config
    from conveyor.config import find_project, load_settings
    from conveyor.errors import ConfigError

    try:
        settings = load_settings(find_project("."))
        specs = validate_config(settings.config)  # gate check names, params and metrics
        _check_pinned_columns(settings)
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


def _check_pinned_columns(settings: Settings) -> None:
    """Refuse evaluation columns the pinned data does not have, when it can be read here.

    Nothing is created to find out: without a local store or pins the check is skipped
    (``conveyor ci`` repeats it after restoring the data).
    """
    evaluation = settings.config.evaluation
    if evaluation.target is None:
        return
    from conveyor.data import LockFile

    lock = LockFile.load(settings.root)
    url = settings.metadata_url
    if not lock.entries or (url.startswith("sqlite:///") and not Path(url[10:]).is_file()):
        return
    from conveyor.ci import check_columns, pinned_columns
    from conveyor.errors import DatasetNotFoundError, VersionNotFoundError
    from conveyor.workspace import Workspace

    with Workspace.open(settings.root, env=settings.environ, search_parents=False) as ws:
        pins: dict[str, int] = {}
        for name, entry in lock.entries.items():
            try:
                ws.datasets.get(f"{name}@{entry.version}")
            except (DatasetNotFoundError, VersionNotFoundError):
                continue  # not restored here yet: nothing to compare with
            pins[name] = entry.version
        tables = pinned_columns(ws, pins)
    check_columns(evaluation, tables, "the pinned data")


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
