"""``python -m conveyor`` runs the command line (an unchanged ``data add`` is answered
before the command line's modules load)."""

from __future__ import annotations

from conveyor.cli._quick_add import run

if __name__ == "__main__":
    run()
