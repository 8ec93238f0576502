"""The root Typer application and the top-level error handling."""

from __future__ import annotations

import errno
import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console

from conveyor.cli._output import EXIT_CODES, EXIT_ERROR, EXIT_INTERRUPTED, State
from conveyor.core import redact
from conveyor.errors import ConveyorError

_EXIT_HELP = "\n\n".join(f"{code}: {meaning}" for code, meaning in EXIT_CODES)

# Every command module, in the order of ``conveyor --help``: a name mounts the module's
# ``app`` as that command group; ``None`` means the module adds its commands through
# ``register(app)``. Modules are imported only when the app is built, and a command of a
# group builds only that group, so ``conveyor data add`` does not import the model
# registry, the prediction log or the web UI (and their pandas, pyarrow and alembic).
_MOUNTS: tuple[tuple[str, str | None], ...] = (
    ("_project", None),
    ("_config", "config"),
    ("_data", "data"),
    ("_audit", "audit"),
    ("_keys", "keys"),
    ("_tokens", "tokens"),
    ("_run", None),
    ("_runs", "runs"),
    ("_models", "models"),
    ("_serve", None),
    ("_predict", None),
    ("_build", None),
    ("_server", None),
    ("_ui", None),
    ("_checks", None),
    ("_deploy", None),
    ("_simulate", None),
    ("_agent", None),
    ("_monitor", "monitor"),
    ("_cost", None),
    ("_predictions", "predictions"),
    ("_features", "features"),
    ("_demo", None),
)
_GROUPS = {group: module for module, group in _MOUNTS if group is not None}


def build_app(group: str | None = None) -> typer.Typer:
    """The root Typer application: every command, or only the command group ``group``.

    Args:
        group: A command group name (``"data"``); ``None`` mounts every command.

    Returns:
        A new Typer application.
    """
    root = typer.Typer(
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
    for module_name, name in _MOUNTS:
        if group is not None and name != group:
            continue
        module = importlib.import_module(f"conveyor.cli.{module_name}")
        if name is None:
            module.register(root)
        else:
            root.add_typer(module.app, name=name)
    return root


def __getattr__(name: str) -> typer.Typer:
    # ``app`` (every command) is built on first access and kept.
    if name == "app":
        value = build_app()
        globals()["app"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "app"})


def _group_of(args: list[str]) -> str | None:
    """The command group ``args`` run (``data`` of ``data add x y``), if they run one."""
    return args[0] if args and args[0] in _GROUPS else None


# The Click command of each app built, kept: converting a Typer app is most of the cost of
# an in-process call (the whole app: about 50 ms).
_COMMANDS: dict[str | None, tuple[typer.Typer, Any]] = {}


def _command(group: str | None) -> Any:
    """The Click command of the whole app (``None``) or of one command group, built once."""
    kept = _COMMANDS.get(group)
    typer_app = (globals().get("app") or __getattr__("app")) if group is None else None
    if kept is not None and (typer_app is None or kept[0] is typer_app):
        return kept[1]
    typer_app = typer_app if typer_app is not None else build_app(group)
    command = typer.main.get_command(typer_app)
    _COMMANDS[group] = (typer_app, command)
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script calls ``sys.exit`` on it).

    ``--verbose`` is accepted anywhere on the command line: it shows tracebacks.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args
    args = [a for a in args if a != "--verbose"]
    State.verbose = verbose
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    # The whole app when it was built already (tests patch it) or the command is not one
    # group's (help, top-level commands).
    group = None if "app" in globals() else _group_of(args)
    command = _command(group)
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

    from conveyor.registry import inert

    # Every message passes through redaction (a URL in an error may carry a password) and
    # is made inert: a name from a hostile file or request may hold terminal escapes.
    return escape(inert(redact(text)))


def run() -> None:  # pragma: no cover - console-script shim
    sys.exit(main())
