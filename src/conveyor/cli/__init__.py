"""The ``conveyor`` command line: one module per command group.

Commands parse their arguments, call the public Python API and render the result with
rich (tables, progress bars) or, with ``--json``, as JSON on stdout. No business logic
lives here. Exit codes: 0 success, 1 a conveyor error (message and hint on stderr),
2 a usage error, 3 a verification found corruption or tampering, 4 a gate decided REJECT,
5 a gate decided HOLD, 130 interrupted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from conveyor.cli._app import app, main

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    # ``app`` imports every command module and ``main`` Typer, rich and pydantic: both
    # are loaded on first use, so the quick answers of ``_quick_add`` start without them.
    if name in ("app", "main"):
        from conveyor.cli import _app

        return getattr(_app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
