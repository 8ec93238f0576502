"""``conveyor audit log | verify``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from conveyor.cli._output import (
    EXIT_VERIFY_FAILED,
    console,
    fmt_time,
    open_workspace,
    print_json,
)

app = typer.Typer(help="Inspect and verify the append-only audit trail.", no_args_is_help=True)


@app.command("log")
def log(
    limit: Annotated[int | None, typer.Option(help="Show only the last N events.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. data.add.")] = None,
    target: Annotated[str | None, typer.Option(help="Only targets starting with this.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List audit events, oldest first: who did what to which target, when."""
    with open_workspace() as ws:
        events = ws.audit_log(action=action, target=target)
    if limit is not None:
        events = events[-limit:] if limit > 0 else []
    if json_out:
        print_json(events)
        return
    table = Table(title=f"Audit trail ({len(events)} events)")
    for column in ("#", "time (UTC)", "actor", "action", "target", "details"):
        table.add_column(column, overflow="fold")
    for ev in events:
        details = json.dumps(ev.details, sort_keys=True)
        table.add_row(
            str(ev.seq),
            fmt_time(ev.at),
            ev.actor,
            ev.action,
            ev.target,
            details if len(details) <= 80 else details[:77] + "...",
        )
    console().print(table)


@app.command("verify")
def verify(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recompute the hash chain; exit 3 naming the first broken event if it was altered."""
    with open_workspace() as ws:
        result = ws.verify_audit()
    if json_out:
        print_json(result)
    elif result.ok:
        console().print(f"Audit trail intact: {result.count} events, hash chain verified.")
    else:
        console().print(
            f"[bold red]Audit trail broken[/] at event #{result.first_broken_seq}: {result.reason}"
        )
        console().print(
            "The metadata database was changed outside conveyor. Inspect the events around "
            f"#{result.first_broken_seq} with `conveyor audit log`, restore the database from "
            "a backup, and treat the change as a security incident."
        )
    if not result.ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)
