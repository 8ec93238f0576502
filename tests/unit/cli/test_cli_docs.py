"""docs/cli.md is generated from the CLI itself and must match it (`make docs`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def test_cli_reference_is_current(tmp_path: Path) -> None:
    out = tmp_path / "cli.md"
    subprocess.run(
        [sys.executable, "-m", "typer", "conveyor.cli._app", "utils", "docs", "--name",
         "conveyor", "--title", "CLI reference", "--output", str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert out.read_text() == DOCS.read_text(), "docs/cli.md is stale: run `make docs`"


def test_every_listing_command_offers_json() -> None:
    text = DOCS.read_text()
    for command in (
        "data list",
        "data log",
        "data show",
        "data diff",
        "audit log",
        "features list",
        "features show",
    ):
        section = text.split(f"## `conveyor {command}`", 1)[1].split("\n## ", 1)[0]
        assert "`--json`" in section, command
