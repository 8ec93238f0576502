"""``conveyor predictions erase``: remove one person's logged predictions, audited."""

from __future__ import annotations

from typing import Annotated

import typer

from conveyor.cli._output import console, open_workspace, print_json
from conveyor.predictions import PredictionLogError, pii_policy

app = typer.Typer(help="Manage the prediction log.", no_args_is_help=True)


def _split(key: str) -> tuple[str, str]:
    column, sep, value = key.partition("=")
    if not sep or not column.strip():
        # The value is personal data: the message never repeats what was passed.
        raise PredictionLogError(
            "--key must be COLUMN=VALUE with a column name before the '='.",
            hint="Pass the input column and the value to erase, e.g. --key email=ana@example.com.",
        )
    return column.strip(), value


@app.command("erase")
def erase(
    key: Annotated[
        str,
        typer.Option("--key", help="COLUMN=VALUE: erase every prediction whose input matches."),
    ],
    env: Annotated[
        str | None,
        typer.Option("--env", help="Only predictions served in this environment."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Remove every logged prediction whose input COLUMN equals VALUE, and its labels.

    Stored objects holding such rows are rewritten without them; the old objects are
    removed by the next `conveyor gc`. A column the configuration hashes is matched by
    the hash of VALUE (the key must be set); one it drops was never stored. The audit
    event `predictions.erase` records the counts, never the value.
    """
    column, value = _split(key)
    with open_workspace() as ws:
        log = ws.predictions
        if log.privacy is None and column in ws.settings.config.predictions.pii.columns:
            log.privacy = pii_policy(ws.settings)
        if not yes:
            where = f" in environment {env}" if env else ""
            typer.confirm(
                f"Erase every logged prediction whose {column} matches the given value{where}?",
                abort=True,
            )
        result = log.erase(column, value, environment=env)
    if json_out:
        print_json(result)
        return
    console().print(
        f"Erased {result.rows} prediction(s) from {result.partitions} stored batch(es) and "
        f"{result.labels} label(s). Run `conveyor gc` to remove the old objects.",
        markup=False,
    )
