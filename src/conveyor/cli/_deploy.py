"""``conveyor deploy``, ``deployments status|history``, ``promote``, ``rollback``, ``pause``,
``resume`` and ``approve``.

Exit codes: 0 done, 1 refused or failed (one line and a hint on stderr: unknown
environment or version, a rollout already in progress, a gate REJECT without
``--force-reason``, nothing to promote or roll back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from conveyor.cli._output import console, fmt_time, open_workspace, print_json
from conveyor.errors import ConfigError

if TYPE_CHECKING:
    from conveyor.deployments import Deployment
    from conveyor.rollout import Controller
    from conveyor.workspace import Workspace

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_ENV = Annotated[str, typer.Option("--env", help="The environment (see conveyor.yaml).")]
_REASON = Annotated[str | None, typer.Option("--reason", help="Why (recorded).")]

deployments_app = typer.Typer(help="Show deployment state and history.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the deployment commands to the root app."""
    app.command("deploy")(deploy)
    app.add_typer(deployments_app, name="deployments")
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("pause")(pause)
    app.command("resume")(resume)
    app.command("approve")(approve)


def deploy(  # noqa: PLR0917 - Typer options are parameters
    ref: Annotated[str, typer.Argument(help="The version to deploy: NAME@VERSION or NAME@ALIAS.")],
    env: _ENV,
    strategy: Annotated[
        str | None,
        typer.Option("--strategy", help="replace, blue-green, canary, shadow or ab."),
    ] = None,
    steps: Annotated[
        str | None, typer.Option("--steps", help="Canary steps in percent, e.g. 5,25,50,100.")
    ] = None,
    force_reason: Annotated[
        str | None,
        typer.Option("--force-reason", help="Deploy despite a gate REJECT; the reason is kept."),
    ] = None,
    json_out: _JSON = False,
) -> None:
    """Deploy a model version to an environment with a rollout strategy."""
    with open_workspace() as ws:
        deployment = _controller(ws).deploy(
            ref, env, strategy=strategy, steps=_steps(steps), force_reason=force_reason
        )
    _show(deployment, json_out)


@deployments_app.command("status")
def status(
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    json_out: _JSON = False,
) -> None:
    """Show the current deployment of each environment."""
    with open_workspace() as ws:
        controller = _controller(ws)
        names = [env] if env else sorted(ws.settings.config.environments)
        found = [(name, controller.status(name)) for name in names]
    if json_out:
        print_json({name: None if d is None else d.to_dict() for name, d in found})
        return
    table = Table("environment", "revision", "strategy", "state", "variants", "updated")
    for name, d in found:
        if d is None:
            table.add_row(name, "-", "-", "never deployed", "-", "-")
            continue
        table.add_row(
            name, str(d.revision), d.strategy, d.state, _variants(d), fmt_time(d.updated_at)
        )
    console().print(table)


@deployments_app.command("history")
def history(
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    json_out: _JSON = False,
) -> None:
    """Show every transition with its actor, time and reason."""
    with open_workspace() as ws:
        controller = _controller(ws)
        names = [env] if env else sorted(ws.settings.config.environments)
        for name in names:
            controller.environment(name)
        transitions = [t for name in names for t in controller.deployments.history(name)]
    if json_out:
        print_json([t.to_dict() for t in transitions])
        return
    table = Table("environment", "rev", "at", "action", "state", "variants", "actor", "reason")
    for t in transitions:
        weights = ", ".join(f"{v.ref} {v.role} {v.weight:g}%" for v in t.variants)
        table.add_row(
            t.environment,
            str(t.revision),
            fmt_time(t.at),
            t.action,
            f"{t.from_state or '-'} -> {t.to_state}",
            weights,
            t.actor,
            t.reason,
        )
    console().print(table)


def promote(env: _ENV, reason: _REASON = None, json_out: _JSON = False) -> None:
    """Promote the rollout in progress: its new version takes all traffic."""
    with open_workspace() as ws:
        deployment = _controller(ws).promote(env, reason=reason or "promoted by hand")
    _show(deployment, json_out)


def rollback(
    env: _ENV,
    to: Annotated[
        int | None, typer.Option("--to", help="Restore this revision (default: last stable).")
    ] = None,
    reason: _REASON = None,
    json_out: _JSON = False,
) -> None:
    """Return to the last stable state (or revision --to) in one step."""
    with open_workspace() as ws:
        deployment = _controller(ws).rollback(
            env, to_revision=to, reason=reason or "rolled back by hand"
        )
    _show(deployment, json_out)


def pause(env: _ENV, reason: _REASON = None, json_out: _JSON = False) -> None:
    """Freeze a progressing rollout at its current weights."""
    with open_workspace() as ws:
        deployment = _controller(ws).pause(env, reason=reason or "paused")
    _show(deployment, json_out)


def resume(env: _ENV, reason: _REASON = None, json_out: _JSON = False) -> None:
    """Let a paused rollout progress again."""
    with open_workspace() as ws:
        deployment = _controller(ws).resume(env, reason=reason or "resumed")
    _show(deployment, json_out)


def approve(env: _ENV, reason: _REASON = None, json_out: _JSON = False) -> None:
    """Approve the deploy waiting in an environment that requires approval."""
    with open_workspace() as ws:
        deployment = _controller(ws).approve(env, reason=reason or "approved")
    _show(deployment, json_out)


def _controller(ws: Workspace) -> Controller:
    from conveyor.rollout import Controller

    # Announces through ws.notifier(), which the workspace flushes when it closes (an
    # undelivered webhook event is recorded as notify.failed).
    return Controller(ws)


def _steps(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigError(
            f"--steps {text!r} is not a comma-separated list of percentages.",
            hint="Pass e.g. --steps 5,25,50,100.",
            steps=text,
        ) from exc


def _variants(deployment: Deployment) -> str:
    return ", ".join(f"{v.ref} {v.role} {v.weight:g}%" for v in deployment.variants)


def _show(deployment: Deployment, json_out: bool) -> None:
    if json_out:
        print_json(deployment.to_dict())
        return
    console().print(
        f"{deployment.environment}: revision {deployment.revision} "
        f"({deployment.strategy}, {deployment.state}) {_variants(deployment)}"
    )
