"""``conveyor audit log | verify | checkpoint``."""

from __future__ import annotations

import json
from pathlib import Path
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


@app.command("checkpoint")
def checkpoint(
    key: Annotated[
        Path,
        typer.Option(
            "--key",
            metavar="FILE",
            help="ed25519 private key file (base64 of 32 raw bytes, or PKCS8 PEM).",
        ),
    ],
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            metavar="FILE",
            help="Also write the checkpoint as JSON to this file; keep it outside the "
            "database's reach and pass it to `audit verify --anchor`.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Sign the audit trail's newest event, so removing events up to it is detected."""
    from conveyor.store import audit_public_key_text, load_audit_private_key, write_checkpoint_file

    private_key = load_audit_private_key(key)
    with open_workspace() as ws:
        made = ws.store.checkpoint_audit(private_key)
    if anchor is not None:
        write_checkpoint_file(anchor, made)
    if json_out:
        print_json({**made.to_dict(), "public_key": audit_public_key_text(private_key)})
        return
    out = console()
    out.print(
        f"Checkpoint of event #{made.seq} (hash {made.hash[:16]}...) signed by key {made.key_id}."
    )
    out.print(f"Public key (for `audit verify --public-key`): {audit_public_key_text(private_key)}")
    if anchor is not None:
        out.print(f"Anchor copy written to {anchor}.")


@app.command("verify")
def verify(
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--public-key",
            metavar="FILE",
            help="ed25519 public key file a checkpoint must be signed with (repeatable; "
            "base64 of 32 raw bytes, or PEM). Without it signatures are not checked.",
        ),
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            metavar="FILE",
            help="Checkpoint file written by `audit checkpoint --anchor`.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recompute the hash chain and check its signed checkpoints; exit 3 if it was altered
    or its newest events were removed."""
    from conveyor.store import load_audit_public_key, read_checkpoint_file

    keys = [load_audit_public_key(path) for path in public_key] if public_key else None
    anchored = read_checkpoint_file(anchor) if anchor is not None else None
    with open_workspace() as ws:
        if keys is None and anchored is None:
            result = ws.verify_audit()  # also where the records live on a server
        else:
            result = ws.store.verify_audit(keys, anchor=anchored)
    if json_out:
        print_json(result)
    elif result.ok:
        out = console()
        out.print(f"Audit trail intact: {result.count} events, hash chain verified.")
        if result.checkpoints_checked:
            signed = (
                "signatures verified"
                if result.signatures_checked
                else "signatures not checked: pass --public-key"
            )
            out.print(
                f"{result.checkpoints_checked} checkpoint(s) hold, the newest vouching for "
                f"event #{result.checkpoint_seq} ({signed})."
            )
    else:
        where = "" if result.first_broken_seq is None else f" at event #{result.first_broken_seq}"
        console().print(f"[bold red]Audit trail broken[/]{where}: {result.reason}")
        around = (
            f" around #{result.first_broken_seq}" if result.first_broken_seq is not None else ""
        )
        console().print(
            f"The metadata database was changed outside conveyor. Inspect the events{around} "
            "with `conveyor audit log`, restore the database from a backup, and treat the "
            "change as a security incident."
        )
    if not result.ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)
