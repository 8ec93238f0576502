"""``conveyor ui``: the web UI over this project's workspace, on loopback, no sign-in.

For a team, ``conveyor server`` serves the same pages at ``/`` behind sign-in.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer
from rich.markup import escape

from conveyor.cli._output import console, open_workspace
from conveyor.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Attach ``ui`` to the root app."""
    app.command("ui")(ui)


def ui(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8766,
    host: Annotated[
        str, typer.Option("--host", help="Loopback address to listen on (127.0.0.1 or ::1).")
    ] = "127.0.0.1",
) -> None:
    """Browse this project in a web browser: runs, data, models, deployments, monitoring.

    Serves on loopback only and asks for no sign-in (whoever can reach the port acts as
    you; forms still carry CSRF tokens). To share the pages with a team, run
    `conveyor server` (pages at /, sign-in with a token). Stop with Ctrl-C.

    Exit codes: 0 stopped; 1 error (not a project, a host that is not loopback); 6 the
    port is in use.
    """
    import uvicorn

    from conveyor.api._launch import sigterm_stops
    from conveyor.serving._launch import check_port
    from conveyor.ui import create_ui_app

    if not _loopback(host):
        raise ConfigError(
            f"conveyor ui serves loopback only, not host {host!r}: it has no sign-in.",
            hint="Use --host 127.0.0.1, or run `conveyor server` (sign-in with tokens) for a team.",
            host=host,
        )
    check_port(host, port)
    with open_workspace() as ws:
        app = create_ui_app(ws)
        shown = f"[{host}]" if ":" in host else host
        console().print(
            f"Web UI of project [bold]{escape(ws.settings.config.project.name)}[/] on "
            f"http://{shown}:{port}/ ; Ctrl-C stops."
        )
        with sigterm_stops():  # SIGTERM is a normal stop (exit 0), as for conveyor server
            uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
