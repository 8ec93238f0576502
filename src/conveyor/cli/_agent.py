"""``conveyor agent`` (run the retraining agent, show its status) and ``conveyor events``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from conveyor.cli._output import console, open_workspace, print_json

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    """Attach the ``agent`` group (run, ``status``) and ``events`` to the root app."""
    agent_app = typer.Typer(
        help="Evaluate triggers; retrain, gate and deploy when one fires.",
        invoke_without_command=True,
        no_args_is_help=False,
    )
    agent_app.callback(invoke_without_command=True)(agent)
    agent_app.command("status")(status)
    app.add_typer(agent_app, name="agent")
    app.command("events")(events)


def agent(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Evaluate once, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between evaluations.", min=0.1)
    ] = 30.0,
    json_out: Annotated[
        bool, typer.Option("--json", help="With --once: print the decision as JSON.")
    ] = False,
) -> None:
    """Run the agent: only the holder of the store's lease acts; Ctrl-C stops it.

    Each step (trigger fired, retraining, registered, gates, deploying, outcome) is
    reported on stderr as it happens: rich lines on a terminal, plain lines otherwise, so
    stdout keeps only the result (JSON with ``--once --json``).
    """
    if ctx.invoked_subcommand is not None:
        return
    if json_out and not once:
        raise typer.BadParameter("--json needs --once (a running agent prints no result).")
    from conveyor.automation import Agent

    with open_workspace(".") as ws:
        worker = Agent(ws, progress=_progress_lines())
        if once:
            try:
                tick = worker.run_once()
            finally:
                # One evaluation and done: the next `agent --once` need not wait for expiry.
                worker.lease.release()
            if json_out:
                print_json(tick.to_dict())
                return
            if not tick.acted:
                console().print(f"standby: the lease is held by {tick.holder}")
            for name in tick.fired:
                console().print(f"fired: {name}")
            for outcome in tick.outcomes:
                console().print(f"{outcome.details.get('result')}: {outcome.reason}")
            for name, why in tick.skipped.items():
                console().print(f"skipped {name}: {why}")
            return
        stop = threading.Event()
        try:
            worker.run_forever(interval_s=interval, stop=stop)
        except KeyboardInterrupt:
            stop.set()


def _progress_lines() -> Callable[[str], None]:
    """One line per agent step on stderr: rich on a terminal, plain text otherwise."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    rich = err.is_terminal

    def say(line: str) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        if rich:
            err.print(f"[dim]{stamp}[/dim] [bold]agent[/bold] {escape(line)}", markup=True)
        else:
            err.print(f"{stamp} agent {line}", markup=False)

    return say


def status(json_out: _JSON = False) -> None:
    """Show the lease holder and every trigger's state."""
    from conveyor.automation import Agent

    with open_workspace(".") as ws:
        current = Agent(ws).status(limit=0)
    if json_out:
        print_json(current.to_dict())
        return
    lease = current.lease
    console().print(
        "lease: " + ("free" if lease is None else f"{lease.holder} until {lease.expires_at}")
    )
    for state in current.triggers:
        flag = "running" if state.running else "idle"
        console().print(
            f"{state.trigger} ({state.model}): {flag}, last fired {state.last_fired_at}, "
            f"cooldown until {state.cooldown_until}"
        )


def events(
    json_out: _JSON = False,
    limit: Annotated[int, typer.Option("--limit", help="Newest N events.", min=1)] = 50,
) -> None:
    """Show the agent's decisions: trigger -> run -> model version -> deployment -> outcome."""
    from conveyor.automation import Agent

    with open_workspace(".") as ws:
        found = Agent(ws).events(limit=limit)
    if json_out:
        print_json([event.to_dict() for event in found])
        return
    for event in found:
        parent = "" if event.parent_id is None else f" <- {event.parent_id}"
        console().print(f"{event.id}{parent} {event.kind:8} {event.trigger}: {event.reason}")
