"""The root Typer application and the top-level error handling."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from rich.console import Console

from conveyor.cli import (
    _agent,
    _audit,
    _checks,
    _config,
    _data,
    _demo,
    _deploy,
    _models,
    _monitor,
    _project,
    _run,
    _runs,
    _serve,
    _simulate,
)
from conveyor.cli._output import EXIT_ERROR, EXIT_INTERRUPTED, State
from conveyor.errors import ConveyorError

app = typer.Typer(
    name="conveyor",
    help=(
        "conveyor: the machine-learning lifecycle as CI/CD.\n\n"
        "Every listing command takes --json; every command takes --verbose (tracebacks). "
        "Exit codes: 0 success, 1 error (one line and a hint on stderr), 2 usage error, "
        "3 verification failed (corruption or tampering), 4 gate REJECT, 5 gate HOLD, "
        "130 interrupted."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
_project.register(app)
app.add_typer(_config.app, name="config")
app.add_typer(_data.app, name="data")
app.add_typer(_audit.app, name="audit")
_run.register(app)
app.add_typer(_runs.app, name="runs")
app.add_typer(_models.app, name="models")
_serve.register(app)
_checks.register(app)
_deploy.register(app)
_simulate.register(app)
_agent.register(app)
app.add_typer(_monitor.app, name="monitor")
_demo.register(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script calls ``sys.exit`` on it).

    ``--verbose`` is accepted anywhere on the command line: it shows tracebacks.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args
    args = [a for a in args if a != "--verbose"]
    State.verbose = verbose
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    command = typer.main.get_command(app)
    try:
        # Standalone mode lets the parser report usage errors (exit 2) and --help itself;
        # every other exception propagates to the handlers below.
        command.main(args=args, prog_name="conveyor", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return EXIT_INTERRUPTED
    except ConveyorError as exc:
        if verbose:
            err.print_exception(show_locals=False)
        err.print(f"[bold red]error:[/] {_escape(str(exc))}")
        if exc.hint:
            err.print(f"[dim]hint:[/] {_escape(exc.hint)}")
        return int(getattr(exc, "exit_code", EXIT_ERROR))
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no crash dump
        if verbose:
            err.print_exception(show_locals=False)
        err.print(f"[bold red]error:[/] unexpected {type(exc).__name__}: {_escape(str(exc))}")
        err.print("[dim]hint:[/] run again with --verbose for the traceback, and report it.")
        return EXIT_ERROR
    return 0


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def run() -> None:  # pragma: no cover - console-script shim
    sys.exit(main())
