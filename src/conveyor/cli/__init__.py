"""The ``conveyor`` command line: one module per command group.

Commands parse their arguments, call the public Python API and render the result with
rich (tables, progress bars) or, with ``--json``, as JSON on stdout. No business logic
lives here. Exit codes: 0 success, 1 a conveyor error (message and hint on stderr),
2 a usage error, 3 a verification found corruption or tampering, 4 a gate decided REJECT,
5 a gate decided HOLD, 130 interrupted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.cli._app import main

if TYPE_CHECKING:
    from typing import Any

    from conveyor.cli._app import app

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    # ``app`` imports every command module: built on first use, not on import.
    if name == "app":
        from conveyor.cli import _app

        return _app.app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
