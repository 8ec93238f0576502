"""``conveyor server``: the team server (control plane) over this project's stores.

Remote workspaces and other clients call it with a URL (``store.server_url``) and a token
(``CONVEYOR_TOKEN``) instead of reaching the database and the artifact store themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from conveyor.cli._output import console, open_workspace


def register(app: typer.Typer) -> None:
    """Attach ``server`` to the root app."""
    app.command("server")(server)


def server(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the records, artifacts, deployments and audit trail of this project (/api/v1),
    and the web UI at / (sign in with a token).

    Every request needs a token but /api/v1/health: create the first one with
    `conveyor tokens create NAME --role admin`. The Host header must be one of
    server.allowed_hosts; a --host other than loopback is refused until that list names
    the host clients reach the server by (put the server behind a TLS proxy: clients
    send tokens over plain http to loopback only). With server.checkpoint_key_file set,
    the audit trail's head is signed every server.checkpoint_interval_s seconds and at
    shutdown. Stop with Ctrl-C or SIGTERM: requests in flight finish first.

    Exit codes: 0 stopped; 1 error (configuration, not a project, bad key file); 6 the
    port is in use.
    """
    from conveyor.api._launch import check_exposure, checkpoint_key
    from conveyor.api._launch import serve as run_server
    from conveyor.serving._launch import check_port

    with open_workspace() as ws:
        check_exposure(host, ws.settings.config.server.allowed_hosts)
        checkpoint_key(ws)  # a bad key file is reported before anything starts
        root = Path(ws.root)
        name = ws.settings.config.project.name
    check_port(host, port)
    shown = f"[{host}]" if ":" in host else host
    console().print(
        f"Control plane of project [bold]{escape(name)}[/] on http://{shown}:{port}/api/v1, "
        f"web UI on http://{shown}:{port}/ (sign in with a token), {workers} worker(s); "
        "Ctrl-C stops.",
    )
    run_server(root, host=host, port=port, workers=workers)
