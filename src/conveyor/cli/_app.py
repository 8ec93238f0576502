"""The root Typer application and the top-level error handling."""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence

import typer
from rich.console import Console

from conveyor.cli import (
    _agent,
    _audit,
    _build,
    _checks,
    _config,
    _cost,
    _data,
    _demo,
    _deploy,
    _features,
    _keys,
    _models,
    _monitor,
    _predictions,
    _project,
    _run,
    _runs,
    _serve,
    _server,
    _simulate,
    _tokens,
    _ui,
)
from conveyor.cli._output import EXIT_CODES, EXIT_ERROR, EXIT_INTERRUPTED, State
from conveyor.core import redact
from conveyor.errors import ConveyorError

_EXIT_HELP = "\n\n".join(f"{code}: {meaning}" for code, meaning in EXIT_CODES)

app = typer.Typer(
    name="conveyor",
    help=(
        "conveyor: the machine-learning lifecycle as CI/CD.\n\n"
        "Every listing command takes --json; every command takes --verbose (tracebacks). "
        "Commands that work on a project look for conveyor.yaml in the current folder "
        "and its parents.\n\n"
        f"Exit codes:\n\n{_EXIT_HELP}"
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
app.add_typer(_keys.app, name="keys")
app.add_typer(_tokens.app, name="tokens")
_run.register(app)
app.add_typer(_runs.app, name="runs")
app.add_typer(_models.app, name="models")
_serve.register(app)
_build.register(app)
_server.register(app)
_ui.register(app)
_checks.register(app)
_deploy.register(app)
_simulate.register(app)
_agent.register(app)
app.add_typer(_monitor.app, name="monitor")
_cost.register(app)
app.add_typer(_predictions.app, name="predictions")
app.add_typer(_features.app, name="features")
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
    except OSError as exc:
        if verbose:
            err.print_exception(show_locals=False)
        message, hint = _os_error(exc)
        err.print(f"[bold red]error:[/] {_escape(message)}")
        err.print(f"[dim]hint:[/] {_escape(hint)}")
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no crash dump
        if verbose:
            err.print_exception(show_locals=False)
        err.print(f"[bold red]error:[/] unexpected {type(exc).__name__}: {_escape(str(exc))}")
        err.print("[dim]hint:[/] run again with --verbose for the traceback, and report it.")
        return EXIT_ERROR
    return 0


def _os_error(exc: OSError) -> tuple[str, str]:
    """What an operating-system failure means for the user, and what to do about it."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return (
            f"No space left on the device{where}: the command could not write its data.",
            "Free disk space (or run `conveyor gc` to drop unreferenced artifacts), then "
            "retry; a half-written object is never recorded.",
        )
    if exc.errno == errno.EROFS:
        return (
            f"The file system is read-only{where}: the command could not write its data.",
            "Point store.metadata_url / store.artifact_url at a writable location, or "
            "mount the file system read-write.",
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"Permission denied{where}: {exc.strerror or exc}.",
            "Check the permissions of the project's .conveyor/ folder and the stores it points at.",
        )
    return (
        f"{type(exc).__name__}: {exc.strerror or exc}{where}",
        "Run again with --verbose for the traceback; if the cause is not clear from it, report it.",
    )


def _escape(text: str) -> str:
    from rich.markup import escape

    # Every message passes through redaction: a URL in an error may carry a password.
    return escape(redact(text))


def run() -> None:  # pragma: no cover - console-script shim
    sys.exit(main())
