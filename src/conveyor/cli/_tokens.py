"""``conveyor tokens``: create, list and revoke API tokens (secrets are shown once)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from conveyor.cli._output import console, fmt_time, open_workspace, print_json

app = typer.Typer(
    help="Manage API tokens: each has a role and an optional environment scope.",
    no_args_is_help=True,
)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Unique name of the token (ci, dashboard).")],
    role: Annotated[
        str,
        typer.Option(
            "--role", help="viewer, predictor, developer, deployer or admin (docs/access.md)."
        ),
    ],
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="Limit the token to this environment (repeatable)."),
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime such as 90d, 12h or 2w.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a token and print its secret, the only time it is ever shown.

    Only its SHA-256 hash is stored: keep the secret in a secret manager. The creation is
    audited (token.create) without the secret.
    """
    from conveyor.config import parse_duration
    from conveyor.security import BaseTokenRecords, SecurityError, SqlTokenRecords, Tokens

    lifetime = None
    if expires is not None:
        try:
            lifetime = parse_duration(expires)
        except ValueError:
            raise SecurityError(
                f"--expires {expires[:40]!r} is not a duration.",
                hint="Pass a whole number and a unit: 30m, 12h, 90d or 2w.",
                expires=expires[:40],
            ) from None
    with open_workspace() as ws:
        tokens = Tokens(ws.records(BaseTokenRecords, SqlTokenRecords))
        secret, info = tokens.create(
            name, role, environments=env or (), expires=lifetime, actor=ws.actor
        )
    if json_out:
        print_json({**info.to_dict(), "secret": secret})
        return
    scope = ", ".join(info.environments) or "all environments"
    expiry = fmt_time(info.expires_at) if info.expires_at is not None else "never"
    out = console()
    out.print(
        f"Created token {info.name} (role {info.role}, {scope}, expires {expiry}).", markup=False
    )
    out.print("Secret (shown once; store it now, it cannot be recovered):", markup=False)
    out.print(secret, markup=False, soft_wrap=True)


@app.command("list")
def list_tokens(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every token with its role, scope, state and times (never a secret)."""
    from conveyor.security import BaseTokenRecords, SqlTokenRecords, Tokens

    with open_workspace() as ws:
        listed = Tokens(ws.records(BaseTokenRecords, SqlTokenRecords)).list()
    now = datetime.now(UTC)
    if json_out:
        print_json([{**t.to_dict(), "state": t.state(now)} for t in listed])
        return
    if not listed:
        console().print("No tokens. Create one with `conveyor tokens create NAME --role ROLE`.")
        return
    table = Table(title=f"Tokens ({len(listed)})")
    for column in ("name", "role", "environments", "state", "created", "expires", "last used"):
        table.add_column(column)
    for token in listed:
        table.add_row(
            token.name,
            str(token.role),
            ", ".join(token.environments) or "all",
            token.state(now),
            fmt_time(token.created_at),
            fmt_time(token.expires_at) if token.expires_at is not None else "never",
            fmt_time(token.last_used_at),
        )
    console().print(table)


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token to revoke.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Revoke a token at once (audited token.revoke); revoking again changes nothing."""
    from conveyor.security import BaseTokenRecords, SqlTokenRecords, Tokens

    with open_workspace() as ws:
        info = Tokens(ws.records(BaseTokenRecords, SqlTokenRecords)).revoke(name, actor=ws.actor)
    if json_out:
        print_json(info.to_dict())
        return
    console().print(f"Revoked token {info.name} (at {fmt_time(info.revoked_at)}).", markup=False)
