"""The deployments pages of the web UI."""

from __future__ import annotations

from conveyor.ui._core import UI


def add_pages(ui: UI) -> None:
    """Add the deployments pages to ``ui``."""
